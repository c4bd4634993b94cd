//! The cluster as DNS sees it: Services, EndpointSlices and Namespaces from reflectors, indexed
//! by what the records are looked up by (namespace, then name; reverse by IP). Updated in place
//! under a lock, one object at a time; every change bumps a generation so that the server drops
//! the answers it has encoded from older data.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::Name;
use k8s_openapi::api::core::v1::Service as ServiceObject;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::serde::de::DeserializeOwned;
use serde_json::Value;

use ferry_runtime::ReflectorEvent;

use crate::config::DnsConfig;
use crate::error::Error;

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A collection the cache is fed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Services,
    EndpointSlices,
    Namespaces,
}

impl Watched {
    fn position(self) -> usize {
        match self {
            Watched::Services => 0,
            Watched::EndpointSlices => 1,
            Watched::Namespaces => 2,
        }
    }
}

/// The cluster's DNS data: shared by the server's tasks (readers) and the reflector loop (the
/// only writer).
pub struct Cache {
    zone: Zone,
    index: RwLock<Index>,
    generation: AtomicU64,
}

impl Cache {
    /// An empty cache for the cluster domain of `config`; it answers SERVFAIL instead of NXDOMAIN
    /// until every [`Watched`] collection was relisted once.
    pub fn new(config: &DnsConfig) -> Result<Cache, Error> {
        Ok(Cache {
            zone: Zone::new(&config.zone, config.nameserver)?,
            index: RwLock::new(Index::default()),
            generation: AtomicU64::new(0),
        })
    }

    /// Applies one reflector event of `what`.
    pub fn apply(&self, what: Watched, event: ReflectorEvent) {
        // Objects are decoded before the lock is taken: a relist of thousands of Services must
        // not hold up the queries waiting to read.
        let change = match event {
            ReflectorEvent::Relisted(items) => Change::Relisted(
                items
                    .into_iter()
                    .filter_map(|item| Decoded::new(what, item))
                    .collect(),
            ),
            ReflectorEvent::Applied(object) => match Decoded::new(what, object) {
                Some(decoded) => Change::Applied(decoded),
                None => return,
            },
            ReflectorEvent::Deleted(object) => match object_key(what, &object) {
                Some(key) => Change::Deleted(key),
                None => return,
            },
        };
        let mut index = self.write();
        match change {
            Change::Relisted(items) => index.relist(what, items),
            Change::Applied(decoded) => index.upsert(decoded),
            Change::Deleted((namespace, name)) => index.delete(what, &namespace, &name),
        }
        index.serial = unix_seconds();
        // Invariant: the generation moves after the change is in place, under the write lock,
        // so an answer encoded under an older generation is never kept as current.
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn zone(&self) -> &Zone {
        &self.zone
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Index> {
        // A panic while applying an event leaves a consistent-enough index (each map is
        // updated whole), so a poisoned lock is used as it is.
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The cluster domain and the fixed facts of its zone.
pub(crate) struct Zone {
    /// Lowercase, fully qualified.
    pub(crate) name: Name,
    /// What `ns.dns.<zone>` resolves to.
    pub(crate) nameserver: Option<IpAddr>,
}

impl Zone {
    fn new(zone: &str, nameserver: Option<IpAddr>) -> Result<Zone, Error> {
        let mut name = Name::from_ascii(zone).map_err(|source| Error::Zone {
            zone: zone.to_string(),
            source,
        })?;
        name.set_fqdn(true);
        Ok(Zone {
            name: name.to_lowercase(),
            nameserver,
        })
    }
}

/// The indexed objects. Kubernetes names are lowercase DNS labels, so the keys are compared
/// with lowercased query labels as they are.
#[derive(Default)]
pub(crate) struct Index {
    pub(crate) namespaces: HashSet<String>,
    /// namespace -> name -> Service.
    pub(crate) services: HashMap<String, HashMap<String, Service>>,
    /// namespace -> slice name -> EndpointSlice.
    slices: HashMap<String, HashMap<String, Slice>>,
    /// namespace -> service name -> names of its slices.
    slices_of: HashMap<String, HashMap<String, BTreeSet<String>>>,
    /// cluster IP -> (namespace, name) of the Services holding it.
    by_cluster_ip: HashMap<IpAddr, BTreeSet<(String, String)>>,
    /// endpoint IP -> (namespace, slice name) of the slices listing it.
    by_endpoint_ip: HashMap<IpAddr, BTreeSet<(String, String)>>,
    /// Which collections were relisted at least once.
    relisted: [bool; 3],
    /// The SOA serial: when the data last changed, in Unix seconds.
    pub(crate) serial: u32,
}

/// A Service as DNS needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Service {
    pub(crate) kind: ServiceKind,
    /// Never empty: a Service without ports has one unnamed port without a number, so that
    /// name lookups still find it (as CoreDNS does).
    pub(crate) ports: Vec<Port>,
    pub(crate) publish_not_ready_addresses: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ServiceKind {
    /// A virtual IP per family (`spec.clusterIPs`).
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: the endpoints' addresses are the answers.
    Headless,
    /// `type: ExternalName`; `None` when the external name is an IP address or not a domain
    /// name, which gets no record (as in CoreDNS).
    ExternalName(Option<Name>),
}

/// A port of a Service or an EndpointSlice.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Port {
    pub(crate) name: String,
    /// Lowercase (`tcp`), as it appears in SRV names.
    pub(crate) protocol: String,
    /// `None` for the placeholder port of an object without ports.
    pub(crate) number: Option<u16>,
}

impl Port {
    fn placeholder() -> Vec<Port> {
        vec![Port {
            name: String::new(),
            protocol: String::new(),
            number: None,
        }]
    }
}

/// An EndpointSlice as DNS needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slice {
    pub(crate) service: String,
    /// Never empty, as for [`Service::ports`].
    pub(crate) ports: Vec<Port>,
    /// One per address.
    pub(crate) endpoints: Vec<Endpoint>,
}

/// One address of an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Endpoint {
    pub(crate) address: IpAddr,
    /// The endpoint's hostname, else a label made from the address (`10-244-1-5`), as CoreDNS
    /// names endpoints.
    pub(crate) hostname: String,
    pub(crate) ready: bool,
}

impl Index {
    /// Whether every collection was listed: before that a missing name may just not be known
    /// yet, so it is answered with SERVFAIL rather than NXDOMAIN (as CoreDNS does).
    pub(crate) fn synced(&self) -> bool {
        self.relisted.iter().all(|listed| *listed)
    }

