//! Which EndpointSlices a Service needs, as upstream's `k8s.io/endpointslice` reconciler
//! decides it, given the slices that exist. Per address type and per distinct port list:
//! keep each existing slice, dropping endpoints no longer wanted and refreshing changed ones
//! in place; fill slices already being rewritten, then an untouched slice with room for all
//! that is left, then new slices, never past the per-slice maximum; delete slices left
//! empty, recycling them as the new slices where possible. A Service with no endpoints keeps
//! one empty placeholder slice. Where upstream picks at random (set order) this picks in a
//! fixed order, so unchanged inputs give no writes at all.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointHints, EndpointPort, EndpointSlice, ForZone,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

use crate::clock;
use crate::endpoints::membership::{self, IpFamily, Terminating};
use crate::owner;
use crate::pod;

use super::endpoint_set::{equal_beyond_key, EndpointSet, PortsKey};

/// `--max-endpoints-per-slice`'s default.
pub(crate) const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// The `managed-by` value of this controller's slices.
pub(crate) const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
pub(crate) const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub(crate) const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The deprecated and the current annotation asking for topology-aware hints.
const TOPOLOGY_AWARE_HINTS: &str = "service.kubernetes.io/topology-aware-hints";
const TOPOLOGY_MODE: &str = "service.kubernetes.io/topology-mode";

/// What the slices of one Service are computed from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SliceTarget<'a> {
    pub service: &'a Service,
    /// The pods the Service's selector picks.
    pub pods: &'a [&'a Pod],
    /// The zone of every known node (`None` for a node without a zone label).
    pub nodes: &'a BTreeMap<String, Option<String>>,
    pub max_endpoints_per_slice: usize,
    pub trigger_time: Option<Timestamp>,
}

/// The writes that bring a Service's slices to the desired state.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SlicePlan {
    /// New slices, named by the API server from `generateName`.
    pub create: Vec<EndpointSlice>,
    /// Existing slices with new content (their resourceVersion kept).
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
    /// Pods left out because their node is unknown (`(pod, node)`); worth another pass.
    pub missing_nodes: Vec<(String, String)>,
}

impl SlicePlan {
    fn extend(&mut self, other: SlicePlan) {
        self.create.extend(other.create);
        self.update.extend(other.update);
        self.delete.extend(other.delete);
        self.missing_nodes.extend(other.missing_nodes);
    }
}

/// `Reconcile`: the writes for one Service given the slices this controller manages for it
/// (none of them being deleted).
pub(crate) fn desired_slices(target: &SliceTarget<'_>, existing: &[EndpointSlice]) -> SlicePlan {
    let families = address_families(target.service);
    let mut existing: Vec<&EndpointSlice> = existing.iter().collect();
    existing.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut plan = SlicePlan::default();
    let mut by_family: BTreeMap<IpFamily, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        match families
            .iter()
            .find(|f| f.address_type() == slice.address_type)
        {
            Some(family) => by_family.entry(*family).or_default().push(slice),
            None => plan.delete.push(slice.clone()),
        }
    }
    for family in families {
        let existing = by_family.remove(&family).unwrap_or_default();
        plan.extend(reconcile_family(target, family, &existing));
    }
    plan
}

/// `getAddressTypesForService`: the Service's IP families; without them (an API server that
/// does not fill them in), the cluster IP's family, or both for a headless Service.
fn address_families(svc: &Service) -> Vec<IpFamily> {
    let mut families = membership::ip_families(svc);
    if families.is_empty() {
        families = if membership::is_ip_set(svc) {
            vec![IpFamily::of(membership::cluster_ip(svc)).unwrap_or(IpFamily::V4)]
        } else {
            vec![IpFamily::V4, IpFamily::V6]
        };
    }
    families.sort();
    families.dedup();
    families
}

