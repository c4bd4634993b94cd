//! The EndpointSlice mirroring controller, as kube-controller-manager's
//! `endpointslicemirroring`: the Endpoints of a Service without a selector (written by hand,
//! as in KiA's external-service example) are mirrored into EndpointSlices labelled
//! `endpointslice.kubernetes.io/managed-by: endpointslicemirroring-controller.k8s.io`, one
//! slice per subset and address type, so slice-based proxies see them too. Endpoints labelled
//! `endpointslice.kubernetes.io/skip-mirror: "true"` (the API server's own `kubernetes`
//! Endpoints) and leader-election records are not mirrored; mirrored slices go when their
//! Endpoints or Service goes, or the Service gains a selector.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tokio_util::sync::CancellationToken;

use ferry_api::validation::endpoints::repack_subsets;
use ferry_runtime::Client;

use crate::endpoint_slice::endpoint_set::{equal_beyond_key, EndpointSet, PortsKey};
use crate::endpoint_slice::reconciler::{MANAGED_BY, SERVICE_NAME};
use crate::endpoint_slice::slices_managed_by;
use crate::endpoints::membership::{self, IpFamily};
use crate::endpoints::trigger_time::ServiceKey;
use crate::error::{write_error, Error};
use crate::events::{EventRecorder, EventType, InvolvedObject};
use crate::owner;
use crate::resources;
use crate::trigger::{next_pass, sooner, Trigger};

/// The event source, upstream's controller name.
const COMPONENT: &str = "endpoint-slice-mirroring-controller";
/// The `managed-by` value of mirrored slices.
pub(crate) const CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";
/// `--mirroring-max-endpoints-per-subset`'s default.
pub(crate) const MAX_ENDPOINTS_PER_SUBSET: usize = 1000;
/// Endpoints labelled with this set to `true` are not mirrored.
pub(crate) const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Not copied from Endpoints to their slices.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The writes that make the mirrored slices of one Endpoints object right, and what could not
/// be mirrored.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MirrorPlan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
    /// Addresses that are not IPs.
    pub invalid: usize,
    /// Addresses left out, invalid ones and those past the per-subset maximum.
    pub skipped: usize,
}

/// The mirrored slices an Endpoints object needs, given its Service and the slices mirrored
/// for that name so far: all of them deleted unless the Endpoints should be mirrored and the
/// Service exists without a selector; otherwise upstream's `reconcile`.
pub(crate) fn mirror(
    endpoints: Option<&Endpoints>,
    service: Option<&Service>,
    existing: &[EndpointSlice],
    max_per_subset: usize,
) -> MirrorPlan {
    let mut existing: Vec<&EndpointSlice> = existing.iter().collect();
    existing.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    match (endpoints, service) {
        (Some(endpoints), Some(svc))
            if should_mirror(endpoints) && membership::selector(svc).is_none() =>
        {
            reconcile(endpoints, &existing, max_per_subset)
        }
        _ => MirrorPlan {
            delete: existing.into_iter().cloned().collect(),
            ..MirrorPlan::default()
        },
    }
}

/// `shouldMirror`: not marked to skip, not a leader-election record.
pub(crate) fn should_mirror(endpoints: &Endpoints) -> bool {
    let skip = endpoints
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SKIP_MIRROR))
        .is_some_and(|v| v == "true");
    let leader = endpoints
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(membership::LEADER_ELECTION_ANNOTATION));
    !skip && !leader
}

/// A subset's slice is known by address type and port set (`addrTypePortMapKey`).
type SliceKey = (IpFamily, PortsKey);

/// The desired endpoints and ports per slice key (`desiredCalc`).
#[derive(Default)]
struct Desired {
    endpoints: BTreeMap<SliceKey, EndpointSet>,
    ports: BTreeMap<SliceKey, Vec<EndpointPort>>,
}

