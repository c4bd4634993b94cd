//! Cluster IPs of one service CIDR, as kube-apiserver's bitmap `ipallocator.Range` hands them.

use std::net::Ipv4Addr;

use crate::bitmap::{static_band, BandedBitmap};
use crate::{IpamError, Ipv4Cidr};

/// The smallest prefix kube-apiserver accepts for an IPv4 service CIDR.
pub const MIN_SERVICE_PREFIX: u8 = 12;

/// Cluster IPs of one service CIDR.
///
/// The network and broadcast addresses are never handed out. IPs users ask for by number
/// (`10.96.0.1` for `kubernetes`, `10.96.0.10` for DNS) may come from anywhere; dynamic
/// allocation picks a random free IP of the upper band first (see [`static_band_size`]).
#[derive(Debug, Clone)]
pub struct ServiceIpAllocator {
    cidr: Ipv4Cidr,
    bits: BandedBitmap,
}

impl ServiceIpAllocator {
    /// An allocator whose random choices are seeded from the operating system.
    pub fn new(cidr: Ipv4Cidr) -> Self {
        Self::with_seed(cidr, rand::random())
    }

    /// An allocator whose random choices are fixed by `seed` (for tests and replays).
    ///
    /// A CIDR shorter than [`MIN_SERVICE_PREFIX`] (which [`check_service_cidr`] refuses)
    /// only uses its first 2^20 addresses, so the bitmap stays small.
    pub fn with_seed(cidr: Ipv4Cidr, seed: u64) -> Self {
        let size = cidr.size().min(1 << (32 - MIN_SERVICE_PREFIX));
        // Upstream excludes the network address (offset 0 is network + 1) and, for IPv4,
        // the broadcast address, without ever allocating them.
        let usable = size.saturating_sub(2);
        ServiceIpAllocator {
            cidr,
            bits: BandedBitmap::new(usable, static_band_size(size), seed),
        }
    }

    pub fn cidr(&self) -> Ipv4Cidr {
        self.cidr
    }

    /// Is `ip` one this allocator can hand out (inside the CIDR, not network or broadcast)?
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.offset(ip).is_some()
    }

    /// Is `ip` currently allocated?
    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.offset(ip).is_some_and(|o| self.bits.is_set(o))
    }

    /// Reserves a requested IP.
    pub fn allocate(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        let offset = self.offset(ip).ok_or(IpamError::IpNotInRange {
            ip,
            range: self.cidr,
        })?;
        if self.bits.set(offset) {
            Ok(())
        } else {
            Err(IpamError::IpAllocated)
        }
    }

    /// Reserves a free IP of the dynamic band (or, when that is full, of the static band).
    pub fn allocate_next(&mut self) -> Result<Ipv4Addr, IpamError> {
        let offset = self.bits.take_next().ok_or(IpamError::Full)?;
        self.cidr.nth_host(offset + 1).ok_or(IpamError::Full)
    }

    /// Frees `ip`; freeing a free or foreign IP does nothing, as upstream.
    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(offset) = self.offset(ip) {
            self.bits.clear(offset);
        }
    }

    /// Number of allocated IPs.
    pub fn used(&self) -> u64 {
        self.bits.used()
    }

    /// Number of IPs still free.
    pub fn free(&self) -> u64 {
        self.bits.len() - self.bits.used()
    }

    fn offset(&self, ip: Ipv4Addr) -> Option<u64> {
        let index = self.cidr.host_index(ip)?;
        index
            .checked_sub(1)
            .filter(|&offset| offset < self.bits.len())
    }
}

/// How many IPs at the start of a CIDR of `size` addresses are kept for static requests:
/// `min(max(16, size / 16), 256)`, none for 16 addresses or fewer. For `10.96.0.0/12` that is
/// `10.96.0.1`-`10.96.1.0`.
pub fn static_band_size(size: u64) -> u64 {
    static_band(size, 16, 256, 16)
}

