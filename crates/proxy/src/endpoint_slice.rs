//! EndpointSlices as kube-proxy's `EndpointSliceCache` reads them: the few fields the proxy acts
//! on, and the merge of all slices of a Service into one endpoint list per service port.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use k8s_openapi::api::discovery::v1::{self as discovery, EndpointSlice};

use crate::meta::{selected_by_proxy, NamespacedName};
use crate::model::{Endpoint, ServicePortName, TransportProtocol};
use crate::service::transport_protocol;

/// `discovery.LabelServiceName`: names the Service a slice belongs to.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// An EndpointSlice reduced to what the proxy needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SliceInfo {
    /// The Service the slice belongs to (its `kubernetes.io/service-name` label).
    pub(crate) service: NamespacedName,
    ports: Vec<SlicePort>,
    endpoints: Vec<SliceEndpoint>,
}

/// Why an EndpointSlice contributes no endpoints.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Labelled for another proxy, or as headless.
    NotSelected,
    NoServiceName,
    /// Not `IPv4`: this proxy programs IPv4 for now, and FQDN slices never.
    AddressType(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SlicePort {
    name: String,
    protocol: TransportProtocol,
    port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SliceEndpoint {
    ip: Ipv4Addr,
    ready: bool,
    serving: bool,
    terminating: bool,
    is_local: bool,
}

/// Reads `slice` for a proxy on node `node_name`.
pub(crate) fn slice_info(slice: &EndpointSlice, node_name: &str) -> Result<SliceInfo, Skip> {
    if !selected_by_proxy(&slice.metadata) {
        return Err(Skip::NotSelected);
    }
    if slice.address_type != "IPv4" {
        return Err(Skip::AddressType(slice.address_type.clone()));
    }
    let service_name = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(SERVICE_NAME_LABEL))
        .filter(|name| !name.is_empty());
    let (Some(namespace), Some(service_name)) = (slice.metadata.namespace.as_ref(), service_name)
    else {
        return Err(Skip::NoServiceName);
    };
    Ok(SliceInfo {
        service: NamespacedName {
            namespace: namespace.clone(),
            name: service_name.clone(),
        },
        ports: slice
            .ports
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(slice_port)
            .collect(),
        endpoints: slice
            .endpoints
            .iter()
            .filter_map(|endpoint| slice_endpoint(endpoint, node_name))
            .collect(),
    })
}

/// The endpoints of service port `port` across `slices`: every slice port with the service
/// port's name and protocol contributes its endpoints at its own port number. An address listed
/// twice (an endpoint moving between slices, or an IP reused by a new pod while the old one
/// terminates) counts once, preferring a non-terminating entry, as kube-proxy does. Sorted by
/// address.
pub(crate) fn merged_endpoints<'a>(
    slices: impl IntoIterator<Item = &'a SliceInfo>,
    port: &ServicePortName,
) -> Vec<Endpoint> {
    let mut by_address: BTreeMap<SocketAddrV4, Endpoint> = BTreeMap::new();
    for slice in slices {
        let numbers = slice
            .ports
            .iter()
            .filter(|p| p.name == port.port && p.protocol == port.protocol)
            .map(|p| p.port);
        for number in numbers {
            for endpoint in &slice.endpoints {
                let endpoint = endpoint.at(number);
                match by_address.entry(endpoint.address) {
                    Entry::Vacant(entry) => {
                        entry.insert(endpoint);
                    }
                    Entry::Occupied(mut entry) if !endpoint.terminating => {
                        entry.insert(endpoint);
                    }
                    Entry::Occupied(_) => {}
                }
            }
        }
    }
    by_address.into_values().collect()
}

impl SliceEndpoint {
    fn at(&self, port: u16) -> Endpoint {
        Endpoint {
            address: SocketAddrV4::new(self.ip, port),
            ready: self.ready,
            serving: self.serving,
            terminating: self.terminating,
            is_local: self.is_local,
        }
    }
}

/// A slice port kube-proxy can use: named (the empty name included), with a non-zero number.
fn slice_port(port: &discovery::EndpointPort) -> Option<SlicePort> {
    Some(SlicePort {
        name: port.name.clone()?,
        protocol: transport_protocol(port.protocol.as_deref())?,
        port: port
            .port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)?,
    })
}

/// An endpoint's first address (the only one the proxy uses) with its conditions as the
/// EndpointSlice API defines their absence: ready counts as true, serving defers to ready,
/// terminating counts as false.
fn slice_endpoint(endpoint: &discovery::Endpoint, node_name: &str) -> Option<SliceEndpoint> {
    let ip = endpoint.addresses.first()?.parse().ok()?;
    let conditions = endpoint.conditions.as_ref();
    let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
    Some(SliceEndpoint {
        ip,
        ready,
        serving: conditions.and_then(|c| c.serving).unwrap_or(ready),
        terminating: conditions.and_then(|c| c.terminating).unwrap_or(false),
        is_local: !node_name.is_empty() && endpoint.node_name.as_deref() == Some(node_name),
    })
}