/// `reconcile`: one slice per (canonical) subset and address type; the first existing slice
/// of a key is rewritten when anything differs, the others deleted.
fn reconcile(endpoints: &Endpoints, existing: &[&EndpointSlice], max: usize) -> MirrorPlan {
    let mut desired = Desired::default();
    let mut plan = MirrorPlan::default();
    for subset in repack_subsets(endpoints.subsets.as_deref().unwrap_or(&[])) {
        let ports = slice_ports(subset.ports.as_deref().unwrap_or(&[]));
        let port_key = PortsKey::of(&ports);
        for family in [IpFamily::V4, IpFamily::V6] {
            let key = (family, port_key.clone());
            desired.endpoints.entry(key.clone()).or_default();
            desired.ports.insert(key, ports.clone());
        }
        let listed = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(|a| (a, false));
        let mut added = 0;
        let mut total = 0;
        for (address, ready) in listed.chain(not_ready) {
            total += 1;
            // One slice per subset: past the maximum, the rest of the subset is left out.
            if added >= max {
                continue;
            }
            match address_to_endpoint(address, ready) {
                Some((family, endpoint)) => {
                    if let Some(set) = desired.endpoints.get_mut(&(family, port_key.clone())) {
                        set.insert(endpoint);
                    }
                    added += 1;
                }
                None => plan.invalid += 1,
            }
        }
        plan.skipped += total - added;
    }
    let mut existing_by_key: BTreeMap<SliceKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        let Some(family) = family_of(&slice.address_type) else {
            plan.delete.push((*slice).clone());
            continue;
        };
        let key = (family, PortsKey::of(slice.ports.as_deref().unwrap_or(&[])));
        existing_by_key.entry(key).or_default().push(slice);
    }
    for (key, set) in desired.endpoints {
        let slices = existing_by_key.remove(&key).unwrap_or_default();
        let ports = desired.ports.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        reconcile_key(endpoints, &slices, set, (key.0, ports), max, &mut plan);
    }
    for slices in existing_by_key.into_values() {
        plan.delete.extend(slices.into_iter().cloned());
    }
    finalize(endpoints, plan)
}

/// `reconcileByPortMapping` for one key.
fn reconcile_key(
    endpoints: &Endpoints,
    existing: &[&EndpointSlice],
    mut desired: EndpointSet,
    (family, ports): (IpFamily, &[EndpointPort]),
    max: usize,
    plan: &mut MirrorPlan,
) {
    if desired.is_empty() {
        plan.delete.extend(existing.iter().map(|s| (*s).clone()));
        return;
    }
    let first = existing.first();
    if let Some(first) = first {
        plan.delete
            .extend(existing[1..].iter().map(|s| (*s).clone()));
        if matches_desired(first, &desired, endpoints) {
            return;
        }
    }
    let mut slice = new_slice(endpoints, ports, family);
    if let Some(first) = first {
        slice.metadata.generate_name = None;
        slice.metadata.name = first.metadata.name.clone();
        slice.metadata.resource_version = first.metadata.resource_version.clone();
    }
    while slice.endpoints.len() < max {
        let Some(endpoint) = desired.pop_first() else {
            break;
        };
        slice.endpoints.push(endpoint);
    }
    if first.is_some() {
        plan.update.push(slice);
    } else {
        plan.create.push(slice);
    }
}

/// `totalChanges` finds nothing to add, update or remove, and the labels and annotations
/// are those of the Endpoints.
fn matches_desired(slice: &EndpointSlice, desired: &EndpointSet, endpoints: &Endpoints) -> bool {
    let mut matches = 0;
    for endpoint in &slice.endpoints {
        match desired.get(endpoint) {
            Some(want) if equal_beyond_key(want, endpoint) => matches += 1,
            _ => return false,
        }
    }
    let mut labels = slice.metadata.labels.clone().unwrap_or_default();
    labels.remove(MANAGED_BY);
    labels.remove(SERVICE_NAME);
    matches == desired.len()
        && labels == endpoints.metadata.labels.clone().unwrap_or_default()
        && slice.metadata.annotations.clone().unwrap_or_default() == mirrored_annotations(endpoints)
}

/// `recycleSlices` (slices to delete become the new ones, per address type), and no creates
/// for Endpoints being deleted.
fn finalize(endpoints: &Endpoints, mut plan: MirrorPlan) -> MirrorPlan {
    let mut create = Vec::new();
    for mut slice in std::mem::take(&mut plan.create) {
        let reusable = plan
            .delete
            .iter()
            .position(|d| d.address_type == slice.address_type);
        match reusable {
            Some(i) => {
                let doomed = plan.delete.remove(i);
                slice.metadata.name = doomed.metadata.name;
                slice.metadata.resource_version = doomed.metadata.resource_version;
                plan.update.push(slice);
            }
            None => create.push(slice),
        }
    }
    if endpoints.metadata.deletion_timestamp.is_none() {
        plan.create = create;
    }
    plan
}

