//! What the agent tells the proxy about the node it runs on.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The proxy's settings, parsed once by the agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// This node's name: endpoints whose `nodeName` equals it are local.
    pub node_name: String,
    /// Cluster IPs the proxy must never program, because the agent serves them itself (the
    /// node-local kube-dns address). Services with one of these cluster IPs stay out of the model.
    pub excluded_cluster_ips: BTreeSet<Ipv4Addr>,
}
