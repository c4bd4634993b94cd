//! The dataplane's configuration: its table's name and the cluster's address ranges.

use std::net::Ipv4Addr;

use ferry_ipam::Ipv4Cidr;

/// What happens to pod traffic leaving for addresses outside the cluster and service ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodEgress {
    /// Masquerade it behind the node's address, as a CNI does on a real cluster.
    Masquerade,
    /// Leave the pod's address as it is (something else routes or NATs it).
    Keep,
}

/// How [`crate::NftDataplane`] programs the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftConfig {
    /// The name of ferry's own `ip` family table.
    pub table: String,
    /// The pods' range: traffic to a service from outside it is masqueraded (kube-proxy's
    /// `--cluster-cidr`).
    pub cluster_cidr: Ipv4Cidr,
    /// The ClusterIP range: traffic to it that matches no service port is rejected or dropped
    /// at the node, never routed on.
    pub service_cidr: Ipv4Cidr,
    /// The node-local DNS address: its port 53 traffic bypasses conntrack, and no service
    /// entry is programmed for it.
    pub dns_ip: Option<Ipv4Addr>,
    pub pod_egress: PodEgress,
}

impl Default for NftConfig {
    fn default() -> Self {
        NftConfig {
            table: "ferry".to_string(),
            cluster_cidr: Ipv4Cidr::constant(Ipv4Addr::new(10, 244, 0, 0), 16),
            service_cidr: Ipv4Cidr::constant(Ipv4Addr::new(10, 96, 0, 0), 12),
            dns_ip: None,
            pod_egress: PodEgress::Keep,
        }
    }
}
