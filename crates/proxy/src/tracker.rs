//! The change tracker: Services and EndpointSlices in, the [`ProxyModel`] and the service ports
//! that changed since the last sync out. kube-proxy's `ServiceChangeTracker`,
//! `EndpointsChangeTracker` and `EndpointSliceCache` folded into one pure structure: no I/O, no
//! clock, so every rule is table-tested.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::config::ProxyConfig;
use crate::endpoint_slice::{merged_endpoints, slice_info, SliceInfo};
use crate::meta::NamespacedName;
use crate::model::{ChangedServices, ProxyModel, ServicePort, ServicePortName, TransportProtocol};
use crate::service::service_ports;

/// Keeps the current model and what changed in it since [`ChangeTracker::take_changes`].
///
/// Invariant: `model` holds exactly the service ports of the proxied `services`, each with the
/// endpoints merged from `slices`; `pending` names every port whose value differs from the one it
/// had at the last take, with that value.
#[derive(Debug)]
pub struct ChangeTracker {
    config: ProxyConfig,
    /// The service ports of every proxied Service, without endpoints.
    services: BTreeMap<NamespacedName, Vec<(ServicePortName, ServicePort)>>,
    /// Every usable EndpointSlice by its Service, then by slice name; kept whether or not the
    /// Service is known, so that a slice that arrives first is used once it appears.
    slices: BTreeMap<NamespacedName, BTreeMap<String, SliceInfo>>,
    /// The Service each slice (by namespace and slice name) was filed under, so that a delete
    /// or a changed `kubernetes.io/service-name` label finds the old entry.
    slice_owners: BTreeMap<NamespacedName, NamespacedName>,
    model: ProxyModel,
    pending: BTreeMap<ServicePortName, Option<ServicePort>>,
    full: bool,
}

impl ChangeTracker {
    /// An empty tracker. Its first changes are `full`: the dataplane's state is unknown.
    pub fn new(config: ProxyConfig) -> Self {
        ChangeTracker {
            config,
            services: BTreeMap::new(),
            slices: BTreeMap::new(),
            slice_owners: BTreeMap::new(),
            model: ProxyModel::default(),
            pending: BTreeMap::new(),
            full: true,
        }
    }

    /// The desired state as of the last call.
    pub fn model(&self) -> &ProxyModel {
        &self.model
    }

    /// Whether a sync has anything to do.
    pub fn has_changes(&self) -> bool {
        self.full || !self.pending.is_empty()
    }

    /// The service ports changed since the last take (and whether a full sync is due), then
    /// starts afresh.
    pub fn take_changes(&mut self) -> ChangedServices {
        ChangedServices {
            names: std::mem::take(&mut self.pending).into_keys().collect(),
            full: std::mem::take(&mut self.full),
        }
    }

    /// Asks for a full sync next time, e.g. after the dataplane failed one.
    pub fn request_full_sync(&mut self) {
        self.full = true;
    }

    /// A Service was added or modified.
    pub fn upsert_service(&mut self, service: &Service) {
        let Some(name) = NamespacedName::of(&service.metadata) else {
            tracing::warn!("ignoring a Service without namespace or name");
            return;
        };
        self.file_service(name.clone(), service);
        self.refresh(&name);
    }

    /// A Service was deleted.
    pub fn delete_service(&mut self, service: &Service) {
        if let Some(name) = NamespacedName::of(&service.metadata) {
            self.services.remove(&name);
            self.refresh(&name);
        }
    }

    /// Replaces every Service (after a list); the next changes are `full`.
    pub fn replace_services(&mut self, services: &[Service]) {
        let mut touched: BTreeSet<NamespacedName> =
            std::mem::take(&mut self.services).into_keys().collect();
        for service in services {
            if let Some(name) = NamespacedName::of(&service.metadata) {
                self.file_service(name.clone(), service);
                touched.insert(name);
            }
        }
        self.refresh_all(&touched);
    }

    /// An EndpointSlice was added or modified.
    pub fn upsert_endpoint_slice(&mut self, slice: &EndpointSlice) {
        let Some(key) = NamespacedName::of(&slice.metadata) else {
            tracing::warn!("ignoring an EndpointSlice without namespace or name");
            return;
        };
        let mut touched = BTreeSet::new();
        touched.extend(self.unfile_slice(&key));
        touched.extend(self.file_slice(key, slice));
        for service in &touched {
            self.refresh(service);
        }
    }