/// `reconcileByAddressType` and `finalize` for one address type.
fn reconcile_family(
    target: &SliceTarget<'_>,
    family: IpFamily,
    existing: &[&EndpointSlice],
) -> SlicePlan {
    let svc = target.service;
    let mut plan = SlicePlan::default();
    let mut existing_by_ports: BTreeMap<PortsKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        if owned_by(slice, svc) {
            let key = PortsKey::of(slice.ports.as_deref().unwrap_or(&[]));
            existing_by_ports.entry(key).or_default().push(slice);
        } else {
            plan.delete.push((*slice).clone());
        }
    }
    let (desired, missing_nodes) = desired_endpoints(target, family);
    plan.missing_nodes = missing_nodes;
    let mut unchanged: Vec<EndpointSlice> = Vec::new();
    for (key, (ports, set)) in desired.iter() {
        let slices = existing_by_ports.get(key).map(Vec::as_slice).unwrap_or(&[]);
        let meta = SliceMeta {
            ports,
            family,
            max: target.max_endpoints_per_slice,
        };
        let by_ports = reconcile_ports(svc, slices, set.clone(), &meta);
        unchanged.extend(by_ports.unchanged);
        plan.create.extend(by_ports.plan.create);
        plan.update.extend(by_ports.plan.update);
        plan.delete.extend(by_ports.plan.delete);
    }
    for (key, slices) in &existing_by_ports {
        if !desired.contains_key(key) {
            plan.delete.extend(slices.iter().map(|s| (*s).clone()));
        }
    }
    if existing.len() == plan.delete.len() && plan.create.is_empty() {
        // No endpoints at all: one empty slice says so, kept if it is there already.
        let placeholder = new_slice(svc, &[], family);
        if plan.delete.len() == 1 && same_placeholder(&plan.delete[0], &placeholder) {
            plan.delete.clear();
        } else {
            plan.create.push(placeholder);
        }
    }
    reconcile_hints(svc, &mut plan, unchanged);
    finalize(target, plan)
}

/// The desired endpoints per port list (`desiredEndpointsByPortMap`), and the pods skipped
/// for an unknown node.
type DesiredByPorts = BTreeMap<PortsKey, (Vec<EndpointPort>, EndpointSet)>;

fn desired_endpoints(
    target: &SliceTarget<'_>,
    family: IpFamily,
) -> (DesiredByPorts, Vec<(String, String)>) {
    let svc = target.service;
    let publish_not_ready = membership::publish_not_ready_addresses(svc);
    let mut desired = DesiredByPorts::new();
    let mut missing = Vec::new();
    for &p in target.pods {
        if !membership::should_pod_be_in_endpoints(p, Terminating::Include) {
            continue;
        }
        let ports = endpoint_ports(svc, p);
        let key = PortsKey::of(&ports);
        let (_, set) = desired
            .entry(key)
            .or_insert_with(|| (ports, EndpointSet::default()));
        let node = pod::node_name(p);
        let zone = match target.nodes.get(node) {
            Some(zone) => zone.clone(),
            // A pod on an unknown node is left out until the node shows up, unless the
            // Service asks for every address to be published.
            None if !publish_not_ready => {
                let name = p.metadata.name.clone().unwrap_or_default();
                missing.push((name, node.to_string()));
                continue;
            }
            None => None,
        };
        let endpoint = pod_to_endpoint(p, zone, svc, family);
        if !endpoint.addresses.is_empty() {
            set.insert(endpoint);
        }
    }
    (desired, missing)
}

/// `podToEndpoint`: a terminating pod stays, not ready, serving as its readiness says.
pub(crate) fn pod_to_endpoint(
    p: &Pod,
    zone: Option<String>,
    svc: &Service,
    family: IpFamily,
) -> Endpoint {
    let serving = pod::is_ready(p);
    let terminating = pod::is_deleting(p);
    let ready = membership::publish_not_ready_addresses(svc) || (serving && !terminating);
    let addresses = membership::pod_ips(p)
        .into_iter()
        .filter_map(|ip| ip.parse::<std::net::IpAddr>().ok())
        .filter(|ip| IpFamily::of(&ip.to_string()) == Some(family))
        .map(|ip| ip.to_string())
        .collect();
    let node = pod::node_name(p);
    Endpoint {
        addresses,
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: membership::hostname(p, svc),
        node_name: (!node.is_empty()).then(|| node.to_string()),
        target_ref: Some(membership::pod_reference(p)),
        zone,
        ..Endpoint::default()
    }
}

