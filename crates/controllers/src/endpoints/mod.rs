//! The Endpoints controller, as kube-controller-manager's `endpoints_controller.go`: every
//! Service with a selector gets an Endpoints object of its name listing the selected pods
//! (ready ones in `addresses`, the others in `notReadyAddresses`) at the ports their
//! `targetPort`s resolve to, packed into subsets the way kube-apiserver stores them, at most
//! 1000 addresses. A Service without a selector keeps whatever Endpoints users write by hand;
//! the Endpoints of a Service that goes away are deleted.
//!
//! The shared pod rules live in `membership`, the trigger-time bookkeeping in `trigger_time`;
//! both serve the EndpointSlice controller too.

pub(crate) mod membership;
pub(crate) mod trigger_time;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service, ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use ferry_api::validation::endpoints::repack_subsets;
use ferry_runtime::{Client, ClientError};

use crate::clock;
use crate::error::{api_message, write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::resources;
use crate::trigger::{next_pass, sooner, Trigger};

use membership::{IpFamily, Terminating};
use trigger_time::{ServiceKey, TriggerTimes};

/// The event source, upstream's controller name.
const COMPONENT: &str = "endpoint-controller";
/// At most this many addresses (ready and not) in one Endpoints object (`maxCapacity`).
pub(crate) const MAX_CAPACITY: usize = 1000;
/// Set to `truncated` when addresses beyond [`MAX_CAPACITY`] were left out.
pub(crate) const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";

/// What the controller writes for one Service.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EndpointsWrite {
    Create(Endpoints),
    Update(Endpoints),
}

impl EndpointsWrite {
    fn object(&self) -> &Endpoints {
        match self {
            EndpointsWrite::Create(e) | EndpointsWrite::Update(e) => e,
        }
    }

    fn verb(&self) -> &'static str {
        match self {
            EndpointsWrite::Create(_) => "create",
            EndpointsWrite::Update(_) => "update",
        }
    }
}

/// What the Service's pods say its Endpoints should be: named and labelled like the Service
/// (plus the headless label for a Service without a cluster IP), with the selected pods'
/// addresses repacked into subsets. Not yet cut to [`MAX_CAPACITY`]; [`endpoints_write`]
/// does that, as upstream does only when it writes.
pub(crate) fn desired_endpoints(svc: &Service, pods: &[&Pod]) -> Endpoints {
    let mut labels = svc.metadata.labels.clone().unwrap_or_default();
    if membership::is_ip_set(svc) {
        labels.remove(membership::HEADLESS_LABEL);
    } else {
        labels.insert(membership::HEADLESS_LABEL.to_string(), String::new());
    }
    Endpoints {
        metadata: ObjectMeta {
            name: svc.metadata.name.clone(),
            namespace: svc.metadata.namespace.clone(),
            labels: non_empty_map(labels),
            ..ObjectMeta::default()
        },
        subsets: non_empty(desired_subsets(svc, pods)),
    }
}

/// The subsets upstream's `syncService` builds: one per (pod, port), split by readiness,
/// then repacked.
fn desired_subsets(svc: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let publish_not_ready = membership::publish_not_ready_addresses(svc);
    let terminating = if publish_not_ready {
        Terminating::Include
    } else {
        Terminating::Exclude
    };
    let mut subsets = Vec::new();
    for &p in pods {
        if !membership::should_pod_be_in_endpoints(p, terminating) {
            continue;
        }
        let Some(address) = pod_address(svc, p) else {
            continue;
        };
        let ready = publish_not_ready || crate::pod::is_ready(p);
        let ports = membership::ports(svc);
        if ports.is_empty() {
            // A headless Service may have no ports; its endpoints are bare addresses.
            if membership::cluster_ip(svc) == "None" {
                subsets.push(one_address_subset(address, ready, None));
            }
            continue;
        }
        for svc_port in ports {
            if let Some(number) = membership::find_port(p, svc_port) {
                let port = endpoint_port(svc_port, number);
                subsets.push(one_address_subset(address.clone(), ready, Some(port)));
            }
        }
    }
    repack_subsets(&subsets)
}

