//! Pure allocators: service cluster IPs from the service CIDR, node ports from their range,
//! pod CIDRs for nodes. No IO and no Kubernetes types; the API server persists what these hand
//! out and rebuilds them from the store at start.

mod bitmap;
mod cidr;

use std::net::Ipv4Addr;

pub use cidr::{Ipv4Cidr, ParseError, PortRange};

use bitmap::Bitmap;

/// Why an allocation failed; the texts are kube-apiserver's allocator errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("provided IP is not in the valid range. The range of valid IPs is {0}")]
    IpNotInRange(Ipv4Cidr),
    #[error("provided IP is already allocated")]
    IpAllocated,
    #[error("range is full")]
    Full,
    #[error("provided port is not in the valid range. The range of valid ports is {0}")]
    PortNotInRange(PortRange),
    #[error("provided port is already allocated")]
    PortAllocated,
}

/// Cluster IPs of one service CIDR. As upstream since 1.25, the lower band of the range is
/// kept for IPs users request (so `10.96.0.10` for DNS is free when asked for) and dynamic
/// allocation takes the upper band first.
#[derive(Debug, Clone)]
pub struct ServiceIpAllocator {
    cidr: Ipv4Cidr,
    used: Bitmap,
    /// Offsets below this form the static band.
    static_band: u64,
}

impl ServiceIpAllocator {
    pub fn new(cidr: Ipv4Cidr) -> Self {
        let size = cidr.usable_hosts();
        let static_band = (size / 16).clamp(16, 256).min(size);
        ServiceIpAllocator { cidr, used: Bitmap::new(size), static_band }
    }

    /// Offset of `ip` among the usable hosts (network address excluded).
    fn offset(&self, ip: Ipv4Addr) -> Option<u64> {
        let n = self.cidr.host_index(ip)?;
        (n >= 1 && n <= self.used.len()).then(|| n - 1)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.offset(ip).is_some()
    }

    /// Allocates a requested IP.
    pub fn allocate(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        let offset = self.offset(ip).ok_or(IpamError::IpNotInRange(self.cidr))?;
        if self.used.set(offset) {
            Ok(())
        } else {
            Err(IpamError::IpAllocated)
        }
    }

    /// Allocates a free IP: a random one of the upper band, else of the lower band.
    pub fn allocate_next(&mut self) -> Result<Ipv4Addr, IpamError> {
        let upper = self.used.take_random(self.static_band, self.used.len());
        let offset = upper
            .or_else(|| self.used.take_random(0, self.static_band))
            .ok_or(IpamError::Full)?;
        self.cidr.nth_host(offset + 1).ok_or(IpamError::Full)
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(offset) = self.offset(ip) {
            self.used.clear(offset);
        }
    }

    pub fn used(&self) -> u64 {
        self.used.count()
    }
}

/// Node ports of one range, with the same banding as service IPs.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    range: PortRange,
    used: Bitmap,
    static_band: u64,
}

impl PortAllocator {
    pub fn new(range: PortRange) -> Self {
        let size = range.len();
        let static_band = (size / 32).clamp(16, 128).min(size);
        PortAllocator { range, used: Bitmap::new(size), static_band }
    }

    fn offset(&self, port: u16) -> Option<u64> {
        self.range.contains(port).then(|| u64::from(port - self.range.first))
    }

    pub fn allocate(&mut self, port: u16) -> Result<(), IpamError> {
        let offset = self.offset(port).ok_or(IpamError::PortNotInRange(self.range))?;
        if self.used.set(offset) {
            Ok(())
        } else {
            Err(IpamError::PortAllocated)
        }
    }

    pub fn allocate_next(&mut self) -> Result<u16, IpamError> {
        let offset = self
            .used
            .take_random(self.static_band, self.used.len())
            .or_else(|| self.used.take_random(0, self.static_band))
            .ok_or(IpamError::Full)?;
        u16::try_from(u64::from(self.range.first) + offset).map_err(|_| IpamError::Full)
    }

    pub fn release(&mut self, port: u16) {
        if let Some(offset) = self.offset(port) {
            self.used.clear(offset);
        }
    }

    pub fn used(&self) -> u64 {
        self.used.count()
    }
}

/// Pod CIDRs: node N gets the N-th /24 (or `node_prefix`) of the cluster CIDR.
#[derive(Debug, Clone)]
pub struct PodCidrAllocator {
    cluster: Ipv4Cidr,
    node_prefix: u8,
    used: Bitmap,
}

impl PodCidrAllocator {
    pub fn new(cluster: Ipv4Cidr, node_prefix: u8) -> Self {
        let count = 1u64 << node_prefix.saturating_sub(cluster.prefix()).min(32);
        PodCidrAllocator { cluster, node_prefix, used: Bitmap::new(count) }
    }