    /// An EndpointSlice was deleted.
    pub fn delete_endpoint_slice(&mut self, slice: &EndpointSlice) {
        let Some(key) = NamespacedName::of(&slice.metadata) else {
            return;
        };
        if let Some(service) = self.unfile_slice(&key) {
            self.refresh(&service);
        }
    }

    /// Replaces every EndpointSlice (after a list); the next changes are `full`.
    pub fn replace_endpoint_slices(&mut self, slices: &[EndpointSlice]) {
        let mut touched: BTreeSet<NamespacedName> =
            std::mem::take(&mut self.slices).into_keys().collect();
        self.slice_owners.clear();
        for slice in slices {
            if let Some(key) = NamespacedName::of(&slice.metadata) {
                touched.extend(self.file_slice(key, slice));
            }
        }
        self.refresh_all(&touched);
    }

    /// Records the service ports of `service` (or that it has none the proxy programs).
    fn file_service(&mut self, name: NamespacedName, service: &Service) {
        match service_ports(service, &name, &self.config) {
            Ok(ports) => {
                self.services.insert(name, ports);
            }
            Err(skip) => {
                tracing::debug!(namespace = %name.namespace, name = %name.name, reason = ?skip, "not proxying service");
                self.services.remove(&name);
            }
        }
    }

    /// Records a slice under its Service; returns that Service, or `None` for a slice the proxy
    /// does not use.
    fn file_slice(&mut self, key: NamespacedName, slice: &EndpointSlice) -> Option<NamespacedName> {
        let info = match slice_info(slice, &self.config.node_name) {
            Ok(info) => info,
            Err(skip) => {
                tracing::debug!(namespace = %key.namespace, name = %key.name, reason = ?skip, "ignoring EndpointSlice");
                return None;
            }
        };
        let service = info.service.clone();
        self.slices
            .entry(service.clone())
            .or_default()
            .insert(key.name.clone(), info);
        self.slice_owners.insert(key, service.clone());
        Some(service)
    }

    /// Forgets a slice; returns the Service it was filed under.
    fn unfile_slice(&mut self, key: &NamespacedName) -> Option<NamespacedName> {
        let service = self.slice_owners.remove(key)?;
        if let Entry::Occupied(mut slices) = self.slices.entry(service.clone()) {
            slices.get_mut().remove(&key.name);
            if slices.get().is_empty() {
                slices.remove();
            }
        }
        Some(service)
    }

    fn refresh_all(&mut self, services: &BTreeSet<NamespacedName>) {
        for service in services {
            self.refresh(service);
        }
        self.full = true;
    }

    /// Brings the model's entries for one Service to what its ports and slices say now.
    fn refresh(&mut self, service: &NamespacedName) {
        let desired = self.desired_ports(service);
        let gone: Vec<ServicePortName> = self
            .model_port_names(service)
            .filter(|name| !desired.iter().any(|(d, _)| d == *name))
            .cloned()
            .collect();
        for name in gone {
            self.set(name, None);
        }
        for (name, port) in desired {
            self.set(name, Some(port));
        }
    }

    /// The Service's ports with their endpoints filled in.
    fn desired_ports(&self, service: &NamespacedName) -> Vec<(ServicePortName, ServicePort)> {
        let Some(ports) = self.services.get(service) else {
            return Vec::new();
        };
        let slices = self.slices.get(service);
        ports
            .iter()
            .map(|(name, port)| {
                let endpoints = slices
                    .map(|slices| merged_endpoints(slices.values(), name))
                    .unwrap_or_default();
                (
                    name.clone(),
                    ServicePort {
                        endpoints,
                        ..port.clone()
                    },
                )
            })
            .collect()
    }