/// Decides the write for one Service, as upstream: nothing when the existing object's
/// subsets, labels and capacity annotation already agree with `desired`; otherwise the
/// existing object (or a new one) with the desired subsets cut to [`MAX_CAPACITY`], the
/// desired labels, and the trigger-time and over-capacity annotations. A write that would
/// store exactly what is there already is skipped too, so idle passes leave resourceVersions
/// alone.
pub(crate) fn endpoints_write(
    svc: &Service,
    desired: Endpoints,
    current: Option<&Endpoints>,
    trigger_time: Option<Timestamp>,
) -> Option<EndpointsWrite> {
    let existing = current.filter(|c| c.metadata.resource_version.is_some());
    if let Some(current) = existing {
        let mut current_labels = current.metadata.labels.clone().unwrap_or_default();
        current_labels.remove(membership::HEADLESS_LABEL);
        if same_subsets(
            current.subsets.as_deref(),
            desired.subsets.as_deref().unwrap_or(&[]),
        ) && current_labels == svc.metadata.labels.clone().unwrap_or_default()
            && capacity_annotation_correct(current)
        {
            return None;
        }
    }
    let mut new = existing.cloned().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: desired.metadata.name.clone(),
            namespace: desired.metadata.namespace.clone(),
            ..ObjectMeta::default()
        },
        subsets: None,
    });
    let mut subsets = desired.subsets.unwrap_or_default();
    let truncated = truncate(&mut subsets);
    new.subsets = non_empty(subsets);
    new.metadata.labels = desired.metadata.labels;
    let mut annotations = new.metadata.annotations.take().unwrap_or_default();
    set_or_remove(
        &mut annotations,
        membership::LAST_CHANGE_TRIGGER_TIME,
        trigger_time.map(clock::rfc3339),
    );
    set_or_remove(
        &mut annotations,
        OVER_CAPACITY,
        truncated.then(|| "truncated".to_string()),
    );
    new.metadata.annotations = non_empty_map(annotations);
    match existing {
        None => Some(EndpointsWrite::Create(new)),
        Some(current) if stores_the_same(current, &new) => None,
        Some(_) => Some(EndpointsWrite::Update(new)),
    }
}

/// Does the controller own this Service's Endpoints? Not for ExternalName Services, and not
/// for Services without a selector, whose Endpoints are written by hand.
pub(crate) fn manages(svc: &Service) -> bool {
    !membership::is_external_name(svc) && membership::selector(svc).is_some()
}

/// Which Endpoints without a Service to delete. Upstream deletes the Endpoints of a Service
/// it sees deleted, and at start-up every Endpoints without a Service (`checkLeftoverEndpoints`)
/// except leader-election records. `known` is the set of Services the previous pass saw, or
/// `None` on the first pass; hand-made Endpoints created later for a Service that never
/// existed are left alone, as upstream leaves them until its next restart.
pub(crate) fn orphaned_endpoints<'e>(
    endpoints: &'e [Endpoints],
    services: &HashSet<ServiceKey>,
    known: Option<&HashSet<ServiceKey>>,
) -> Vec<&'e Endpoints> {
    endpoints
        .iter()
        .filter(|e| {
            let key = key_of(&e.metadata);
            if services.contains(&key) {
                return false;
            }
            match known {
                Some(known) => known.contains(&key),
                None => !is_leader_election_record(e),
            }
        })
        .collect()
}

/// Runs the controller until shutdown.
pub(crate) async fn run(client: Client, shutdown: CancellationToken) {
    let (Ok(services), Ok(pods), Ok(endpoints)) = (
        resources::services(),
        resources::pods(),
        resources::endpoints(),
    ) else {
        return;
    };
    let trigger = Trigger::new();
    trigger.watch(&client, services, &shutdown);
    trigger.watch(&client, pods, &shutdown);
    trigger.watch(&client, endpoints, &shutdown);
    let mut controller = EndpointsController {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
        trigger_times: TriggerTimes::default(),
        known_services: None,
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass(COMPONENT, controller.pass().await);
    }
}

