//! Per-node pod CIDRs cut from the cluster CIDR, as kube-controller-manager's range allocator
//! (`cidrset.CidrSet`) hands them: node N of a fresh cluster gets `10.244.N.0/24`.

use crate::bitmap::Bitmap;
use crate::{IpamError, Ipv4Cidr};

/// Subnets of one length cut from the cluster CIDR.
#[derive(Debug, Clone)]
pub struct PodCidrAllocator {
    cluster: Ipv4Cidr,
    node_prefix: u8,
    used: Bitmap,
    /// Where the next search starts: after the last subnet handed out, so a released subnet
    /// is not reused at once (routes to it may still be in flight), as upstream.
    next_candidate: u64,
}

impl PodCidrAllocator {
    /// Subnets of `/node_prefix` from `cluster` (kube-controller-manager's
    /// `--cluster-cidr` and `--node-cidr-mask-size`).
    pub fn new(cluster: Ipv4Cidr, node_prefix: u8) -> Result<Self, IpamError> {
        if node_prefix < cluster.prefix() || node_prefix > 32 {
            return Err(IpamError::NodeCidrTooBig);
        }
        let count = 1u64 << (node_prefix - cluster.prefix());
        Ok(PodCidrAllocator {
            cluster,
            node_prefix,
            used: Bitmap::new(count),
            next_candidate: 0,
        })
    }

    pub fn cluster(&self) -> Ipv4Cidr {
        self.cluster
    }

    /// The next free subnet after the last one handed out (wrapping around).
    pub fn allocate_next(&mut self) -> Result<Ipv4Cidr, IpamError> {
        let count = self.used.len();
        let index = self
            .used
            .first_free_from(0, count, self.next_candidate)
            .ok_or(IpamError::NoCidrsRemaining)?;
        let subnet = self
            .cluster
            .nth_subnet(self.node_prefix, index)
            .ok_or(IpamError::NoCidrsRemaining)?;
        self.used.set(index);
        self.next_candidate = (index + 1) % count;
        Ok(subnet)
    }

    /// Marks a subnet a node already has as used; occupying it twice is harmless.
    pub fn occupy(&mut self, subnet: Ipv4Cidr) -> Result<(), IpamError> {
        let index = self.index_of(subnet)?;
        self.used.set(index);
        Ok(())
    }

    /// Frees a subnet (its node is gone).
    pub fn release(&mut self, subnet: Ipv4Cidr) {
        if let Ok(index) = self.index_of(subnet) {
            self.used.clear(index);
        }
    }

    pub fn is_allocated(&self, subnet: Ipv4Cidr) -> bool {
        self.index_of(subnet).is_ok_and(|i| self.used.is_set(i))
    }

    pub fn used(&self) -> u64 {
        self.used.count()
    }

    fn index_of(&self, subnet: Ipv4Cidr) -> Result<u64, IpamError> {
        let outside = IpamError::CidrNotInCluster {
            cidr: subnet,
            cluster: self.cluster,
        };
        if subnet.prefix() != self.node_prefix {
            return Err(outside);
        }
        let offset = self.cluster.host_index(subnet.network()).ok_or(outside)?;
        Ok(offset >> (32 - u32::from(self.node_prefix)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    fn flannel_default() -> PodCidrAllocator {
        PodCidrAllocator::new(cidr("10.244.0.0/16"), 24).unwrap()
    }

    #[test]
    fn nodes_get_consecutive_subnets() {
        let mut p = flannel_default();
        let got: Vec<String> = (0..3)
            .map(|_| p.allocate_next().unwrap().to_string())
            .collect();
        assert_eq!(got, ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]);
        assert_eq!(p.used(), 3);
    }

    #[test]
    fn a_released_subnet_is_reused_only_after_a_full_turn() {
        let mut p = PodCidrAllocator::new(cidr("10.244.0.0/22"), 24).unwrap();
        let a = p.allocate_next().unwrap();
        p.allocate_next().unwrap();
        p.release(a);
        assert_eq!(p.allocate_next(), Ok(cidr("10.244.2.0/24")));
        assert_eq!(p.allocate_next(), Ok(cidr("10.244.3.0/24")));
        assert_eq!(p.allocate_next(), Ok(cidr("10.244.0.0/24")));
        assert_eq!(
            p.allocate_next().unwrap_err().to_string(),
            "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range"
        );
    }

    #[test]
    fn occupied_subnets_are_skipped() {
        let mut p = flannel_default();
        p.occupy(cidr("10.244.0.0/24")).unwrap();
        p.occupy(cidr("10.244.0.0/24")).unwrap();
        assert!(p.is_allocated(cidr("10.244.0.0/24")));
        assert_eq!(p.allocate_next(), Ok(cidr("10.244.1.0/24")));
        assert_eq!(
            p.occupy(cidr("10.245.0.0/24")).unwrap_err().to_string(),
            "cidr 10.245.0.0/24 is out the range of cluster cidr 10.244.0.0/16"
        );
        assert!(p.occupy(cidr("10.244.0.0/25")).is_err());
    }

    #[test]
    fn node_prefix_must_fit_in_the_cluster() {
        assert_eq!(
            PodCidrAllocator::new(cidr("10.244.0.0/16"), 8).unwrap_err(),
            IpamError::NodeCidrTooBig
        );
    }
}
