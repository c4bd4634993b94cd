//! Node ports of one range, as kube-apiserver's `portallocator.PortAllocator` hands them.

use crate::bitmap::{static_band, BandedBitmap};
use crate::{IpamError, PortRange};

/// Node ports of one range (by default 30000-32767).
///
/// Dynamic allocation picks a random free port of the upper band first, leaving the lower band
/// (30000-30085 by default) to ports users ask for by number.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    range: PortRange,
    bits: BandedBitmap,
}

impl PortAllocator {
    /// An allocator whose random choices are seeded from the operating system.
    pub fn new(range: PortRange) -> Self {
        Self::with_seed(range, rand::random())
    }

    /// An allocator whose random choices are fixed by `seed`.
    pub fn with_seed(range: PortRange, seed: u64) -> Self {
        let size = range.size();
        PortAllocator {
            range,
            bits: BandedBitmap::new(size, static_band(size, 16, 128, 32), seed),
        }
    }

    pub fn range(&self) -> PortRange {
        self.range
    }

    pub fn contains(&self, port: u16) -> bool {
        self.range.contains(port)
    }

    pub fn is_allocated(&self, port: u16) -> bool {
        self.offset(port).is_some_and(|o| self.bits.is_set(o))
    }

    /// Reserves a requested port.
    pub fn allocate(&mut self, port: u16) -> Result<(), IpamError> {
        let offset = self.offset(port).ok_or(IpamError::PortNotInRange {
            port,
            range: self.range,
        })?;
        if self.bits.set(offset) {
            Ok(())
        } else {
            Err(IpamError::PortAllocated)
        }
    }

    /// Reserves a free port.
    pub fn allocate_next(&mut self) -> Result<u16, IpamError> {
        let offset = self.bits.take_next().ok_or(IpamError::Full)?;
        u16::try_from(u64::from(self.range.first()) + offset).map_err(|_| IpamError::Full)
    }

    /// Frees `port`; freeing a free or foreign port does nothing.
    pub fn release(&mut self, port: u16) {
        if let Some(offset) = self.offset(port) {
            self.bits.clear(offset);
        }
    }

    pub fn used(&self) -> u64 {
        self.bits.used()
    }

    pub fn free(&self) -> u64 {
        self.bits.len() - self.bits.used()
    }

    fn offset(&self, port: u16) -> Option<u64> {
        self.range
            .contains(port)
            .then(|| u64::from(port - self.range.first()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_range(seed: u64) -> PortAllocator {
        PortAllocator::with_seed(PortRange::default(), seed)
    }

    #[test]
    fn messages_are_upstream() {
        let mut p = default_range(1);
        assert_eq!(
            p.allocate(80).unwrap_err().to_string(),
            "provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
        assert_eq!(p.allocate(30123), Ok(()));
        assert_eq!(
            p.allocate(30123).unwrap_err().to_string(),
            "provided port is already allocated"
        );
        assert!(p.is_allocated(30123) && !p.is_allocated(30124));
    }

    #[test]
    fn dynamic_ports_avoid_the_static_band() {
        let mut p = default_range(11);
        for _ in 0..500 {
            let port = p.allocate_next().unwrap();
            assert!((30086..=32767).contains(&port), "{port}");
        }
        assert_eq!(p.used(), 500);
    }

    #[test]
    fn a_full_range_says_so_and_recovers() {
        let mut p = PortAllocator::with_seed(PortRange::new(40000, 40003).unwrap(), 2);
        let mut got: Vec<u16> = (0..4).map(|_| p.allocate_next().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, vec![40000, 40001, 40002, 40003]);
        assert_eq!(p.allocate_next(), Err(IpamError::Full));
        p.release(40002);
        assert_eq!(p.free(), 1);
        assert_eq!(p.allocate_next(), Ok(40002));
    }
}