struct EndpointsController {
    client: Client,
    recorder: EventRecorder,
    trigger_times: TriggerTimes,
    /// The Services of the previous pass (derived memory: which deletions were seen).
    known_services: Option<HashSet<ServiceKey>>,
}

impl EndpointsController {
    async fn pass(&mut self) -> Result<Option<Duration>, Error> {
        let services: Vec<Service> =
            resources::list(&self.client, resources::services()?, None).await?;
        let pods: Vec<Pod> = resources::list(&self.client, resources::pods()?, None).await?;
        let endpoints: Vec<Endpoints> =
            resources::list(&self.client, resources::endpoints()?, None).await?;
        let mut pods_by_namespace: HashMap<&str, Vec<&Pod>> = HashMap::new();
        for p in &pods {
            let namespace = p.metadata.namespace.as_deref().unwrap_or("");
            pods_by_namespace.entry(namespace).or_default().push(p);
        }
        let by_key: HashMap<ServiceKey, &Endpoints> =
            endpoints.iter().map(|e| (key_of(&e.metadata), e)).collect();
        let mut requeue = None;
        for svc in &services {
            if !manages(svc) {
                continue;
            }
            let namespace = svc.metadata.namespace.as_deref().unwrap_or("");
            let in_namespace = pods_by_namespace
                .get(namespace)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let selected = membership::selected_pods(svc, in_namespace);
            // Computed on every pass, written or not, so the next change is measured from here.
            let trigger_time = self.trigger_times.compute(svc, &selected);
            let desired = desired_endpoints(svc, &selected);
            let current = by_key.get(&trigger_time::key_of(svc)).copied();
            if let Some(write) = endpoints_write(svc, desired, current, trigger_time) {
                let result = self.write(svc, write).await.map(|()| None);
                requeue = sooner(requeue, next_pass(COMPONENT, result));
            }
        }
        let live: HashSet<ServiceKey> = services.iter().map(trigger_time::key_of).collect();
        self.trigger_times.retain(|k| live.contains(k));
        let mut known = live.clone();
        for orphan in orphaned_endpoints(&endpoints, &live, self.known_services.as_ref()) {
            if let Err(e) = self.delete(orphan).await {
                // Remember the Service, so the next pass tries again.
                known.insert(key_of(&orphan.metadata));
                requeue = sooner(requeue, next_pass(COMPONENT, Err(e)));
            }
        }
        self.known_services = Some(known);
        Ok(requeue)
    }

    async fn write(&self, svc: &Service, write: EndpointsWrite) -> Result<(), Error> {
        let info = resources::endpoints()?;
        let object = write.object();
        let namespace = object.metadata.namespace.as_deref();
        let name = object.metadata.name.as_deref().unwrap_or("");
        let body = resources::to_body("endpoints", object)?;
        let result = match &write {
            EndpointsWrite::Create(_) => self.client.create(info, namespace, &body).await,
            EndpointsWrite::Update(_) => self.client.update(info, namespace, name, &body).await,
        };
        let Err(e) = result else {
            return Ok(());
        };
        if matches!(write, EndpointsWrite::Create(_)) && is_namespace_terminating(&e) {
            // Creates keep failing until the namespace is gone; nothing to report.
            return Ok(());
        }
        self.record_failure(svc, &write, &e).await;
        Err(write_error(write.verb(), info.plural, namespace, name)(e))
    }