    fn subnet(&self, index: u64) -> Option<Ipv4Cidr> {
        let step = 1u64 << (32 - u32::from(self.node_prefix));
        let base = u64::from(u32::from(self.cluster.network())) + index * step;
        let addr = Ipv4Addr::from(u32::try_from(base).ok()?);
        Ipv4Cidr::new(addr, self.node_prefix).ok()
    }

    /// The lowest free subnet.
    pub fn allocate_next(&mut self) -> Result<Ipv4Cidr, IpamError> {
        let index = self.used.take_first().ok_or(IpamError::Full)?;
        self.subnet(index).ok_or(IpamError::Full)
    }

    /// Marks a subnet (from a node that already has one) as used.
    pub fn allocate(&mut self, subnet: Ipv4Cidr) -> Result<(), IpamError> {
        let index = self.index_of(subnet).ok_or(IpamError::IpNotInRange(self.cluster))?;
        if self.used.set(index) {
            Ok(())
        } else {
            Err(IpamError::IpAllocated)
        }
    }

    pub fn release(&mut self, subnet: Ipv4Cidr) {
        if let Some(index) = self.index_of(subnet) {
            self.used.clear(index);
        }
    }

    fn index_of(&self, subnet: Ipv4Cidr) -> Option<u64> {
        if subnet.prefix() != self.node_prefix || !self.cluster.contains(subnet.network()) {
            return None;
        }
        let step = 1u64 << (32 - u32::from(self.node_prefix));
        Some((u64::from(u32::from(subnet.network())) - u64::from(u32::from(self.cluster.network()))) / step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().expect("cidr")
    }

    #[test]
    fn service_ips_honour_requests_and_refuse_clashes() {
        let mut a = ServiceIpAllocator::new(cidr("10.96.0.0/12"));
        assert_eq!(a.allocate("10.96.0.1".parse().expect("ip")), Ok(()));
        assert_eq!(a.allocate("10.96.0.1".parse().expect("ip")), Err(IpamError::IpAllocated));
        assert_eq!(
            a.allocate("10.0.0.1".parse().expect("ip")).map_err(|e| e.to_string()),
            Err("provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12".to_string())
        );
        assert!(a.allocate("10.96.0.0".parse().expect("ip")).is_err(), "network address");
        assert!(a.allocate("10.111.255.255".parse().expect("ip")).is_err(), "broadcast address");
        let ip = a.allocate_next().expect("free ip");
        assert!(cidr("10.96.0.0/12").contains(ip));
        assert!(u32::from(ip) >= u32::from("10.96.1.0".parse::<Ipv4Addr>().expect("ip")), "dynamic band: {ip}");
        a.release(ip);
        assert_eq!(a.used(), 1);
    }

    #[test]
    fn small_ranges_fill_up() {
        let mut a = ServiceIpAllocator::new(cidr("10.0.0.0/29"));
        let mut got: Vec<Ipv4Addr> = (0..6).map(|_| a.allocate_next().expect("ip")).collect();
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 6);
        assert_eq!(a.allocate_next(), Err(IpamError::Full));
    }

    #[test]
    fn node_ports_have_upstream_messages() {
        let mut p = PortAllocator::new("30000-32767".parse().expect("range"));
        assert_eq!(
            p.allocate(80).map_err(|e| e.to_string()),
            Err("provided port is not in the valid range. The range of valid ports is 30000-32767".to_string())
        );
        assert_eq!(p.allocate(30123), Ok(()));
        assert_eq!(p.allocate(30123).map_err(|e| e.to_string()), Err("provided port is already allocated".to_string()));
        let next = p.allocate_next().expect("port");
        assert!((30000..=32767).contains(&next) && next != 30123);
    }

    #[test]
    fn pod_cidrs_are_handed_out_in_order() {
        let mut p = PodCidrAllocator::new(cidr("10.244.0.0/16"), 24);
        assert_eq!(p.allocate_next(), Ok(cidr("10.244.0.0/24")));
        assert_eq!(p.allocate_next(), Ok(cidr("10.244.1.0/24")));
        p.release(cidr("10.244.0.0/24"));
        assert_eq!(p.allocate_next(), Ok(cidr("10.244.0.0/24")));
        assert_eq!(p.allocate(cidr("10.244.1.0/24")), Err(IpamError::IpAllocated));
    }

    proptest::proptest! {
        #[test]
        fn never_the_same_ip_twice(ops in proptest::collection::vec(proptest::bool::ANY, 1..300)) {
            let mut a = ServiceIpAllocator::new(cidr("10.96.0.0/24"));
            let mut held: Vec<Ipv4Addr> = Vec::new();
            for allocate in ops {
                if allocate || held.is_empty() {
                    if let Ok(ip) = a.allocate_next() {
                        proptest::prop_assert!(!held.contains(&ip));
                        proptest::prop_assert!(a.contains(ip));
                        held.push(ip);
                    }
                } else if let Some(ip) = held.pop() {
                    a.release(ip);
                }
                proptest::prop_assert_eq!(a.used(), held.len() as u64);
            }
        }
    }
}
