//! IPv4 prefixes (`10.244.1.0/24`, `169.254.1.1/32`) for addresses and routes.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::Error;

/// An IPv4 address with a prefix length; as an address on a link it keeps its host bits, as a
/// route destination use [`Ipv4Cidr::network`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Cidr {
    /// `0.0.0.0/0`, the destination of a default route.
    pub const ANY: Ipv4Cidr = Ipv4Cidr {
        addr: Ipv4Addr::UNSPECIFIED,
        prefix_len: 0,
    };

    /// `addr/prefix_len`; fails for a length over 32.
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Result<Ipv4Cidr, Error> {
        if prefix_len > 32 {
            return Err(Error::Cidr {
                text: format!("{addr}/{prefix_len}"),
            });
        }
        Ok(Ipv4Cidr { addr, prefix_len })
    }

    /// The single address `addr/32`.
    pub fn host(addr: Ipv4Addr) -> Ipv4Cidr {
        Ipv4Cidr {
            addr,
            prefix_len: 32,
        }
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The same prefix with the host bits cleared (`10.244.1.7/24` → `10.244.1.0/24`).
    pub fn network(&self) -> Ipv4Cidr {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0);
        Ipv4Cidr {
            addr: Ipv4Addr::from(u32::from(self.addr) & mask),
            prefix_len: self.prefix_len,
        }
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || Error::Cidr {
            text: text.to_string(),
        };
        let (addr, len) = text.split_once('/').ok_or_else(invalid)?;
        let addr = addr.parse::<Ipv4Addr>().map_err(|_| invalid())?;
        let len = len.parse::<u8>().map_err(|_| invalid())?;
        Ipv4Cidr::new(addr, len).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_print_and_mask() {
        let cidr: Ipv4Cidr = "10.244.1.7/24".parse().unwrap();
        assert_eq!(cidr.to_string(), "10.244.1.7/24");
        assert_eq!(cidr.network().to_string(), "10.244.1.0/24");
        let all: Ipv4Cidr = "1.2.3.4/0".parse().unwrap();
        assert_eq!(all.network().to_string(), "0.0.0.0/0");
        assert_eq!(
            Ipv4Cidr::host(Ipv4Addr::new(169, 254, 1, 1)).to_string(),
            "169.254.1.1/32"
        );
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0/8", "x/8", "10.0.0.0/-1"] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }
}