    pub(crate) fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services.get(namespace)?.get(name)
    }

    /// The addresses of a Service's endpoints that DNS publishes: ready ones, or all with
    /// `publishNotReadyAddresses`; with the ports of their slice.
    pub(crate) fn endpoints<'a>(
        &'a self,
        namespace: &str,
        service: &'a Service,
        name: &str,
    ) -> impl Iterator<Item = (&'a Endpoint, &'a [Port])> + 'a {
        let slices = self.slices.get(namespace);
        self.slices_of
            .get(namespace)
            .and_then(|by_service| by_service.get(name))
            .into_iter()
            .flatten()
            .filter_map(move |slice| slices?.get(slice))
            .flat_map(move |slice| {
                slice
                    .endpoints
                    .iter()
                    .filter(move |e| e.ready || service.publish_not_ready_addresses)
                    .map(move |e| (e, slice.ports.as_slice()))
            })
    }

    /// The first Service (by namespace and name) whose cluster IP is `ip`.
    pub(crate) fn service_by_cluster_ip(&self, ip: IpAddr) -> Option<(&str, &str)> {
        let (namespace, name) = self.by_cluster_ip.get(&ip)?.first()?;
        Some((namespace, name))
    }

    /// Every published endpoint address equal to `ip`: (namespace, service, hostname).
    pub(crate) fn endpoints_by_ip(&self, ip: IpAddr) -> Vec<(&str, &str, &str)> {
        let mut out = Vec::new();
        for (namespace, slice_name) in self.by_endpoint_ip.get(&ip).into_iter().flatten() {
            let Some(slice) = self.slices.get(namespace).and_then(|s| s.get(slice_name)) else {
                continue;
            };
            let publish_all = self
                .service(namespace, &slice.service)
                .is_some_and(|s| s.publish_not_ready_addresses);
            for endpoint in &slice.endpoints {
                if endpoint.address == ip && (endpoint.ready || publish_all) {
                    out.push((
                        namespace.as_str(),
                        slice.service.as_str(),
                        endpoint.hostname.as_str(),
                    ));
                }
            }
        }
        out
    }

    fn relist(&mut self, what: Watched, items: Vec<Decoded>) {
        match what {
            Watched::Services => {
                self.services.clear();
                self.by_cluster_ip.clear();
            }
            Watched::EndpointSlices => {
                self.slices.clear();
                self.slices_of.clear();
                self.by_endpoint_ip.clear();
            }
            Watched::Namespaces => self.namespaces.clear(),
        }
        for item in items {
            self.upsert(item);
        }
        self.relisted[what.position()] = true;
    }

    fn upsert(&mut self, decoded: Decoded) {
        match decoded {
            Decoded::Namespace(name) => {
                self.namespaces.insert(name);
            }
            Decoded::Service {
                namespace,
                name,
                service,
            } => {
                self.remove_service(&namespace, &name);
                if let Some(service) = service {
                    self.insert_service(namespace, name, service);
                }
            }
            Decoded::Slice {
                namespace,
                name,
                slice,
            } => {
                self.remove_slice(&namespace, &name);
                if let Some(slice) = slice {
                    self.insert_slice(namespace, name, slice);
                }
            }
        }
    }

    fn delete(&mut self, what: Watched, namespace: &str, name: &str) {
        match what {
            Watched::Namespaces => {
                self.namespaces.remove(name);
            }
            Watched::Services => self.remove_service(namespace, name),
            Watched::EndpointSlices => self.remove_slice(namespace, name),
        }
    }

    fn insert_service(&mut self, namespace: String, name: String, service: Service) {
        if let ServiceKind::ClusterIp(ips) = &service.kind {
            for ip in ips {
                self.by_cluster_ip
                    .entry(*ip)
                    .or_default()
                    .insert((namespace.clone(), name.clone()));
            }
        }
        self.services
            .entry(namespace)
            .or_default()
            .insert(name, service);
    }

    fn remove_service(&mut self, namespace: &str, name: &str) {
        let Some(by_name) = self.services.get_mut(namespace) else {
            return;
        };
        let Some(old) = by_name.remove(name) else {
            return;
        };
        if by_name.is_empty() {
            self.services.remove(namespace);
        }
        if let ServiceKind::ClusterIp(ips) = old.kind {
            let key = (namespace.to_string(), name.to_string());
            for ip in ips {
                remove_from(&mut self.by_cluster_ip, ip, &key);
            }
        }
    }

    fn insert_slice(&mut self, namespace: String, name: String, slice: Slice) {
        let key = (namespace.clone(), name.clone());
        for endpoint in &slice.endpoints {
            self.by_endpoint_ip
                .entry(endpoint.address)
                .or_default()
                .insert(key.clone());
        }
        self.slices_of
            .entry(namespace.clone())
            .or_default()
            .entry(slice.service.clone())
            .or_default()
            .insert(name.clone());
        self.slices
            .entry(namespace)
            .or_default()
            .insert(name, slice);
    }

    fn remove_slice(&mut self, namespace: &str, name: &str) {
        let Some(by_name) = self.slices.get_mut(namespace) else {
            return;
        };
        let Some(old) = by_name.remove(name) else {
            return;
        };
        if by_name.is_empty() {
            self.slices.remove(namespace);
        }
        let key = (namespace.to_string(), name.to_string());
        for endpoint in &old.endpoints {
            remove_from(&mut self.by_endpoint_ip, endpoint.address, &key);
        }
        if let Some(by_service) = self.slices_of.get_mut(namespace) {
            if let Some(names) = by_service.get_mut(&old.service) {
                names.remove(name);
                if names.is_empty() {
                    by_service.remove(&old.service);
                }
            }
            if by_service.is_empty() {
                self.slices_of.remove(namespace);
            }
        }
    }
}

