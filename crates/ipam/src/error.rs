//! Why an allocation or a parse failed. The allocation texts are kube-apiserver's (and
//! kube-controller-manager's) own, because users see them in `kubectl` errors.

use std::net::Ipv4Addr;

use crate::{Ipv4Cidr, PortRange};

/// Errors of every allocator and parser in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// Kubernetes 1.32's `ipallocator.ErrNotInRange`.
    #[error("the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}")]
    IpNotInRange { ip: Ipv4Addr, range: Ipv4Cidr },
    #[error("provided IP is already allocated")]
    IpAllocated,
    /// `portallocator.ErrNotInRange`.
    #[error("provided port is not in the valid range. The range of valid ports is {range}")]
    PortNotInRange { port: u16, range: PortRange },
    #[error("provided port is already allocated")]
    PortAllocated,
    /// Every value of the range is taken.
    #[error("range is full")]
    Full,
    /// `cidrset.ErrCIDRRangeNoCIDRsRemaining`.
    #[error("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")]
    NoCidrsRemaining,
    #[error("cidr {cidr} is out the range of cluster cidr {cluster}")]
    CidrNotInCluster { cidr: Ipv4Cidr, cluster: Ipv4Cidr },
    /// `cidrset.ErrCIDRSetSubNetTooBig`: the per-node prefix is shorter than the cluster's.
    #[error("New CIDR set failed; the node CIDR size is too big")]
    NodeCidrTooBig,
    /// kube-apiserver refuses service CIDRs of more than 2^20 addresses.
    #[error("specified --service-cluster-ip-range is too large; for 32-bit addresses, the mask must be >= 12")]
    ServiceCidrTooLarge,
    #[error("invalid CIDR address: {input}")]
    InvalidCidr { input: String },
    #[error("unable to parse port range: {input}")]
    InvalidPortRange { input: String },
}