/// `newEndpointSlice`: owned by the Endpoints, with its labels and annotations.
fn new_slice(endpoints: &Endpoints, ports: &[EndpointPort], family: IpFamily) -> EndpointSlice {
    let name = endpoints.metadata.name.clone().unwrap_or_default();
    let mut labels = endpoints.metadata.labels.clone().unwrap_or_default();
    labels.insert(SERVICE_NAME.to_string(), name.clone());
    labels.insert(MANAGED_BY.to_string(), CONTROLLER_NAME.to_string());
    let annotations = mirrored_annotations(endpoints);
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: endpoints.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: Some(vec![owner::controller_ref(
                "v1",
                "Endpoints",
                &endpoints.metadata,
            )]),
            ..ObjectMeta::default()
        },
        address_type: family.address_type().to_string(),
        endpoints: Vec::new(),
        ports: Some(ports.to_vec()),
    }
}

/// The Endpoints' annotations bar the trigger time and kubectl's last applied configuration.
fn mirrored_annotations(endpoints: &Endpoints) -> BTreeMap<String, String> {
    let mut annotations = endpoints.metadata.annotations.clone().unwrap_or_default();
    annotations.remove(membership::LAST_CHANGE_TRIGGER_TIME);
    annotations.remove(LAST_APPLIED);
    annotations
}

/// `epPortsToEpsPorts`: an unnamed port keeps its empty name.
fn slice_ports(ports: &[k8s_openapi::api::core::v1::EndpointPort]) -> Vec<EndpointPort> {
    ports
        .iter()
        .map(|p| EndpointPort {
            name: Some(p.name.clone().unwrap_or_default()),
            port: Some(p.port),
            protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".to_string())),
            app_protocol: p.app_protocol.clone(),
        })
        .collect()
}

/// `addressToEndpoint`: the IP in canonical form and its address type, readiness as listed,
/// the target, node and hostname carried over; `None` for an address that is not an IP.
fn address_to_endpoint(address: &EndpointAddress, ready: bool) -> Option<(IpFamily, Endpoint)> {
    let (family, ip) = match address.ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => (IpFamily::V4, v4.to_string()),
        // Go counts an IPv4-mapped IPv6 address as IPv4, and prints it so.
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (IpFamily::V4, v4.to_string()),
            None => (IpFamily::V6, v6.to_string()),
        },
    };
    let endpoint = Endpoint {
        addresses: vec![ip],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            ..EndpointConditions::default()
        }),
        target_ref: address.target_ref.clone(),
        node_name: address.node_name.clone(),
        hostname: address.hostname.clone().filter(|h| !h.is_empty()),
        ..Endpoint::default()
    };
    Some((family, endpoint))
}

fn family_of(address_type: &str) -> Option<IpFamily> {
    match address_type {
        "IPv4" => Some(IpFamily::V4),
        "IPv6" => Some(IpFamily::V6),
        _ => None,
    }
}

/// Runs the controller until shutdown.
pub(crate) async fn run(client: Client, shutdown: CancellationToken) {
    let (Ok(services), Ok(endpoints), Ok(slices)) = (
        resources::services(),
        resources::endpoints(),
        resources::endpoint_slices(),
    ) else {
        return;
    };
    let trigger = Trigger::new();
    trigger.watch(&client, services, &shutdown);
    trigger.watch(&client, endpoints, &shutdown);
    trigger.watch(&client, slices, &shutdown);
    let mut controller = MirroringController {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
        reported: HashSet::new(),
    };
    let mut requeue = None;
    while trigger.wait(requeue, &shutdown).await {
        requeue = next_pass(COMPONENT, controller.pass().await);
    }
}

struct MirroringController {
    client: Client,
    recorder: EventRecorder,
    /// Endpoints (by uid and resourceVersion) whose skipped addresses were reported, so each
    /// version is reported once, as upstream reports once per sync of a change.
    reported: HashSet<(String, String)>,
}

