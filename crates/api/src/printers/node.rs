//! The Node table: Status from the Ready condition plus `SchedulingDisabled`, Roles from the
//! `node-role.kubernetes.io/*` labels, and the wide address and version columns.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, NodeSystemInfo};
use k8s_openapi::jiff::Timestamp;

use super::name;
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

/// A label `node-role.kubernetes.io/<role>` names a role.
const NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// The older `kubernetes.io/role: <role>` label.
const NODE_ROLE_LABEL: &str = "kubernetes.io/role";

static COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text("Status", "The status of the node"),
    Column::text("Roles", "The roles of the node"),
    Column::AGE,
    Column::text("Version", "Kubelet Version reported by the node."),
    Column::wide(
        "Internal-IP",
        "List of addresses reachable to the node. Queried from cloud provider, if available.",
    ),
    Column::wide(
        "External-IP",
        "List of addresses reachable to the node. Queried from cloud provider, if available.",
    ),
    Column::wide(
        "OS-Image",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    ),
    Column::wide(
        "Kernel-Version",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    ),
    Column::wide(
        "Container-Runtime",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    ),
];

impl Printer for Node {
    fn columns() -> &'static [Column] {
        COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let info = self
            .status
            .as_ref()
            .and_then(|s| s.node_info.clone())
            .unwrap_or_default();
        let NodeSystemInfo {
            kubelet_version,
            os_image,
            kernel_version,
            container_runtime_version,
            ..
        } = info;
        vec![
            name(&self.metadata),
            Cell::Text(status(self)),
            Cell::Text(roles(self)),
            age(self.metadata.creation_timestamp.as_ref(), now),
            Cell::Text(kubelet_version),
            Cell::Text(address(self, "InternalIP")),
            Cell::Text(address(self, "ExternalIP")),
            Cell::Text(or_unknown(os_image)),
            Cell::Text(or_unknown(kernel_version)),
            Cell::Text(or_unknown(container_runtime_version)),
        ]
    }
}

/// `Ready`, `NotReady` or `Unknown` (no Ready condition), then `SchedulingDisabled` if cordoned.
fn status(node: &Node) -> String {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().rev().find(|c| c.type_ == "Ready"));
    let mut parts = vec![match ready {
        Some(c) if c.status == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        parts.push("SchedulingDisabled");
    }
    parts.join(",")
}

/// The sorted roles, or `<none>`.
fn roles(node: &Node) -> String {
    let mut roles = BTreeSet::new();
    for (key, value) in node.metadata.labels.iter().flatten() {
        if let Some(role) = key.strip_prefix(NODE_ROLE_PREFIX) {
            if !role.is_empty() {
                roles.insert(role);
            }
        } else if key == NODE_ROLE_LABEL && !value.is_empty() {
            roles.insert(value.as_str());
        }
    }
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

/// The first address of a type, or `<none>`.
fn address(node: &Node, address_type: &str) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.iter().find(|a| a.type_ == address_type))
        .map_or_else(|| "<none>".to_string(), |a| a.address.clone())
}

fn or_unknown(value: String) -> String {
    if value.is_empty() {
        "<unknown>".to_string()
    } else {
        value
    }
}