/// `getEndpointPorts`: each Service port at the number the pod resolves it to; ports the pod
/// lacks are left out. Unnamed ports get the empty name.
pub(crate) fn endpoint_ports(svc: &Service, p: &Pod) -> Vec<EndpointPort> {
    membership::ports(svc)
        .iter()
        .filter_map(|svc_port| {
            let number = membership::find_port(p, svc_port)?;
            Some(EndpointPort {
                name: Some(svc_port.name.clone().unwrap_or_default()),
                port: Some(number),
                protocol: Some(membership::protocol(svc_port).to_string()),
                app_protocol: svc_port.app_protocol.clone(),
            })
        })
        .collect()
}

/// What new slices of one port list look like.
struct SliceMeta<'a> {
    ports: &'a [EndpointPort],
    family: IpFamily,
    max: usize,
}

/// The outcome for one port list: writes, and the slices left as they are.
struct PortsOutcome {
    plan: SlicePlan,
    unchanged: Vec<EndpointSlice>,
}

/// `reconcileByPortMapping`.
fn reconcile_ports(
    svc: &Service,
    existing: &[&EndpointSlice],
    mut desired: EndpointSet,
    meta: &SliceMeta<'_>,
) -> PortsOutcome {
    let mut by_name: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut to_delete: BTreeSet<String> = BTreeSet::new();
    // 1. Keep what is still wanted in each slice, refreshed; note label drift.
    for slice in existing {
        let name = slice.metadata.name.clone().unwrap_or_default();
        let mut kept = Vec::new();
        let mut refreshed = false;
        for endpoint in &slice.endpoints {
            if let Some(want) = desired.get(endpoint) {
                refreshed |= !equal_beyond_key(want, endpoint);
                kept.push(want.clone());
                desired.remove(endpoint);
            }
        }
        let (labels, labels_changed) = slice_labels(slice.metadata.labels.as_ref(), svc);
        let mut copy = (*slice).clone();
        if refreshed || kept.len() != slice.endpoints.len() {
            if kept.is_empty() {
                to_delete.insert(name.clone());
            } else {
                copy.endpoints = kept;
                copy.metadata.labels = Some(labels);
                to_update.insert(name.clone());
            }
        } else if labels_changed {
            copy.metadata.labels = Some(labels);
            to_update.insert(name.clone());
        } else {
            unchanged.insert(name.clone());
        }
        by_name.insert(name, copy);
    }
    // 2. Fill the slices being rewritten anyway, fullest first.
    if !desired.is_empty() {
        let mut rewritten: Vec<&String> = to_update.iter().collect();
        rewritten.sort_by_key(|n| std::cmp::Reverse(by_name[*n].endpoints.len()));
        for name in rewritten {
            if let Some(slice) = by_name.get_mut(name) {
                fill(slice, &mut desired, meta.max);
            }
        }
    }
    // 3. What is left goes into an untouched slice with room for all of it, or new slices.
    let mut create = Vec::new();
    while !desired.is_empty() {
        let candidate = if desired.len() < meta.max {
            slice_to_fill(&unchanged, &by_name, desired.len(), meta.max)
        } else {
            None
        };
        match candidate.and_then(|name| by_name.get_mut(&name)) {
            Some(slice) => {
                fill(slice, &mut desired, meta.max);
                let name = slice.metadata.name.clone().unwrap_or_default();
                unchanged.remove(&name);
                to_update.insert(name);
            }
            None => {
                let mut slice = new_slice(svc, meta.ports, meta.family);
                fill(&mut slice, &mut desired, meta.max);
                create.push(slice);
            }
        }
    }
    let take = |names: &BTreeSet<String>| -> Vec<EndpointSlice> {
        names
            .iter()
            .filter_map(|n| by_name.get(n).cloned())
            .collect()
    };
    PortsOutcome {
        plan: SlicePlan {
            create,
            update: take(&to_update),
            delete: take(&to_delete),
            missing_nodes: Vec::new(),
        },
        unchanged: take(&unchanged),
    }
}

