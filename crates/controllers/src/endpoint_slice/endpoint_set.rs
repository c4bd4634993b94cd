//! Identities of EndpointSlice contents, shared by the EndpointSlice and mirroring
//! controllers: an endpoint is known by its addresses, hostname and target (upstream's
//! `hashEndpoint`), a slice's ports by their set (`NewPortMapKey`). Other fields may change
//! in place.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort};

/// What makes an endpoint the same endpoint across passes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct EndpointKey {
    addresses: Vec<String>,
    hostname: String,
    namespace: String,
    name: String,
}

impl EndpointKey {
    pub(crate) fn of(endpoint: &Endpoint) -> Self {
        let mut addresses = endpoint.addresses.clone();
        addresses.sort();
        let target = endpoint.target_ref.as_ref();
        EndpointKey {
            addresses,
            hostname: endpoint.hostname.clone().unwrap_or_default(),
            namespace: target.and_then(|t| t.namespace.clone()).unwrap_or_default(),
            name: target.and_then(|t| t.name.clone()).unwrap_or_default(),
        }
    }
}

/// Desired endpoints by identity. Taken out in key order (upstream takes any), so the same
/// inputs always give the same slices.
#[derive(Clone, Debug, Default)]
pub(crate) struct EndpointSet {
    endpoints: BTreeMap<EndpointKey, Endpoint>,
}

impl EndpointSet {
    pub(crate) fn insert(&mut self, endpoint: Endpoint) {
        self.endpoints.insert(EndpointKey::of(&endpoint), endpoint);
    }

    /// The desired version of an endpoint with the same identity.
    pub(crate) fn get(&self, endpoint: &Endpoint) -> Option<&Endpoint> {
        self.endpoints.get(&EndpointKey::of(endpoint))
    }

    pub(crate) fn remove(&mut self, endpoint: &Endpoint) {
        self.endpoints.remove(&EndpointKey::of(endpoint));
    }

    pub(crate) fn pop_first(&mut self) -> Option<Endpoint> {
        self.endpoints.pop_first().map(|(_, e)| e)
    }

    pub(crate) fn len(&self) -> usize {
        self.endpoints.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }
}

/// `EndpointsEqualBeyondHash`: node, zone, conditions and target (bar its resourceVersion)
/// agree; addresses and hostname are already equal by identity.
pub(crate) fn equal_beyond_key(a: &Endpoint, b: &Endpoint) -> bool {
    let target = |e: &Endpoint| {
        e.target_ref.clone().map(|r| ObjectReference {
            resource_version: None,
            ..r
        })
    };
    let conditions = |e: &Endpoint| {
        let c = e.conditions.clone().unwrap_or_default();
        (c.ready, c.serving, c.terminating)
    };
    a.node_name == b.node_name
        && a.zone == b.zone
        && conditions(a) == conditions(b)
        && target(a) == target(b)
}

/// A set of slice ports, whatever their order; a missing name is the empty name and a
/// missing protocol TCP, as the API server defaults them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PortsKey(Vec<(String, i32, String, String)>);

impl PortsKey {
    pub(crate) fn of(ports: &[EndpointPort]) -> Self {
        let mut key: Vec<(String, i32, String, String)> = ports
            .iter()
            .map(|p| {
                (
                    p.name.clone().unwrap_or_default(),
                    p.port.unwrap_or(0),
                    p.protocol.clone().unwrap_or_else(|| "TCP".to_string()),
                    p.app_protocol.clone().unwrap_or_default(),
                )
            })
            .collect();
        key.sort();
        PortsKey(key)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn endpoint(value: serde_json::Value) -> Endpoint {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn identity_ignores_conditions_and_order() {
        let a = endpoint(
            json!({"addresses": ["10.1.1.2", "10.1.1.1"], "conditions": {"ready": true},
            "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "resourceVersion": "1"}}),
        );
        let b = endpoint(
            json!({"addresses": ["10.1.1.1", "10.1.1.2"], "conditions": {"ready": false},
            "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "resourceVersion": "2"}}),
        );
        assert_eq!(EndpointKey::of(&a), EndpointKey::of(&b));
        assert!(!equal_beyond_key(&a, &b));
        let b_ready = endpoint(
            json!({"addresses": ["10.1.1.1"], "conditions": {"ready": true},
            "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "resourceVersion": "2"}}),
        );
        assert!(equal_beyond_key(&a, &b_ready));
    }

    #[test]
    fn port_sets_ignore_order_and_defaults() {
        let ports =
            |v: serde_json::Value| -> Vec<EndpointPort> { serde_json::from_value(v).unwrap() };
        assert_eq!(
            PortsKey::of(&ports(
                json!([{"port": 80}, {"name": "b", "port": 81, "protocol": "UDP"}])
            )),
            PortsKey::of(&ports(
                json!([{"name": "b", "port": 81, "protocol": "UDP"}, {"name": "", "port": 80, "protocol": "TCP"}])
            ))
        );
    }
}
