//! Endpoints and EndpointSlice validation as kube-apiserver 1.32 runs it (`ValidateEndpoints`,
//! `ValidateEndpointSlice`), and the canonical layout it stores Endpoints subsets in
//! (`RepackSubsets`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};

use super::meta::validate_labels;
use super::names;
use super::network::{
    port_num_errors, validate_dns1123_label, validate_fully_qualified_domain_name, validate_ip,
    validate_ipv4_address, validate_ipv6_address, validate_non_special_ip, validate_protocol,
    validate_qualified_name, SUPPORTED_PROTOCOLS,
};
use crate::field::{ErrorList, FieldError, Path};

/// Address types a new EndpointSlice may have.
const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
/// On update, the deprecated `IP` type of old slices is still accepted.
const ADDRESS_TYPES_ON_UPDATE: &[&str] = &["FQDN", "IP", "IPv4", "IPv6"];
const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 100;
const MAX_TOPOLOGY_LABELS: usize = 16;
const MAX_ZONE_HINTS: usize = 8;

/// `ValidateEndpoints` (the same on create and update), beyond the ObjectMeta checks.
pub fn validate_endpoints(endpoints: &Endpoints) -> ErrorList {
    let path = Path::new("subsets");
    endpoints
        .subsets
        .iter()
        .flatten()
        .enumerate()
        .flat_map(|(i, subset)| validate_subset(subset, &path.index(i)))
        .collect()
}

fn validate_subset(subset: &EndpointSubset, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let ready = subset.addresses.as_deref().unwrap_or_default();
    let not_ready = subset.not_ready_addresses.as_deref().unwrap_or_default();
    // Ports may be absent (headless Services), addresses may not.
    if ready.is_empty() && not_ready.is_empty() {
        errs.push(FieldError::required(
            path,
            "must specify `addresses` or `notReadyAddresses`",
        ));
    }
    for (field, addresses) in [("addresses", ready), ("notReadyAddresses", not_ready)] {
        for (i, address) in addresses.iter().enumerate() {
            errs.extend(validate_address(address, &path.child(field).index(i)));
        }
    }
    let ports = subset.ports.as_deref().unwrap_or_default();
    for (i, port) in ports.iter().enumerate() {
        errs.extend(validate_endpoint_port(
            port,
            ports.len() > 1,
            &path.child("ports").index(i),
        ));
    }
    errs
}

fn validate_address(address: &EndpointAddress, path: &Path) -> ErrorList {
    let ip_path = path.child("ip");
    let mut errs = validate_ip(&ip_path, &address.ip);
    if let Some(hostname) = address.hostname.as_deref().filter(|h| !h.is_empty()) {
        errs.extend(validate_dns1123_label(&path.child("hostname"), hostname));
    }
    if let Some(node) = &address.node_name {
        for msg in names::dns1123_subdomain(node) {
            errs.push(FieldError::invalid(path.child("nodeName"), node, msg));
        }
    }
    errs.extend(validate_non_special_ip(&ip_path, &address.ip));
    errs
}

fn validate_endpoint_port(port: &EndpointPort, require_name: bool, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let name = port.name.as_deref().unwrap_or("");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(validate_dns1123_label(&path.child("name"), name));
    }
    for msg in port_num_errors(i64::from(port.port)) {
        errs.push(FieldError::invalid(path.child("port"), port.port, msg));
    }
    errs.extend(validate_protocol(
        &path.child("protocol"),
        port.protocol.as_deref(),
    ));
    if let Some(app_protocol) = &port.app_protocol {
        errs.extend(validate_qualified_name(
            &path.child("appProtocol"),
            app_protocol,
        ));
    }
    errs
}

/// `ValidateEndpointSliceCreate`, beyond the ObjectMeta checks.
pub fn validate_endpoint_slice(slice: &EndpointSlice) -> ErrorList {
    validate_slice(slice, ADDRESS_TYPES)
}

/// `ValidateEndpointSliceUpdate`: as on create (old `IP` slices allowed), and the address type
/// is fixed.
pub fn validate_endpoint_slice_update(new: &EndpointSlice, old: &EndpointSlice) -> ErrorList {
    let mut errs = validate_slice(new, ADDRESS_TYPES_ON_UPDATE);
    if new.address_type != old.address_type {
        errs.push(FieldError::invalid(
            "addressType",
            &new.address_type,
            "field is immutable",
        ));
    }
    errs
}