fn remove_from(
    index: &mut HashMap<IpAddr, BTreeSet<(String, String)>>,
    ip: IpAddr,
    key: &(String, String),
) {
    if let Some(keys) = index.get_mut(&ip) {
        keys.remove(key);
        if keys.is_empty() {
            index.remove(&ip);
        }
    }
}

/// (namespace, name) of an object; namespaces have no namespace (empty).
/// One reflector event, decoded (outside the cache's lock).
enum Change {
    Relisted(Vec<Decoded>),
    Applied(Decoded),
    Deleted((String, String)),
}

/// An object of a watched collection as the index keeps it; `None` for one it cannot use
/// (which then replaces, i.e. removes, an older version of it).
enum Decoded {
    Namespace(String),
    Service {
        namespace: String,
        name: String,
        service: Option<Service>,
    },
    Slice {
        namespace: String,
        name: String,
        slice: Option<Slice>,
    },
}

impl Decoded {
    fn new(what: Watched, object: Value) -> Option<Decoded> {
        let (namespace, name) = object_key(what, &object)?;
        Some(match what {
            Watched::Namespaces => Decoded::Namespace(name),
            Watched::Services => Decoded::Service {
                namespace,
                name,
                service: decode_service(object),
            },
            Watched::EndpointSlices => Decoded::Slice {
                namespace,
                name,
                slice: decode_slice(object),
            },
        })
    }
}

