//! The Service table: Type, Cluster-IP, External-IP (`<none>`, `<pending>`, load-balancer
//! addresses, the external name) and Port(s) such as `80:30123/TCP`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{LoadBalancerIngress, Service, ServicePort};
use k8s_openapi::jiff::Timestamp;

use super::{format_labels, name};
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

static COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text(
        "Type",
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.",
    ),
    Column::text(
        "Cluster-IP",
        "clusterIP is the IP address of the service and is usually assigned randomly.",
    ),
    Column::text(
        "External-IP",
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
    ),
    Column::text(
        "Port(s)",
        "The list of ports that are exposed by this service.",
    ),
    Column::AGE,
    Column::wide(
        "Selector",
        "Route service traffic to pods with label keys and values matching this selector.",
    ),
];

impl Printer for Service {
    fn columns() -> &'static [Column] {
        COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let spec = self.spec.clone().unwrap_or_default();
        let ports = port_string(spec.ports.as_deref().unwrap_or(&[]));
        vec![
            name(&self.metadata),
            Cell::Text(spec.type_.clone().unwrap_or_default()),
            Cell::Text(cluster_ip(self)),
            Cell::Text(external_ip(self)),
            Cell::Text(if ports.is_empty() {
                "<none>".to_string()
            } else {
                ports
            }),
            age(self.metadata.creation_timestamp.as_ref(), now),
            Cell::Text(format_labels(spec.selector.as_ref())),
        ]
    }
}

/// The first cluster IP, `None` for headless, `<none>` without one (ExternalName).
fn cluster_ip(service: &Service) -> String {
    let spec = service.spec.as_ref();
    // v1 → internal conversion makes `clusterIP` win over `clusterIPs[0]` when both are set.
    let primary = spec
        .and_then(|s| s.cluster_ip.clone())
        .filter(|ip| !ip.is_empty());
    let first = spec
        .and_then(|s| s.cluster_ips.as_ref())
        .and_then(|ips| ips.first().cloned());
    primary.or(first).unwrap_or_else(|| "<none>".to_string())
}

/// `getServiceExternalIP` with `wide` set, as the apiserver prints it.
fn external_ip(service: &Service) -> String {
    let spec = service.spec.clone().unwrap_or_default();
    let external_ips = spec.external_ips.unwrap_or_default();
    match spec.type_.as_deref().unwrap_or("") {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let ingress = service
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_deref())
                .unwrap_or(&[]);
            let mut addresses = load_balancer_addresses(ingress);
            addresses.extend(external_ips);
            if addresses.is_empty() {
                "<pending>".to_string()
            } else {
                addresses.join(",")
            }
        }
        "ExternalName" => spec.external_name.unwrap_or_default(),
        _ => "<unknown>".to_string(),
    }
}

/// The ingress IPs (or hostnames when there is no IP), deduplicated and sorted.
fn load_balancer_addresses(ingress: &[LoadBalancerIngress]) -> Vec<String> {
    let set: BTreeSet<String> = ingress
        .iter()
        .filter_map(|i| {
            let ip = i.ip.as_deref().filter(|s| !s.is_empty());
            ip.or(i.hostname.as_deref().filter(|s| !s.is_empty()))
                .map(str::to_string)
        })
        .collect();
    set.into_iter().collect()
}

/// `makePortString`: `port/PROTO` or `port:nodePort/PROTO`, joined by `,`.
fn port_string(ports: &[ServicePort]) -> String {
    let pieces: Vec<String> = ports
        .iter()
        .map(|p| {
            let protocol = p.protocol.as_deref().unwrap_or("TCP");
            match p.node_port.filter(|n| *n > 0) {
                Some(node_port) => format!("{}:{node_port}/{protocol}", p.port),
                None => format!("{}/{protocol}", p.port),
            }
        })
        .collect();
    pieces.join(",")
}
