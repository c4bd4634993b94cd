//! Pod addresses from the node's pod CIDR.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::AgentError;

/// The free and used addresses of one pod CIDR. The network address, the first host address
/// (kept free, as a bridge CNI keeps it for its gateway) and the broadcast address are never
/// given out.
#[derive(Debug)]
pub(crate) struct IpPool {
    cidr: String,
    first: u32,
    last: u32,
    used: BTreeSet<u32>,
    /// Where the next search starts, so a freed address is not reused at once.
    next: u32,
}

impl IpPool {
    pub(crate) fn new(cidr: &str) -> Result<IpPool, AgentError> {
        let bad = || AgentError::PodCidr {
            text: cidr.to_string(),
        };
        let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let len: u32 = len.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&len) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - len);
        let network = u32::from(addr) & mask;
        let broadcast = network | !mask;
        Ok(IpPool {
            cidr: cidr.to_string(),
            first: network + 2,
            last: broadcast - 1,
            used: BTreeSet::new(),
            next: network + 2,
        })
    }

    pub(crate) fn allocate(&mut self) -> Result<Ipv4Addr, AgentError> {
        let size = self.last - self.first + 1;
        for offset in 0..size {
            let candidate = self.first + (self.next - self.first + offset) % size;
            if self.used.insert(candidate) {
                self.next = if candidate == self.last {
                    self.first
                } else {
                    candidate + 1
                };
                return Ok(Ipv4Addr::from(candidate));
            }
        }
        Err(AgentError::PodCidrFull {
            cidr: self.cidr.clone(),
        })
    }

    pub(crate) fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&u32::from(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_start_at_two_and_run_out() {
        let mut pool = IpPool::new("10.244.1.0/30").unwrap();
        assert_eq!(pool.allocate().unwrap(), Ipv4Addr::new(10, 244, 1, 2));
        assert!(pool.allocate().is_err());
        pool.release(Ipv4Addr::new(10, 244, 1, 2));
        assert_eq!(pool.allocate().unwrap(), Ipv4Addr::new(10, 244, 1, 2));
    }

    #[test]
    fn bad_cidrs_are_refused() {
        for text in ["10.244.0.0", "x/24", "10.244.0.0/31"] {
            assert!(IpPool::new(text).is_err(), "{text}");
        }
    }
}