fn fill(slice: &mut EndpointSlice, desired: &mut EndpointSet, max: usize) {
    while slice.endpoints.len() < max {
        let Some(endpoint) = desired.pop_first() else {
            return;
        };
        slice.endpoints.push(endpoint);
    }
}

/// `getSliceToFill`: the untouched slice that ends up closest to full with `count` more.
fn slice_to_fill(
    unchanged: &BTreeSet<String>,
    by_name: &BTreeMap<String, EndpointSlice>,
    count: usize,
    max: usize,
) -> Option<String> {
    let mut best: Option<(usize, &String)> = None;
    for name in unchanged {
        let Some(slice) = by_name.get(name) else {
            continue;
        };
        let Some(room) = max.checked_sub(count + slice.endpoints.len()) else {
            continue;
        };
        if best.is_none_or(|(closest, _)| room < closest) && room < max {
            best = Some((room, name));
            if room == 0 {
                break;
            }
        }
    }
    best.map(|(_, name)| name.clone())
}

/// `newEndpointSlice`: owned by the Service, named by the API server after it.
fn new_slice(svc: &Service, ports: &[EndpointPort], family: IpFamily) -> EndpointSlice {
    let name = svc.metadata.name.clone().unwrap_or_default();
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: svc.metadata.namespace.clone(),
            labels: Some(slice_labels(None, svc).0),
            owner_references: Some(vec![owner::controller_ref("v1", "Service", &svc.metadata)]),
            ..ObjectMeta::default()
        },
        address_type: family.address_type().to_string(),
        endpoints: Vec::new(),
        ports: Some(ports.to_vec()),
    }
}