fn object_key(what: Watched, object: &Value) -> Option<(String, String)> {
    let name = object.pointer("/metadata/name")?.as_str()?.to_string();
    let namespace = match what {
        Watched::Namespaces => String::new(),
        _ => object.pointer("/metadata/namespace")?.as_str()?.to_string(),
    };
    Some((namespace, name))
}

/// The DNS view of a Service; `None` (logged) for one that does not decode.
fn decode_service(object: Value) -> Option<Service> {
    let service: ServiceObject = decode(object, "services")?;
    let spec = service.spec.unwrap_or_default();
    let kind = if spec.type_.as_deref() == Some("ExternalName") {
        ServiceKind::ExternalName(spec.external_name.as_deref().and_then(external_name))
    } else if spec.cluster_ip.as_deref() == Some("None") {
        ServiceKind::Headless
    } else {
        let texts = match spec.cluster_ips {
            Some(ips) if !ips.is_empty() => ips,
            _ => spec.cluster_ip.into_iter().collect(),
        };
        ServiceKind::ClusterIp(texts.iter().filter_map(|ip| ip.parse().ok()).collect())
    };
    let mut ports: Vec<Port> = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| Port {
            name: p.name.unwrap_or_default(),
            protocol: protocol(p.protocol),
            number: u16::try_from(p.port).ok(),
        })
        .collect();
    if ports.is_empty() {
        ports = Port::placeholder();
    }
    Some(Service {
        kind,
        ports,
        publish_not_ready_addresses: spec.publish_not_ready_addresses.unwrap_or(false),
    })
}

/// The CNAME target of an ExternalName Service: a domain name that is not an IP address.
fn external_name(text: &str) -> Option<Name> {
    if text.parse::<IpAddr>().is_ok() {
        return None;
    }
    let mut name = Name::from_ascii(text).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// The DNS view of an EndpointSlice; `None` for one without the Service label or with FQDN
/// addresses, which DNS cannot use.
fn decode_slice(object: Value) -> Option<Slice> {
    let slice: EndpointSlice = decode(object, "endpointslices")?;
    let service = slice.metadata.labels?.remove(SERVICE_NAME_LABEL)?;
    if slice.address_type == "FQDN" {
        return None;
    }
    let mut ports: Vec<Port> = slice
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| Port {
            name: p.name.unwrap_or_default(),
            protocol: protocol(p.protocol),
            number: p.port.and_then(|n| u16::try_from(n).ok()),
        })
        .collect();
    if ports.is_empty() {
        ports = Port::placeholder();
    }
    let mut endpoints = Vec::new();
    for endpoint in slice.endpoints {
        // Per the API, an unknown readiness counts as ready.
        let ready = endpoint
            .conditions
            .as_ref()
            .and_then(|c| c.ready)
            .unwrap_or(true);
        for text in &endpoint.addresses {
            let Ok(address) = text.parse::<IpAddr>() else {
                continue;
            };
            let hostname = match &endpoint.hostname {
                Some(hostname) if !hostname.is_empty() => hostname.to_ascii_lowercase(),
                _ => address_label(address),
            };
            endpoints.push(Endpoint {
                address,
                hostname,
                ready,
            });
        }
    }
    Some(Slice {
        service,
        ports,
        endpoints,
    })
}

/// CoreDNS's name for an endpoint without a hostname: the address with `.`/`:` turned into
/// `-` (and a trailing `-` of an IPv6 address closed with `0`).
pub(crate) fn address_label(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => {
            let mut label = v6.to_string().replace(':', "-");
            if label.ends_with('-') {
                label.push('0');
            }
            label
        }
    }
}

/// A port protocol as it appears in SRV names; the API's default is TCP.
fn protocol(protocol: Option<String>) -> String {
    protocol
        .map(|p| p.to_ascii_lowercase())
        .unwrap_or_else(|| "tcp".to_string())
}