    /// The model's service ports of one Service: a contiguous range, since names sort by
    /// namespace and name first.
    fn model_port_names<'a>(
        &'a self,
        service: &'a NamespacedName,
    ) -> impl Iterator<Item = &'a ServicePortName> + 'a {
        let first = ServicePortName {
            namespace: service.namespace.clone(),
            name: service.name.clone(),
            port: String::new(),
            protocol: TransportProtocol::Tcp,
        };
        self.model
            .services
            .range(first..)
            .map(|(name, _)| name)
            .take_while(|name| name.namespace == service.namespace && name.name == service.name)
    }

    /// Sets one model entry, and notes the change unless it undoes one not yet taken.
    fn set(&mut self, name: ServicePortName, value: Option<ServicePort>) {
        if self.model.services.get(&name) == value.as_ref() {
            return;
        }
        let before = match value {
            Some(port) => self.model.services.insert(name.clone(), port),
            None => self.model.services.remove(&name),
        };
        match self.pending.entry(name) {
            Entry::Vacant(entry) => {
                entry.insert(before);
            }
            Entry::Occupied(entry) => {
                if entry.get().as_ref() == self.model.services.get(entry.key()) {
                    entry.remove();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{json, Value};

    use super::*;

    /// One step fed to the tracker, with the object as the API would send it.
    enum Op {
        Service(Value),
        DeleteService(Value),
        Services(Vec<Value>),
        Slice(Value),
        DeleteSlice(Value),
        Slices(Vec<Value>),
    }

    struct Case {
        name: &'static str,
        /// Applied, then its changes taken.
        setup: Vec<Op>,
        ops: Vec<Op>,
        /// The model afterwards, as `Display` prints it.
        model: &'static str,
        /// The changed service port names, then whether the changes are full.
        changed: &'static [&'static str],
        full: bool,
    }

    fn tracker() -> ChangeTracker {
        ChangeTracker::new(ProxyConfig {
            node_name: "node-1".to_string(),
            excluded_cluster_ips: BTreeSet::from(["10.96.0.10".parse().unwrap()]),
        })
    }

    fn one<T: k8s_openapi::serde::de::DeserializeOwned>(v: &Value) -> T {
        serde_json::from_value(v.clone()).unwrap()
    }

    fn all<T: k8s_openapi::serde::de::DeserializeOwned>(vs: &[Value]) -> Vec<T> {
        vs.iter().map(one).collect()
    }

    fn apply(tracker: &mut ChangeTracker, op: &Op) {
        match op {
            Op::Service(v) => tracker.upsert_service(&one(v)),
            Op::DeleteService(v) => tracker.delete_service(&one(v)),
            Op::Services(vs) => tracker.replace_services(&all(vs)),
            Op::Slice(v) => tracker.upsert_endpoint_slice(&one(v)),
            Op::DeleteSlice(v) => tracker.delete_endpoint_slice(&one(v)),
            Op::Slices(vs) => tracker.replace_endpoint_slices(&all(vs)),
        }
    }

    fn run(setup: &[Op], ops: &[Op]) -> (ChangeTracker, ChangedServices) {
        let mut tracker = tracker();
        for op in setup {
            apply(&mut tracker, op);
        }
        tracker.take_changes();
        for op in ops {
            apply(&mut tracker, op);
        }
        let changes = tracker.take_changes();
        (tracker, changes)
    }

    fn names(changes: &ChangedServices) -> Vec<String> {
        changes.names.iter().map(ToString::to_string).collect()
    }

    /// `default/<name>` with `spec`.
    fn service(name: &str, spec: Value) -> Value {
        json!({"metadata": {"namespace": "default", "name": name}, "spec": spec})
    }

    /// The book's kubia service: one named port, http 80 -> 8080.
    fn kubia() -> Value {
        service(
            "kubia",
            json!({"clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"], "ipFamilies": ["IPv4"],
                   "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}),
        )
    }

    /// An IPv4 slice of `default/<service>`.
    fn slice(name: &str, service: &str, ports: Value, endpoints: Value) -> Value {
        json!({"metadata": {"namespace": "default", "name": name,
                            "labels": {"kubernetes.io/service-name": service}},
               "addressType": "IPv4", "ports": ports, "endpoints": endpoints})
    }

    fn http_port() -> Value {
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    }

    /// A ready endpoint on node-2.
    fn ready(ip: &str) -> Value {
        json!({"addresses": [ip], "nodeName": "node-2",
               "conditions": {"ready": true, "serving": true, "terminating": false}})
    }

    fn cases() -> Vec<Case> {
        vec![
            Case {
                name: "service added without endpoints",
                setup: vec![],
                ops: vec![Op::Service(kubia())],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> no endpoints\n",
                changed: &["default/kubia:http/tcp"],
                full: false,
            },
            Case {
                name: "named ports matched by name, at the slice's port numbers",
                setup: vec![],
                ops: vec![
                    Op::Service(service(
                        "web",
                        json!({"clusterIP": "10.96.0.20", "ports": [
                            {"name": "http", "port": 80, "targetPort": "web"},
                            {"name": "https", "port": 443, "targetPort": "tls"}]}),
                    )),
                    Op::Slice(slice(
                        "web-abc",
                        "web",
                        json!([{"name": "https", "port": 8443, "protocol": "TCP"},
                               {"name": "http", "port": 8080, "protocol": "TCP"}]),
                        json!([ready("10.244.1.5")]),
                    )),
                ],
                model: "default/web:http/tcp 10.96.0.20:80 -> 10.244.1.5:8080 (ready)\n\
                        default/web:https/tcp 10.96.0.20:443 -> 10.244.1.5:8443 (ready)\n",
                changed: &["default/web:http/tcp", "default/web:https/tcp"],
                full: false,
            },
            Case {
                name: "unnamed port",
                setup: vec![],
                ops: vec![
                    Op::Service(service(
                        "db",
                        json!({"clusterIP": "10.96.0.30", "ports": [{"port": 5432, "protocol": "TCP"}]}),
                    )),
                    Op::Slice(slice(
                        "db-1",
                        "db",
                        json!([{"name": "", "port": 5432, "protocol": "TCP"}]),
                        json!([ready("10.244.1.9")]),
                    )),
                ],
                model: "default/db/tcp 10.96.0.30:5432 -> 10.244.1.9:5432 (ready)\n",
                changed: &["default/db/tcp"],
                full: false,
            },
            Case {
                name: "slice ports without a name, without a number, or of another protocol are not used",
                setup: vec![Op::Service(kubia())],
                ops: vec![Op::Slice(slice(
                    "kubia-1",
                    "kubia",
                    json!([{"port": 8080, "protocol": "TCP"}, {"name": "http", "protocol": "TCP"},
                           {"name": "http", "port": 8080, "protocol": "UDP"}]),
                    json!([ready("10.244.1.5")]),
                ))],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> no endpoints\n",
                changed: &[],
                full: false,
            },
            Case {
                name: "headless service skipped",
                setup: vec![],
                ops: vec![
                    Op::Service(service(
                        "kubia-headless",
                        json!({"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 80}]}),
                    )),
                    Op::Slice(slice("kubia-headless-1", "kubia-headless", http_port(), json!([ready("10.244.1.5")]))),
                ],
                model: "",
                changed: &[],
                full: false,
            },
            Case {
                name: "ExternalName service skipped",
                setup: vec![],
                ops: vec![Op::Service(service(
                    "external-service",
                    json!({"type": "ExternalName", "externalName": "api.somecompany.com", "ports": [{"port": 80}]}),
                ))],
                model: "",
                changed: &[],
                full: false,
            },
            Case {
                name: "service without a cluster IP skipped",
                setup: vec![],
                ops: vec![Op::Service(service("pending", json!({"ports": [{"port": 80}]})))],
                model: "",
                changed: &[],
                full: false,
            },
            Case {
                name: "excluded cluster IP (node-local kube-dns) skipped",
                setup: vec![],
                ops: vec![Op::Service(json!({
                    "metadata": {"namespace": "kube-system", "name": "kube-dns"},
                    "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}}))],
                model: "",
                changed: &[],
                full: false,
            },
            Case {
                name: "IPv6-only service skipped, dual-stack service uses its IPv4 cluster IP",
                setup: vec![],
                ops: vec![
                    Op::Service(service(
                        "v6",
                        json!({"clusterIP": "fd00::1", "clusterIPs": ["fd00::1"], "ipFamilies": ["IPv6"], "ports": [{"port": 80}]}),
                    )),
                    Op::Service(service(
                        "dual",
                        json!({"clusterIP": "fd00::2", "clusterIPs": ["fd00::2", "10.96.0.7"],
                               "ipFamilies": ["IPv6", "IPv4"], "ports": [{"port": 80}]}),
                    )),
                ],
                model: "default/dual/tcp 10.96.0.7:80 -> no endpoints\n",
                changed: &["default/dual/tcp"],
                full: false,
            },
            Case {
                name: "service labelled for another proxy skipped",
                setup: vec![],
                ops: vec![Op::Service(json!({
                    "metadata": {"namespace": "default", "name": "other",
                                 "labels": {"service.kubernetes.io/service-proxy-name": "other-proxy"}},
                    "spec": {"clusterIP": "10.96.0.40", "ports": [{"port": 80}]}}))],
                model: "",
                changed: &[],
                full: false,
            },
            Case {
                name: "slices before their service are used when it appears",
                setup: vec![Op::Slice(slice("kubia-1", "kubia", http_port(), json!([ready("10.244.1.5")])))],
                ops: vec![Op::Service(kubia())],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (ready)\n",
                changed: &["default/kubia:http/tcp"],
                full: false,
            },
            Case {
                name: "slices survive their service",
                setup: vec![
                    Op::Service(kubia()),
                    Op::Slice(slice("kubia-1", "kubia", http_port(), json!([ready("10.244.1.5")]))),
                    Op::DeleteService(kubia()),
                ],
                ops: vec![Op::Service(kubia())],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (ready)\n",
                changed: &["default/kubia:http/tcp"],
                full: false,
            },
            Case {
                name: "service deleted",
                setup: vec![
                    Op::Service(kubia()),
                    Op::Slice(slice("kubia-1", "kubia", http_port(), json!([ready("10.244.1.5")]))),
                ],
                ops: vec![Op::DeleteService(kubia())],
                model: "",
                changed: &["default/kubia:http/tcp"],
                full: false,
            },
            Case {
                name: "slice deleted",
                setup: vec![
                    Op::Service(kubia()),
                    Op::Slice(slice("kubia-1", "kubia", http_port(), json!([ready("10.244.1.5")]))),
                ],
                ops: vec![Op::DeleteSlice(slice("kubia-1", "kubia", json!([]), json!([])))],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> no endpoints\n",
                changed: &["default/kubia:http/tcp"],
                full: false,
            },
            Case {
                name: "several slices merged, sorted by address",
                setup: vec![Op::Service(kubia())],
                ops: vec![
                    Op::Slice(slice("kubia-b", "kubia", http_port(), json!([ready("10.244.2.3"), ready("10.244.1.10")]))),
                    Op::Slice(slice("kubia-a", "kubia", http_port(), json!([ready("10.244.1.5")]))),
                ],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (ready), \
                        10.244.1.10:8080 (ready), 10.244.2.3:8080 (ready)\n",
                changed: &["default/kubia:http/tcp"],
                full: false,
            },
            Case {
                name: "an address in two slices counts once, the non-terminating entry wins",
                setup: vec![Op::Service(kubia())],
                ops: vec![
                    Op::Slice(slice("kubia-a", "kubia", http_port(), json!([ready("10.244.1.5")]))),
                    Op::Slice(slice(
                        "kubia-b",
                        "kubia",
                        http_port(),
                        json!([{"addresses": ["10.244.1.5"],
                                "conditions": {"ready": false, "serving": true, "terminating": true}},
                               ready("10.244.1.5")]),
                    )),
                    Op::Slice(slice(
                        "kubia-c",
                        "kubia",
                        http_port(),
                        json!([{"addresses": ["10.244.1.5"],
                                "conditions": {"ready": false, "serving": false, "terminating": true}}]),
                    )),
                ],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (ready)\n",
                changed: &["default/kubia:http/tcp"],
                full: false,
            },
            Case {
                name: "IPv6 and FQDN slices, slices without a service label, and bad addresses are ignored",
                setup: vec![Op::Service(kubia())],
                ops: vec![
                    Op::Slice(json!({"metadata": {"namespace": "default", "name": "kubia-v6",
                                                  "labels": {"kubernetes.io/service-name": "kubia"}},
                                     "addressType": "IPv6", "ports": http_port(), "endpoints": [ready("fd00::5")]})),
                    Op::Slice(json!({"metadata": {"namespace": "default", "name": "kubia-fqdn",
                                                  "labels": {"kubernetes.io/service-name": "kubia"}},
                                     "addressType": "FQDN", "ports": http_port(), "endpoints": [ready("example.com")]})),
                    Op::Slice(json!({"metadata": {"namespace": "default", "name": "manual"},
                                     "addressType": "IPv4", "ports": http_port(), "endpoints": [ready("10.244.1.7")]})),
                    Op::Slice(slice("kubia-1", "kubia", http_port(), json!([ready("fd00::6"), {"addresses": []}]))),
                ],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> no endpoints\n",
                changed: &[],
                full: false,
            },
            Case {
                name: "conditions: missing ready is ready, missing serving follows ready, local by node name",
                setup: vec![Op::Service(kubia())],
                ops: vec![Op::Slice(slice(
                    "kubia-1",
                    "kubia",
                    http_port(),
                    json!([{"addresses": ["10.244.1.5"], "nodeName": "node-1"},
                           {"addresses": ["10.244.1.6"], "conditions": {"ready": false}},
                           {"addresses": ["10.244.1.7"], "conditions": {"ready": false, "terminating": true}},
                           {"addresses": ["10.244.1.8"],
                            "conditions": {"ready": false, "serving": true, "terminating": true}}]),
                ))],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (ready, local), \
                        10.244.1.6:8080 (not ready), 10.244.1.7:8080 (not ready, terminating), \
                        10.244.1.8:8080 (not ready, serving, terminating)\n",
                changed: &["default/kubia:http/tcp"],
                full: false,
            },
            Case {
                name: "session affinity: default and custom timeout",
                setup: vec![],
                ops: vec![
                    Op::Service(service(
                        "sticky",
                        json!({"clusterIP": "10.96.0.50", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}),
                    )),
                    Op::Service(service(
                        "sticky-short",
                        json!({"clusterIP": "10.96.0.51", "sessionAffinity": "ClientIP",
                               "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                               "ports": [{"port": 80}]}),
                    )),
                    Op::Service(service(
                        "loose",
                        json!({"clusterIP": "10.96.0.52", "sessionAffinity": "None", "ports": [{"port": 80}]}),
                    )),
                ],
                model: "default/loose/tcp 10.96.0.52:80 -> no endpoints\n\
                        default/sticky/tcp 10.96.0.50:80 sessionAffinity ClientIP 10800s -> no endpoints\n\
                        default/sticky-short/tcp 10.96.0.51:80 sessionAffinity ClientIP 60s -> no endpoints\n",
                changed: &["default/loose/tcp", "default/sticky/tcp", "default/sticky-short/tcp"],
                full: false,
            },
            Case {
                name: "node port, external IPs and VIP-mode load balancer IPs (IPv4 only)",
                setup: vec![],
                ops: vec![Op::Service(json!({
                    "metadata": {"namespace": "default", "name": "kubia-lb"},
                    "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.60",
                             "externalIPs": ["192.168.1.10", "fd00::10"],
                             "ports": [{"port": 80, "nodePort": 30123}]},
                    "status": {"loadBalancer": {"ingress": [
                        {"ip": "172.18.255.1"}, {"ip": "172.18.255.2", "ipMode": "VIP"},
                        {"ip": "172.18.255.3", "ipMode": "Proxy"}, {"hostname": "lb.example.com"}]}}}))],
                model: "default/kubia-lb/tcp 10.96.0.60:80 nodePort 30123 \
                        externalIPs 192.168.1.10,172.18.255.1,172.18.255.2 -> no endpoints\n",
                changed: &["default/kubia-lb/tcp"],
                full: false,
            },
            Case {
                name: "an update marks only the ports that changed",
                setup: vec![Op::Service(service(
                    "web",
                    json!({"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}),
                ))],
                ops: vec![Op::Service(service(
                    "web",
                    json!({"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 8000}, {"name": "https", "port": 443}]}),
                ))],
                model: "default/web:http/tcp 10.96.0.20:8000 -> no endpoints\n\
                        default/web:https/tcp 10.96.0.20:443 -> no endpoints\n",
                changed: &["default/web:http/tcp"],
                full: false,
            },
            Case {
                name: "an update that removes a port marks it",
                setup: vec![Op::Service(service(
                    "web",
                    json!({"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}),
                ))],
                ops: vec![Op::Service(service(
                    "web",
                    json!({"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}]}),
                ))],
                model: "default/web:http/tcp 10.96.0.20:80 -> no endpoints\n",
                changed: &["default/web:https/tcp"],
                full: false,
            },
            Case {
                name: "a service turned headless leaves the model",
                setup: vec![Op::Service(kubia())],
                ops: vec![Op::Service(service("kubia", json!({"clusterIP": "None", "ports": [{"port": 80}]})))],
                model: "",
                changed: &["default/kubia:http/tcp"],
                full: false,
            },
            Case {
                name: "a slice relabelled to another service leaves the first",
                setup: vec![
                    Op::Service(kubia()),
                    Op::Service(service(
                        "other",
                        json!({"clusterIP": "10.96.0.70", "ports": [{"name": "http", "port": 80}]}),
                    )),
                    Op::Slice(slice("moving", "kubia", http_port(), json!([ready("10.244.1.5")]))),
                ],
                ops: vec![Op::Slice(slice("moving", "other", http_port(), json!([ready("10.244.1.5")])))],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> no endpoints\n\
                        default/other:http/tcp 10.96.0.70:80 -> 10.244.1.5:8080 (ready)\n",
                changed: &["default/kubia:http/tcp", "default/other:http/tcp"],
                full: false,
            },
            Case {
                name: "a relist marks full and drops vanished services and slices",
                setup: vec![
                    Op::Service(kubia()),
                    Op::Service(service("gone", json!({"clusterIP": "10.96.0.80", "ports": [{"port": 80}]}))),
                    Op::Slice(slice("kubia-1", "kubia", http_port(), json!([ready("10.244.1.5")]))),
                ],
                ops: vec![
                    Op::Services(vec![kubia()]),
                    Op::Slices(vec![slice("kubia-2", "kubia", http_port(), json!([ready("10.244.2.3")]))]),
                ],
                model: "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.2.3:8080 (ready)\n",
                changed: &["default/gone/tcp", "default/kubia:http/tcp"],
                full: true,
            },
        ]
    }

    #[test]
    fn table() {
        for case in cases() {
            let (tracker, changes) = run(&case.setup, &case.ops);
            assert_eq!(tracker.model().to_string(), case.model, "{}", case.name);
            assert_eq!(names(&changes), case.changed, "{}", case.name);
            assert_eq!(changes.full, case.full, "{}", case.name);
            assert!(!tracker.has_changes(), "{}", case.name);
        }
    }

    #[test]
    fn first_changes_are_full() {
        let mut tracker = tracker();
        assert!(tracker.has_changes());
        apply(&mut tracker, &Op::Service(kubia()));
        let changes = tracker.take_changes();
        assert!(changes.full);
        assert_eq!(names(&changes), ["default/kubia:http/tcp"]);
    }

    #[test]
    fn no_op_updates_change_nothing() {
        let with_metadata = |mut v: Value| {
            v["metadata"]["resourceVersion"] = json!("42");
            v["metadata"]["annotations"] = json!({"note": "only metadata changed"});
            v
        };
        let kubia_1 = || {
            slice(
                "kubia-1",
                "kubia",
                http_port(),
                json!([ready("10.244.1.5")]),
            )
        };
        let setup = [Op::Service(kubia()), Op::Slice(kubia_1())];
        let ops = [
            Op::Service(kubia()),
            Op::Service(with_metadata(kubia())),
            Op::Slice(with_metadata(kubia_1())),
            Op::DeleteSlice(slice("never-seen", "kubia", json!([]), json!([]))),
            Op::DeleteService(service("never-seen", json!({}))),
        ];
        let (tracker, changes) = run(&setup, &ops);
        assert_eq!(changes, ChangedServices::default());
        assert!(!tracker.has_changes());
    }

    #[test]
    fn a_change_undone_before_the_sync_is_no_change() {
        let not_ready = slice(
            "kubia-1",
            "kubia",
            http_port(),
            json!([{"addresses": ["10.244.1.5"], "conditions": {"ready": false}}]),
        );
        let setup = [
            Op::Service(kubia()),
            Op::Slice(slice(
                "kubia-1",
                "kubia",
                http_port(),
                json!([ready("10.244.1.5")]),
            )),
        ];
        let mut tracker = tracker();
        for op in &setup {
            apply(&mut tracker, op);
        }
        tracker.take_changes();
        apply(&mut tracker, &Op::Slice(not_ready));
        assert!(tracker.has_changes());
        apply(&mut tracker, &setup[1]);
        assert!(!tracker.has_changes());
        assert_eq!(tracker.take_changes(), ChangedServices::default());
    }

    #[test]
    fn request_full_sync_keeps_the_model() {
        let (mut tracker, _) = run(&[Op::Service(kubia())], &[]);
        tracker.request_full_sync();
        let changes = tracker.take_changes();
        assert!(changes.full);
        assert!(changes.names.is_empty());
        assert_eq!(tracker.model().services.len(), 1);
    }
}