impl MirroringController {
    async fn pass(&mut self) -> Result<Option<Duration>, Error> {
        let services: Vec<Service> =
            resources::list(&self.client, resources::services()?, None).await?;
        let endpoints: Vec<Endpoints> =
            resources::list(&self.client, resources::endpoints()?, None).await?;
        let slices: Vec<EndpointSlice> =
            resources::list(&self.client, resources::endpoint_slices()?, None).await?;
        let services: HashMap<ServiceKey, &Service> =
            services.iter().map(|s| (key_of(&s.metadata), s)).collect();
        let endpoints: HashMap<ServiceKey, &Endpoints> =
            endpoints.iter().map(|e| (key_of(&e.metadata), e)).collect();
        // Slices this controller mirrored, by the Endpoints they mirror.
        let mut mirrored = slices_managed_by(slices, CONTROLLER_NAME);
        let keys: BTreeSet<ServiceKey> = endpoints.keys().chain(mirrored.keys()).cloned().collect();
        let mut requeue = None;
        for key in keys {
            let existing = mirrored.remove(&key).unwrap_or_default();
            let ep = endpoints.get(&key).copied();
            let plan = mirror(
                ep,
                services.get(&key).copied(),
                &existing,
                MAX_ENDPOINTS_PER_SUBSET,
            );
            if let Some(ep) = ep {
                self.report_skipped(ep, &plan).await;
            }
            let result = self.apply(&plan).await.map(|()| None);
            requeue = sooner(requeue, next_pass(COMPONENT, result));
        }
        let current: HashSet<(String, String)> =
            endpoints.values().map(|e| version_of(e)).collect();
        self.reported.retain(|v| current.contains(v));
        Ok(requeue)
    }

    /// `InvalidIPAddress` and `TooManyAddressesToMirror` warnings on the Endpoints.
    async fn report_skipped(&mut self, endpoints: &Endpoints, plan: &MirrorPlan) {
        if plan.skipped == 0 {
            return;
        }
        if !self.reported.insert(version_of(endpoints)) {
            return;
        }
        let about = InvolvedObject::of("v1", "Endpoints", &endpoints.metadata);
        if plan.invalid > 0 {
            let message = format!(
                "Skipped {} invalid IP addresses when mirroring to EndpointSlices",
                plan.invalid
            );
            self.recorder
                .record(&about, EventType::Warning, "InvalidIPAddress", &message)
                .await;
        }
        if plan.skipped > plan.invalid {
            let message = format!(
                "A max of {MAX_ENDPOINTS_PER_SUBSET} addresses can be mirrored to EndpointSlices per Endpoints subset. {} addresses were skipped",
                plan.skipped
            );
            self.recorder
                .record(
                    &about,
                    EventType::Warning,
                    "TooManyAddressesToMirror",
                    &message,
                )
                .await;
        }
    }

    /// Creates, updates, then deletes, stopping at the first failure.
    async fn apply(&self, plan: &MirrorPlan) -> Result<(), Error> {
        let info = resources::endpoint_slices()?;
        for slice in &plan.create {
            let namespace = slice.metadata.namespace.as_deref();
            let body = resources::to_body("endpointslice", slice)?;
            let prefix = slice.metadata.generate_name.as_deref().unwrap_or("");
            self.client
                .create(info, namespace, &body)
                .await
                .map_err(write_error("create", info.plural, namespace, prefix))?;
        }
        for slice in &plan.update {
            let namespace = slice.metadata.namespace.as_deref();
            let name = slice.metadata.name.as_deref().unwrap_or("");
            let body = resources::to_body("endpointslice", slice)?;
            self.client
                .update(info, namespace, name, &body)
                .await
                .map_err(write_error("update", info.plural, namespace, name))?;
        }
        for slice in &plan.delete {
            let namespace = slice.metadata.namespace.as_deref();
            let name = slice.metadata.name.as_deref().unwrap_or("");
            match self.client.delete(info, namespace, name, None).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(write_error("delete", info.plural, namespace, name)(e)),
            }
        }
        Ok(())
    }
}

fn version_of(endpoints: &Endpoints) -> (String, String) {
    (
        endpoints.metadata.uid.clone().unwrap_or_default(),
        endpoints
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default(),
    )
}

fn key_of(meta: &ObjectMeta) -> ServiceKey {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests;