fn decode<T: DeserializeOwned>(object: Value, resource: &'static str) -> Option<T> {
    match serde_json::from_value(object) {
        Ok(object) => Some(object),
        Err(e) => {
            tracing::warn!(resource, error = %e, "skipping an object that does not decode");
            None
        }
    }
}

fn unix_seconds() -> u32 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // SOA serials are 32-bit; Unix seconds fit until 2106, and wrap as serial arithmetic allows.
    (seconds & u64::from(u32::MAX)) as u32
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// A synced cache for `cluster.local` holding `objects` (`kind` decides the collection).
    pub(crate) fn cache_with(objects: Vec<Value>) -> Cache {
        let config = DnsConfig {
            nameserver: Some("10.96.0.10".parse().unwrap()),
            ..DnsConfig::default()
        };
        let cache = Cache::new(&config).unwrap();
        for what in [
            Watched::Services,
            Watched::EndpointSlices,
            Watched::Namespaces,
        ] {
            let kind = match what {
                Watched::Services => "Service",
                Watched::EndpointSlices => "EndpointSlice",
                Watched::Namespaces => "Namespace",
            };
            let items = objects
                .iter()
                .filter(|o| o["kind"] == kind)
                .cloned()
                .collect();
            cache.apply(what, ReflectorEvent::Relisted(items));
        }
        cache
    }

    fn service(ns: &str, name: &str, ip: &str) -> Value {
        json!({"kind": "Service", "metadata": {"namespace": ns, "name": name},
               "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
    }

    fn slice(ns: &str, name: &str, service: &str, ips: &[&str]) -> Value {
        let endpoints: Vec<Value> = ips
            .iter()
            .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
            .collect();
        json!({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
               "metadata": {"namespace": ns, "name": name, "labels": {"kubernetes.io/service-name": service}},
               "addressType": "IPv4", "endpoints": endpoints, "ports": [{"name": "http", "port": 8080}]})
    }

    #[test]
    fn reverse_indexes_follow_updates_and_deletes() {
        let cache = cache_with(vec![
            service("default", "a", "10.96.0.20"),
            slice("default", "a-1", "a", &["10.244.1.5"]),
        ]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        {
            let index = cache.read();
            assert_eq!(
                index.service_by_cluster_ip(ip("10.96.0.20")),
                Some(("default", "a"))
            );
            assert_eq!(
                index.endpoints_by_ip(ip("10.244.1.5")),
                vec![("default", "a", "10-244-1-5")]
            );
        }
        let generation = cache.generation();
        cache.apply(
            Watched::Services,
            ReflectorEvent::Applied(service("default", "a", "10.96.0.21")),
        );
        cache.apply(
            Watched::EndpointSlices,
            ReflectorEvent::Applied(slice("default", "a-1", "a", &["10.244.1.6"])),
        );
        assert!(cache.generation() > generation);
        {
            let index = cache.read();
            assert_eq!(index.service_by_cluster_ip(ip("10.96.0.20")), None);
            assert!(index.endpoints_by_ip(ip("10.244.1.5")).is_empty());
            assert_eq!(index.endpoints_by_ip(ip("10.244.1.6")).len(), 1);
        }
        cache.apply(
            Watched::EndpointSlices,
            ReflectorEvent::Deleted(slice("default", "a-1", "a", &[])),
        );
        cache.apply(
            Watched::Services,
            ReflectorEvent::Deleted(service("default", "a", "10.96.0.21")),
        );
        let index = cache.read();
        assert!(index.services.is_empty());
        assert!(index.slices.is_empty() && index.slices_of.is_empty());
        assert!(index.by_cluster_ip.is_empty() && index.by_endpoint_ip.is_empty());
    }

    #[test]
    fn not_synced_until_every_collection_was_listed() {
        let cache = Cache::new(&DnsConfig::default()).unwrap();
        cache.apply(Watched::Services, ReflectorEvent::Relisted(vec![]));
        cache.apply(Watched::EndpointSlices, ReflectorEvent::Relisted(vec![]));
        assert!(!cache.read().synced());
        cache.apply(Watched::Namespaces, ReflectorEvent::Relisted(vec![]));
        assert!(cache.read().synced());
    }

    #[test]
    fn endpoint_names_from_addresses() {
        assert_eq!(address_label("10.1.2.3".parse().unwrap()), "10-1-2-3");
        assert_eq!(address_label("fd00::1".parse().unwrap()), "fd00--1");
        assert_eq!(address_label("fd00:1::".parse().unwrap()), "fd00-1--0");
    }
}