/// `setEndpointSliceLabels`: the Service's labels (bar the reserved ones), the headless
/// label, the service name and manager; and whether the non-reserved labels drifted (only
/// that warrants a write on its own).
fn slice_labels(
    current: Option<&BTreeMap<String, String>>,
    svc: &Service,
) -> (BTreeMap<String, String>, bool) {
    let unreserved = |labels: Option<&BTreeMap<String, String>>| -> BTreeMap<String, String> {
        labels
            .into_iter()
            .flatten()
            .filter(|(k, _)| !is_reserved_label(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let mut labels = unreserved(svc.metadata.labels.as_ref());
    let changed = unreserved(current) != labels;
    if !membership::is_ip_set(svc) {
        labels.insert(membership::HEADLESS_LABEL.to_string(), String::new());
    }
    labels.insert(
        SERVICE_NAME.to_string(),
        svc.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY.to_string(), CONTROLLER_NAME.to_string());
    (labels, changed)
}

fn is_reserved_label(key: &str) -> bool {
    key == SERVICE_NAME || key == MANAGED_BY || key == membership::HEADLESS_LABEL
}

/// `ownedBy`: the slice's owners include this very Service (not a namesake).
fn owned_by(slice: &EndpointSlice, svc: &Service) -> bool {
    let uid = svc.metadata.uid.as_deref().unwrap_or("");
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.kind == "Service" && o.api_version == "v1")
}

/// `placeholderSliceCompare`: an existing empty slice that is the placeholder already
/// (namespace, labels, owners, address type; no ports, no endpoints).
fn same_placeholder(existing: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    existing.metadata.namespace == placeholder.metadata.namespace
        && existing.metadata.labels.clone().unwrap_or_default()
            == placeholder.metadata.labels.clone().unwrap_or_default()
        && existing
            .metadata
            .owner_references
            .clone()
            .unwrap_or_default()
            == placeholder
                .metadata
                .owner_references
                .clone()
                .unwrap_or_default()
        && existing.address_type == placeholder.address_type
        && existing.endpoints.is_empty()
        && existing.ports.as_deref().unwrap_or(&[]).is_empty()
}

/// Hints as 1.32 sets them: with `trafficDistribution: PreferClose` (and no topology
/// annotation) every ready endpoint with a zone is hinted for its own zone; otherwise no
/// endpoint carries hints. Untouched slices whose hints are wrong are rewritten.
fn reconcile_hints(svc: &Service, plan: &mut SlicePlan, unchanged: Vec<EndpointSlice>) {
    let prefer_close = !topology_annotation_enabled(svc)
        && svc
            .spec
            .as_ref()
            .and_then(|s| s.traffic_distribution.as_deref())
            == Some("PreferClose");
    let hint = |slice: &mut EndpointSlice| {
        for endpoint in &mut slice.endpoints {
            if prefer_close {
                if is_ready(endpoint) {
                    endpoint.hints = zone_hint(endpoint);
                }
            } else {
                endpoint.hints = None;
            }
        }
    };
    for slice in unchanged {
        let stale = slice.endpoints.iter().any(|e| {
            if prefer_close {
                is_ready(e) && e.hints != zone_hint(e)
            } else {
                e.hints.is_some()
            }
        });
        if stale {
            plan.update.push(slice);
        }
    }
    plan.create.iter_mut().for_each(hint);
    plan.update.iter_mut().for_each(hint);
}

fn zone_hint(endpoint: &Endpoint) -> Option<EndpointHints> {
    endpoint.zone.as_ref().map(|zone| EndpointHints {
        for_zones: Some(vec![ForZone { name: zone.clone() }]),
    })
}

fn is_ready(endpoint: &Endpoint) -> bool {
    endpoint.conditions.as_ref().and_then(|c| c.ready) == Some(true)
}

/// `hintsEnabled`: the deprecated annotation wins over the current one.
fn topology_annotation_enabled(svc: &Service) -> bool {
    let annotations = svc.metadata.annotations.as_ref();
    let value = annotations
        .and_then(|a| a.get(TOPOLOGY_AWARE_HINTS))
        .or_else(|| annotations.and_then(|a| a.get(TOPOLOGY_MODE)));
    matches!(value.map(String::as_str), Some("Auto" | "auto"))
}

/// `finalize`: slices about to be deleted become the new slices instead (same address type,
/// owned by this Service); nothing is created for a Service being deleted; every slice
/// written carries the trigger time.
fn finalize(target: &SliceTarget<'_>, mut plan: SlicePlan) -> SlicePlan {
    let svc = target.service;
    let mut i = 0;
    while i < plan.delete.len() {
        let Some(last) = plan.create.last() else {
            break;
        };
        let doomed = &plan.delete[i];
        if doomed.address_type == last.address_type && owned_by(doomed, svc) {
            if let Some(mut slice) = plan.create.pop() {
                slice.metadata.name = doomed.metadata.name.clone();
                slice.metadata.resource_version = doomed.metadata.resource_version.clone();
                plan.update.push(slice);
            }
            plan.delete.remove(i);
        } else {
            i += 1;
        }
    }
    if svc.metadata.deletion_timestamp.is_some() {
        plan.create.clear();
    }
    for slice in plan.create.iter_mut().chain(plan.update.iter_mut()) {
        let annotations = slice.metadata.annotations.get_or_insert_with(BTreeMap::new);
        match target.trigger_time {
            Some(at) => {
                annotations.insert(
                    membership::LAST_CHANGE_TRIGGER_TIME.to_string(),
                    clock::rfc3339(at),
                );
            }
            None => {
                annotations.remove(membership::LAST_CHANGE_TRIGGER_TIME);
            }
        }
        if annotations.is_empty() {
            slice.metadata.annotations = None;
        }
    }
    plan
}

#[cfg(test)]
mod tests;