    /// `FailedToCreateEndpoint` / `FailedToUpdateEndpoint` on the Endpoints object.
    async fn record_failure(&self, svc: &Service, write: &EndpointsWrite, e: &ClientError) {
        let namespace = svc.metadata.namespace.as_deref().unwrap_or("");
        let name = svc.metadata.name.as_deref().unwrap_or("");
        let cause = api_message(e);
        let (reason, message) = match write {
            EndpointsWrite::Create(_) => (
                "FailedToCreateEndpoint",
                format!("Failed to create endpoint for service {namespace}/{name}: {cause}"),
            ),
            EndpointsWrite::Update(_) => (
                "FailedToUpdateEndpoint",
                format!("Failed to update endpoint {namespace}/{name}: {cause}"),
            ),
        };
        let about = InvolvedObject::of("v1", "Endpoints", &write.object().metadata);
        self.recorder
            .record(&about, EventType::Warning, reason, &message)
            .await;
    }

    async fn delete(&self, endpoints: &Endpoints) -> Result<(), Error> {
        let info = resources::endpoints()?;
        let namespace = endpoints.metadata.namespace.as_deref();
        let name = endpoints.metadata.name.as_deref().unwrap_or("");
        let uid = endpoints.metadata.uid.as_deref();
        match self.client.delete(info, namespace, name, uid).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
            Err(e) => Err(write_error("delete", info.plural, namespace, name)(e)),
        }
    }
}

/// `podToEndpointAddressForService`: the pod's IP of the Service's (first) family, its node
/// and a reference to it; `None` if the pod has no IP of that family.
fn pod_address(svc: &Service, p: &Pod) -> Option<EndpointAddress> {
    let family = service_family(svc, p);
    let ip = membership::pod_ips(p)
        .into_iter()
        .find(|ip| (IpFamily::of(ip) == Some(IpFamily::V6)) == (family == IpFamily::V6))?;
    Some(EndpointAddress {
        ip: ip.to_string(),
        hostname: membership::hostname(p, svc).filter(|h| !h.is_empty()),
        node_name: Some(crate::pod::node_name(p).to_string()),
        target_ref: Some(membership::pod_reference(p)),
    })
}

/// The family endpoints are taken from: the Service's first `ipFamilies` entry; without
/// one (an API server that does not fill them in), the cluster IP's family, or for a
/// headless Service the pod's.
fn service_family(svc: &Service, p: &Pod) -> IpFamily {
    if let Some(first) = membership::ip_families(svc).first() {
        return *first;
    }
    let decider = if membership::is_ip_set(svc) {
        membership::cluster_ip(svc)
    } else {
        p.status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .unwrap_or("")
    };
    match IpFamily::of(decider) {
        Some(IpFamily::V6) => IpFamily::V6,
        _ => IpFamily::V4,
    }
}

/// `endpointPortFromServicePort`: the Service port's name, protocol and application
/// protocol at the pod's port number. An unnamed port has no name here (unlike slices).
fn endpoint_port(svc_port: &ServicePort, number: i32) -> EndpointPort {
    EndpointPort {
        name: svc_port.name.clone().filter(|n| !n.is_empty()),
        port: number,
        protocol: Some(membership::protocol(svc_port).to_string()),
        app_protocol: svc_port.app_protocol.clone(),
    }
}

fn one_address_subset(
    address: EndpointAddress,
    ready: bool,
    port: Option<EndpointPort>,
) -> EndpointSubset {
    let (addresses, not_ready) = if ready {
        (Some(vec![address]), None)
    } else {
        (None, Some(vec![address]))
    };
    EndpointSubset {
        addresses,
        not_ready_addresses: not_ready,
        ports: port.map(|p| vec![p]),
    }
}