fn validate_slice(slice: &EndpointSlice, address_types: &[&str]) -> ErrorList {
    let mut errs = match slice.address_type.as_str() {
        "" => vec![FieldError::required("addressType", "")],
        t if address_types.contains(&t) => Vec::new(),
        t => vec![FieldError::not_supported("addressType", t, address_types)],
    };
    errs.extend(validate_slice_endpoints(
        &slice.endpoints,
        &slice.address_type,
    ));
    errs.extend(validate_slice_ports(
        slice.ports.as_deref().unwrap_or_default(),
    ));
    errs
}

fn validate_slice_endpoints(endpoints: &[Endpoint], address_type: &str) -> ErrorList {
    let path = Path::new("endpoints");
    if endpoints.len() > MAX_ENDPOINTS {
        return vec![FieldError::too_many(&path, endpoints.len(), MAX_ENDPOINTS)];
    }
    endpoints
        .iter()
        .enumerate()
        .flat_map(|(i, endpoint)| validate_slice_endpoint(endpoint, address_type, &path.index(i)))
        .collect()
}

fn validate_slice_endpoint(endpoint: &Endpoint, address_type: &str, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let addresses_path = path.child("addresses");
    if endpoint.addresses.is_empty() {
        errs.push(FieldError::required(
            &addresses_path,
            "must contain at least 1 address",
        ));
    } else if endpoint.addresses.len() > MAX_ADDRESSES {
        errs.push(FieldError::too_many(
            &addresses_path,
            endpoint.addresses.len(),
            MAX_ADDRESSES,
        ));
    }
    for (i, address) in endpoint.addresses.iter().enumerate() {
        errs.extend(validate_slice_address(
            address_type,
            &addresses_path.index(i),
            address,
        ));
    }
    if let Some(node) = &endpoint.node_name {
        for msg in names::dns1123_subdomain(node) {
            errs.push(FieldError::invalid(path.child("nodeName"), node, msg));
        }
    }
    if let Some(topology) = &endpoint.deprecated_topology {
        let topology_path = path.child("deprecatedTopology");
        if topology.len() > MAX_TOPOLOGY_LABELS {
            errs.push(FieldError::too_many(
                &topology_path,
                topology.len(),
                MAX_TOPOLOGY_LABELS,
            ));
        }
        errs.extend(validate_labels(topology, &topology_path));
    }
    if let Some(hostname) = &endpoint.hostname {
        errs.extend(validate_dns1123_label(&path.child("hostname"), hostname));
    }
    if let Some(hints) = &endpoint.hints {
        errs.extend(validate_zone_hints(
            hints.for_zones.as_deref().unwrap_or_default(),
            &path.child("hints"),
        ));
    }
    errs
}

/// Addresses are checked as the slice's type says; unknown types are not checked.
fn validate_slice_address(address_type: &str, path: &Path, address: &str) -> ErrorList {
    let ip_errs = match address_type {
        "IPv4" => validate_ipv4_address(path, address),
        "IPv6" => validate_ipv6_address(path, address),
        "FQDN" => return validate_fully_qualified_domain_name(path, address),
        _ => return Vec::new(),
    };
    if ip_errs.is_empty() {
        validate_non_special_ip(path, address)
    } else {
        ip_errs
    }
}

fn validate_zone_hints(
    zones: &[k8s_openapi::api::discovery::v1::ForZone],
    path: &Path,
) -> ErrorList {
    let zones_path = path.child("forZones");
    if zones.len() > MAX_ZONE_HINTS {
        return vec![FieldError::too_many(
            &zones_path,
            zones.len(),
            MAX_ZONE_HINTS,
        )];
    }
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for (i, zone) in zones.iter().enumerate() {
        let name_path = zones_path.index(i).child("name");
        if !seen.insert(zone.name.as_str()) {
            errs.push(FieldError::duplicate(&name_path, &zone.name));
        }
        for msg in names::label_value(&zone.name) {
            errs.push(FieldError::invalid(&name_path, &zone.name, msg));
        }
    }
    errs
}

fn validate_slice_ports(ports: &[k8s_openapi::api::discovery::v1::EndpointPort]) -> ErrorList {
    let path = Path::new("ports");
    if ports.len() > MAX_PORTS {
        return vec![FieldError::too_many(&path, ports.len(), MAX_PORTS)];
    }
    let mut errs = Vec::new();
    let mut names_seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let port_path = path.index(i);
        let name = port.name.as_deref().unwrap_or("");
        if !name.is_empty() {
            errs.extend(validate_dns1123_label(&port_path.child("name"), name));
        }
        if !names_seen.insert(name) {
            errs.push(FieldError::duplicate(port_path.child("name"), name));
        }
        let protocol_path = port_path.child("protocol");
        match port.protocol.as_deref() {
            None => errs.push(FieldError::required(protocol_path, "")),
            Some(p) if SUPPORTED_PROTOCOLS.contains(&p) => {}
            Some(p) => errs.push(FieldError::not_supported(
                protocol_path,
                p,
                SUPPORTED_PROTOCOLS,
            )),
        }
        if let Some(app_protocol) = &port.app_protocol {
            errs.extend(validate_qualified_name(
                &port_path.child("appProtocol"),
                app_protocol,
            ));
        }
    }
    errs
}

