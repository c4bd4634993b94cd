//! IPv4 CIDRs and port ranges, parsed from the strings flags and users give, plus Go's lenient
//! ("sloppy") IPv4 parsing that Kubernetes validation accepts.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::IpamError;

/// An IPv4 network such as `10.96.0.0/12`.
///
/// Invariant: `network` has no bits set below the prefix (`10.96.5.7/12` parses to
/// `10.96.0.0/12`, as Go's `ParseCIDR` returns it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    /// The network of `addr` with `prefix` bits; the host bits of `addr` are dropped.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, IpamError> {
        if prefix > 32 {
            return Err(IpamError::InvalidCidr {
                input: format!("{addr}/{prefix}"),
            });
        }
        Ok(Ipv4Cidr {
            network: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }

    /// A network written in the code (a default): a prefix above 32 is taken as 32 and the
    /// host bits of `addr` are dropped, so it cannot fail.
    pub const fn constant(addr: Ipv4Addr, prefix: u8) -> Self {
        let prefix = if prefix > 32 { 32 } else { prefix };
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        Ipv4Cidr {
            network: Ipv4Addr::from_bits(addr.to_bits() & mask),
            prefix,
        }
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Number of addresses in the network, network and broadcast included.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The last address of the network.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network)
    }

    /// The `n`-th address of the network, counting the network address as 0:
    /// `10.96.0.0/12`.nth_host(10) is `10.96.0.10`.
    pub fn nth_host(&self, n: u64) -> Option<Ipv4Addr> {
        if n >= self.size() {
            return None;
        }
        u32::try_from(u64::from(u32::from(self.network)) + n)
            .ok()
            .map(Ipv4Addr::from)
    }

    /// The index of `ip` in the network (the inverse of [`Ipv4Cidr::nth_host`]).
    pub fn host_index(&self, ip: Ipv4Addr) -> Option<u64> {
        self.contains(ip)
            .then(|| u64::from(u32::from(ip) - u32::from(self.network)))
    }

    /// The `n`-th subnet of length `prefix` inside this network.
    pub fn nth_subnet(&self, prefix: u8, n: u64) -> Option<Ipv4Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let addr = self.nth_host(n.checked_mul(step)?)?;
        Ipv4Cidr::new(addr, prefix).ok()
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl FromStr for Ipv4Cidr {
    type Err = IpamError;

    /// Parses `a.b.c.d/n` the way Go's `ParseCIDRSloppy` does (leading zeros allowed).
    fn from_str(s: &str) -> Result<Self, IpamError> {
        let err = || IpamError::InvalidCidr {
            input: s.to_string(),
        };
        let (addr, prefix) = s.split_once('/').ok_or_else(err)?;
        let addr = parse_ipv4_sloppy(addr).ok_or_else(err)?;
        let prefix = decimal(prefix)
            .and_then(|p| u8::try_from(p).ok())
            .ok_or_else(err)?;
        Ipv4Cidr::new(addr, prefix).map_err(|_| err())
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Parses dotted-quad IPv4 text as Go's `net.ParseIP` did before 1.17 (and `ParseIPSloppy`
/// still does): each of the four fields is decimal, leading zeros allowed, at most 255.
/// Kubernetes accepts such addresses (`010.096.000.001` is `10.96.0.1`), so the allocators
/// must read them the same way.
pub fn parse_ipv4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut fields = s.split('.');
    for octet in &mut octets {
        *octet = u8::try_from(decimal(fields.next()?)?).ok()?;
    }
    fields.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// A non-empty run of ASCII digits as a number; `None` for anything else or on overflow.
fn decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u32, |n, b| {
        n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// An inclusive port range such as `30000-32767`.
///
/// Invariant: `first <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    pub fn new(first: u16, last: u16) -> Result<Self, IpamError> {
        if last < first {
            return Err(IpamError::InvalidPortRange {
                input: format!("{first}-{last}"),
            });
        }
        Ok(PortRange { first, last })
    }

    pub fn first(&self) -> u16 {
        self.first
    }

    pub fn last(&self) -> u16 {
        self.last
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    /// Number of ports in the range (never zero).
    pub fn size(&self) -> u64 {
        u64::from(self.last - self.first) + 1
    }
}

impl Default for PortRange {
    /// kube-apiserver's default `--service-node-port-range`.
    fn default() -> Self {
        PortRange {
            first: 30000,
            last: 32767,
        }
    }
}

impl FromStr for PortRange {
    type Err = IpamError;

    /// Parses the forms Go's `net.ParsePortRange` takes: `30000-32767`, `30000+2767`, `30000`.
    fn from_str(s: &str) -> Result<Self, IpamError> {
        let err = || IpamError::InvalidPortRange {
            input: s.to_string(),
        };
        let port = |t: &str| decimal(t.trim()).and_then(|p| u16::try_from(p).ok());
        let s_trim = s.trim();
        let (first, last) = match (s_trim.split_once('-'), s_trim.split_once('+')) {
            (Some((a, b)), None) => (port(a).ok_or_else(err)?, port(b).ok_or_else(err)?),
            (None, Some((a, n))) => {
                let first = port(a).ok_or_else(err)?;
                let last = first.checked_add(port(n).ok_or_else(err)?);
                (first, last.ok_or_else(err)?)
            }
            (None, None) => {
                let p = port(s_trim).ok_or_else(err)?;
                (p, p)
            }
            (Some(_), Some(_)) => return Err(err()),
        };
        PortRange::new(first, last).map_err(|_| err())
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
    fn cidrs_parse_to_their_network_and_print_back() {
        let c: Ipv4Cidr = "10.96.5.7/12".parse().unwrap();
        assert_eq!(c.to_string(), "10.96.0.0/12");
        assert_eq!(c.size(), 1 << 20);
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 111, 255, 255));
        assert_eq!(c.nth_host(1), Some(Ipv4Addr::new(10, 96, 0, 1)));
        assert_eq!(c.nth_host(10), Some(Ipv4Addr::new(10, 96, 0, 10)));
        assert_eq!(c.nth_host(1 << 20), None);
        assert_eq!(c.host_index(Ipv4Addr::new(10, 96, 1, 0)), Some(256));
        assert!(c.contains(Ipv4Addr::new(10, 111, 255, 254)));
        assert!(!c.contains(Ipv4Addr::new(10, 112, 0, 0)));
        assert_eq!("010.096.0.0/012".parse::<Ipv4Cidr>().unwrap(), c);
    }

    #[test]
    fn constants_keep_the_invariant() {
        let c = Ipv4Cidr::constant(Ipv4Addr::new(10, 96, 5, 7), 12);
        assert_eq!(c, "10.96.0.0/12".parse().unwrap());
        assert_eq!(
            Ipv4Cidr::constant(Ipv4Addr::new(1, 2, 3, 4), 0).to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            Ipv4Cidr::constant(Ipv4Addr::new(1, 2, 3, 4), 40).to_string(),
            "1.2.3.4/32"
        );
    }

    #[test]
    fn bad_cidrs_are_refused() {
        for bad in [
            "10.96.0.0",
            "10.96.0.0/33",
            "10.96.0/12",
            "10.96.0.0/",
            "a/8",
            "1.2.3.4/-1",
        ] {
            assert_eq!(
                bad.parse::<Ipv4Cidr>(),
                Err(IpamError::InvalidCidr {
                    input: bad.to_string()
                }),
                "{bad}"
            );
        }
        assert_eq!(
            "10.96.0.0/x".parse::<Ipv4Cidr>().unwrap_err().to_string(),
            "invalid CIDR address: 10.96.0.0/x"
        );
    }

    #[test]
    fn sloppy_ipv4_takes_leading_zeros_like_go() {
        assert_eq!(
            parse_ipv4_sloppy("010.096.000.001"),
            Some(Ipv4Addr::new(10, 96, 0, 1))
        );
        for bad in [
            "256.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            " 1.2.3.4",
            "::1",
            "",
        ] {
            assert_eq!(parse_ipv4_sloppy(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn subnets_step_through_the_network() {
        let c: Ipv4Cidr = "10.244.0.0/16".parse().unwrap();
        assert_eq!(
            c.nth_subnet(24, 3).map(|s| s.to_string()),
            Some("10.244.3.0/24".to_string())
        );
        assert_eq!(c.nth_subnet(24, 256), None);
        assert_eq!(c.nth_subnet(8, 0), None);
    }

    #[test]
    fn port_ranges_in_every_notation() {
        let r: PortRange = "30000-32767".parse().unwrap();
        assert_eq!((r.size(), r.to_string()), (2768, "30000-32767".to_string()));
        assert_eq!(r, PortRange::default());
        assert_eq!("30000+2767".parse::<PortRange>().unwrap(), r);
        assert_eq!(
            "8080".parse::<PortRange>().unwrap(),
            PortRange::new(8080, 8080).unwrap()
        );
        for bad in ["5-1", "1-70000", "a-b", "1-2+3", "", "65535+1"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad:?}");
        }
        assert_eq!(
            "5-1".parse::<PortRange>().unwrap_err().to_string(),
            "unable to parse port range: 5-1"
        );
    }
}
