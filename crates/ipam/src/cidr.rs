//! IPv4 CIDRs and port ranges, parsed from the strings flags and users give.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A malformed CIDR or port range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {input:?}")]
pub struct ParseError {
    what: &'static str,
    input: String,
}

/// An IPv4 network such as `10.96.0.0/12` (the address is kept as its network address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, ParseError> {
        if prefix > 32 {
            return Err(ParseError { what: "CIDR prefix", input: prefix.to_string() });
        }
        let mask = Self::mask(prefix);
        Ok(Ipv4Cidr { network: Ipv4Addr::from(u32::from(addr) & mask), prefix })
    }

    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }

    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Number of addresses in the network.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Addresses other than the network and broadcast addresses.
    pub fn usable_hosts(&self) -> u64 {
        self.size().saturating_sub(2)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.prefix) == u32::from(self.network)
    }

    /// The `n`-th address of the network (0 = the network address).
    pub fn nth_host(&self, n: u64) -> Option<Ipv4Addr> {
        if n >= self.size() {
            return None;
        }
        let addr = u64::from(u32::from(self.network)) + n;
        u32::try_from(addr).ok().map(Ipv4Addr::from)
    }

    /// The index of `ip` in the network, if it is inside.
    pub fn host_index(&self, ip: Ipv4Addr) -> Option<u64> {
        self.contains(ip).then(|| u64::from(u32::from(ip) - u32::from(self.network)))
    }
}

impl FromStr for Ipv4Cidr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let err = || ParseError { what: "CIDR", input: s.to_string() };
        let (addr, prefix) = s.split_once('/').ok_or_else(err)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| err())?;
        let prefix: u8 = prefix.parse().map_err(|_| err())?;
        Ipv4Cidr::new(addr, prefix).map_err(|_| err())
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An inclusive port range such as `30000-32767`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    pub fn len(&self) -> u64 {
        u64::from(self.last - self.first) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl FromStr for PortRange {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let err = || ParseError { what: "port range", input: s.to_string() };
        let (a, b) = s.split_once('-').ok_or_else(err)?;
        let first: u16 = a.trim().parse().map_err(|_| err())?;
        let last: u16 = b.trim().parse().map_err(|_| err())?;
        if first == 0 || first > last {
            return Err(err());
        }
        Ok(PortRange { first, last })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let c: Ipv4Cidr = "10.96.5.7/12".parse().expect("cidr");
        assert_eq!(c.to_string(), "10.96.0.0/12");
        assert_eq!(c.nth_host(1), Some(Ipv4Addr::new(10, 96, 0, 1)));
        assert!(c.contains(Ipv4Addr::new(10, 111, 255, 254)));
        assert!(!c.contains(Ipv4Addr::new(10, 112, 0, 0)));
        assert!("10.96.0.0".parse::<Ipv4Cidr>().is_err());
        assert!("10.96.0.0/33".parse::<Ipv4Cidr>().is_err());
        let r: PortRange = "30000-32767".parse().expect("range");
        assert_eq!((r.len(), r.to_string()), (2768, "30000-32767".to_string()));
        assert!("5-1".parse::<PortRange>().is_err());
    }
}