/// Refuses service CIDRs kube-apiserver refuses (`--service-cluster-ip-range` wider than /12).
pub fn check_service_cidr(cidr: Ipv4Cidr) -> Result<(), IpamError> {
    if cidr.prefix() < MIN_SERVICE_PREFIX {
        return Err(IpamError::ServiceCidrTooLarge);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn default_range(seed: u64) -> ServiceIpAllocator {
        ServiceIpAllocator::with_seed("10.96.0.0/12".parse().unwrap(), seed)
    }

    #[test]
    fn requested_ips_are_honoured_once() {
        let mut a = default_range(1);
        assert_eq!(a.allocate(ip("10.96.0.1")), Ok(()));
        assert_eq!(a.allocate(ip("10.96.0.10")), Ok(()));
        assert_eq!(a.allocate(ip("10.96.0.1")), Err(IpamError::IpAllocated));
        assert_eq!(
            a.allocate(ip("10.96.0.1")).unwrap_err().to_string(),
            "provided IP is already allocated"
        );
        assert!(a.is_allocated(ip("10.96.0.10")));
        assert_eq!(a.used(), 2);
        assert_eq!(a.free(), (1 << 20) - 2 - 2);
    }

    #[test]
    fn network_broadcast_and_foreign_ips_are_not_in_range() {
        let mut a = default_range(1);
        assert_eq!(
            a.allocate(ip("10.0.0.1")).unwrap_err().to_string(),
            "the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12"
        );
        for edge in ["10.96.0.0", "10.111.255.255", "10.112.0.0"] {
            assert!(!a.contains(ip(edge)), "{edge}");
            assert!(a.allocate(ip(edge)).is_err(), "{edge}");
        }
        assert!(a.contains(ip("10.111.255.254")));
    }

    #[test]
    fn dynamic_ips_come_from_the_upper_band() {
        let mut a = default_range(42);
        for _ in 0..1000 {
            let got = a.allocate_next().unwrap();
            assert!(u32::from(got) > u32::from(ip("10.96.1.0")), "{got}");
            assert!(a.cidr().contains(got));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_ips() {
        let (mut a, mut b) = (default_range(9), default_range(9));
        let xs: Vec<_> = (0..20).map(|_| a.allocate_next().unwrap()).collect();
        let ys: Vec<_> = (0..20).map(|_| b.allocate_next().unwrap()).collect();
        assert_eq!(xs, ys);
    }

    #[test]
    fn a_small_range_fills_up_then_frees() {
        let mut a = ServiceIpAllocator::with_seed("10.0.0.0/29".parse().unwrap(), 3);
        let mut got: Vec<_> = (0..6).map(|_| a.allocate_next().unwrap()).collect();
        assert_eq!(a.allocate_next(), Err(IpamError::Full));
        got.sort();
        assert_eq!(got.first(), Some(&ip("10.0.0.1")));
        assert_eq!(got.last(), Some(&ip("10.0.0.6")));
        a.release(ip("10.0.0.4"));
        a.release(ip("10.0.0.4"));
        a.release(ip("192.168.0.1"));
        assert_eq!(a.allocate_next(), Ok(ip("10.0.0.4")));
    }

    #[test]
    fn the_lower_band_serves_when_the_upper_is_full() {
        // A /27 has 30 usable IPs and keeps the first 16 static.
        let mut a = ServiceIpAllocator::with_seed("10.0.0.0/27".parse().unwrap(), 5);
        let first: Vec<_> = (0..14).map(|_| a.allocate_next().unwrap()).collect();
        assert!(first.iter().all(|x| x.octets()[3] > 16), "{first:?}");
        let next = a.allocate_next().unwrap();
        assert!(next.octets()[3] <= 16, "{next}");
    }

    #[test]
    fn wide_cidrs_are_refused() {
        assert_eq!(
            check_service_cidr("10.0.0.0/8".parse().unwrap())
                .unwrap_err()
                .to_string(),
            "specified --service-cluster-ip-range is too large; for 32-bit addresses, the mask must be >= 12"
        );
        assert_eq!(check_service_cidr("10.96.0.0/12".parse().unwrap()), Ok(()));
    }
}