/// `truncateEndpoints`: past [`MAX_CAPACITY`], keeps ready addresses first, shares what is
/// kept among subsets in proportion to their size (rounded up, so later subsets may get
/// less), and drops not-ready ones entirely when the ready ones alone overflow. True if
/// anything was cut.
fn truncate(subsets: &mut Vec<EndpointSubset>) -> bool {
    let count = |list: &Option<Vec<EndpointAddress>>| list.as_ref().map_or(0, Vec::len);
    let total_ready: usize = subsets.iter().map(|s| count(&s.addresses)).sum();
    let total_not_ready: usize = subsets.iter().map(|s| count(&s.not_ready_addresses)).sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut can_be_added = max;
    for subset in subsets.iter_mut() {
        let in_subset = if truncate_ready {
            count(&subset.addresses)
        } else {
            count(&subset.not_ready_addresses)
        };
        // Upstream's float arithmetic, `ceil(in_subset / total * max)`.
        let share = ((in_subset as f64 / total as f64) * max as f64).ceil() as usize;
        let to_be_added = share.min(can_be_added);
        if truncate_ready {
            keep_first(&mut subset.addresses, to_be_added);
            subset.not_ready_addresses = None;
            can_be_added -= count(&subset.addresses);
        } else {
            keep_first(&mut subset.not_ready_addresses, to_be_added);
            can_be_added -= count(&subset.not_ready_addresses);
        }
    }
    // A subset left without addresses would not validate.
    subsets.retain(|s| count(&s.addresses) + count(&s.not_ready_addresses) > 0);
    true
}

fn keep_first(list: &mut Option<Vec<EndpointAddress>>, n: usize) {
    if let Some(addresses) = list {
        addresses.truncate(n);
        if addresses.is_empty() {
            *list = None;
        }
    }
}

/// `capacityAnnotationSetCorrectly`: an object holding more than [`MAX_CAPACITY`] addresses
/// always needs rewriting; otherwise the over-capacity annotation must be absent.
fn capacity_annotation_correct(endpoints: &Endpoints) -> bool {
    let held: usize = endpoints
        .subsets
        .iter()
        .flatten()
        .map(|s| {
            s.addresses.as_ref().map_or(0, Vec::len)
                + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        })
        .sum();
    held <= MAX_CAPACITY
        && !endpoints
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(OVER_CAPACITY))
}

/// Subsets compared as upstream does: ignoring the pods' resourceVersions, an empty list
/// equal to none.
fn same_subsets(current: Option<&[EndpointSubset]>, desired: &[EndpointSubset]) -> bool {
    normalized(current.unwrap_or(&[])) == normalized(desired)
}

fn normalized(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let strip = |list: &Option<Vec<EndpointAddress>>| {
        let list: Vec<EndpointAddress> = list
            .iter()
            .flatten()
            .cloned()
            .map(|mut a| {
                if let Some(r) = a.target_ref.as_mut() {
                    r.resource_version = None;
                }
                a
            })
            .collect();
        non_empty(list)
    };
    subsets
        .iter()
        .map(|s| EndpointSubset {
            addresses: strip(&s.addresses),
            not_ready_addresses: strip(&s.not_ready_addresses),
            ports: s.ports.clone().and_then(non_empty),
        })
        .collect()
}

/// Would writing `new` over `current` store the same content, bar the trigger time?
fn stores_the_same(current: &Endpoints, new: &Endpoints) -> bool {
    let annotations = |e: &Endpoints| {
        let mut a = e.metadata.annotations.clone().unwrap_or_default();
        a.remove(membership::LAST_CHANGE_TRIGGER_TIME);
        a
    };
    same_subsets(
        current.subsets.as_deref(),
        new.subsets.as_deref().unwrap_or(&[]),
    ) && current.metadata.labels.clone().unwrap_or_default()
        == new.metadata.labels.clone().unwrap_or_default()
        && annotations(current) == annotations(new)
}

fn is_leader_election_record(endpoints: &Endpoints) -> bool {
    endpoints
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(membership::LEADER_ELECTION_ANNOTATION))
}

/// A create refused because the namespace is being deleted (upstream checks the
/// `NamespaceTerminating` cause; the message says the same).
fn is_namespace_terminating(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { code: 403, message, .. } if message.contains("because it is being terminated"))
}

fn key_of(meta: &ObjectMeta) -> ServiceKey {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn set_or_remove(map: &mut BTreeMap<String, String>, key: &str, value: Option<String>) {
    match value {
        Some(v) => {
            map.insert(key.to_string(), v);
        }
        None => {
            map.remove(key);
        }
    }
}

fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

fn non_empty_map(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

#[cfg(test)]
mod tests;