/// `RepackSubsets`: the layout kube-apiserver stores Endpoints in. Addresses that serve the
/// same ports share one subset; an address listed twice for a port is kept once, not ready
/// if it was ever listed so; addresses are sorted by IP text then target UID.
///
/// Upstream orders ports and subsets by a hash of their Go rendering; this orders them by
/// port number, protocol and name, and subsets by their first address, which is as stable.
pub fn repack_subsets(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    // Each address as first listed, and per port whether each address is ready. A subset
    // without ports still needs its addresses kept, under a "no port" marker.
    let mut addresses_of: BTreeMap<AddressKey, EndpointAddress> = BTreeMap::new();
    let mut by_port: BTreeMap<Option<PortKey>, BTreeMap<AddressKey, bool>> = BTreeMap::new();
    for subset in subsets {
        let ports: Vec<Option<PortKey>> = match subset.ports.as_deref() {
            None | Some([]) => vec![None],
            Some(ports) => ports.iter().map(|p| Some(PortKey(p.clone()))).collect(),
        };
        let ready = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(|a| (a, false));
        let listed: Vec<(&EndpointAddress, bool)> = ready.chain(not_ready).collect();
        for (address, _) in &listed {
            addresses_of
                .entry(AddressKey::of(address))
                .or_insert_with(|| (*address).clone());
        }
        for port in ports {
            let readiness = by_port.entry(port).or_default();
            for (address, is_ready) in &listed {
                // Not ready wins over ready.
                *readiness.entry(AddressKey::of(address)).or_insert(true) &= *is_ready;
            }
        }
    }
    // Ports served by exactly the same addresses, with the same readiness, share a subset.
    let mut groups: Vec<(BTreeMap<AddressKey, bool>, Vec<EndpointPort>)> = Vec::new();
    for (port, readiness) in by_port {
        let index = match groups.iter().position(|(r, _)| *r == readiness) {
            Some(i) => i,
            None => {
                groups.push((readiness, Vec::new()));
                groups.len() - 1
            }
        };
        if let Some(PortKey(port)) = port {
            groups[index].1.push(port);
        }
    }
    let mut repacked: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(readiness, ports)| {
            let pick = |ready: bool| {
                let list: Vec<EndpointAddress> = readiness
                    .iter()
                    .filter(|(_, r)| **r == ready)
                    .filter_map(|(k, _)| addresses_of.get(k).cloned())
                    .collect();
                (!list.is_empty()).then_some(list)
            };
            EndpointSubset {
                addresses: pick(true),
                not_ready_addresses: pick(false),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect();
    repacked.sort_by_key(first_address);
    repacked
}

fn first_address(subset: &EndpointSubset) -> Option<AddressKey> {
    subset
        .addresses
        .iter()
        .chain(subset.not_ready_addresses.iter())
        .flatten()
        .next()
        .map(AddressKey::of)
}

/// An address is identified by its IP and the object it belongs to; ordered by IP text, as
/// upstream's `LessEndpointAddress` compares the IP strings' bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct AddressKey {
    ip: String,
    uid: String,
}

impl AddressKey {
    fn of(address: &EndpointAddress) -> Self {
        AddressKey {
            ip: address.ip.clone(),
            uid: address
                .target_ref
                .as_ref()
                .and_then(|r| r.uid.clone())
                .unwrap_or_default(),
        }
    }
}

/// A port, ordered by number, protocol, name and application protocol.
#[derive(Clone, Debug)]
struct PortKey(EndpointPort);

impl PortKey {
    fn tuple(&self) -> (i32, &str, &str, &str) {
        let p = &self.0;
        (
            p.port,
            p.protocol.as_deref().unwrap_or(""),
            p.name.as_deref().unwrap_or(""),
            p.app_protocol.as_deref().unwrap_or(""),
        )
    }
}

impl PartialEq for PortKey {
    fn eq(&self, other: &Self) -> bool {
        self.tuple() == other.tuple()
    }
}

impl Eq for PortKey {}

impl PartialOrd for PortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.tuple().cmp(&other.tuple())
    }
}
