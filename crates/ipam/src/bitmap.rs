//! The allocators' state: a fixed-size bitmap of taken offsets, and upstream's search for a
//! free one ("random scan with offset", `pkg/registry/core/service/allocator`).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Offsets `0..len`, each free or taken.
///
/// Invariant: `count` is the number of set bits.
#[derive(Debug, Clone)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    len: u64,
    count: u64,
}

impl Bitmap {
    pub(crate) fn new(len: u64) -> Self {
        let words = usize::try_from(len.div_ceil(64)).unwrap_or(0);
        Bitmap {
            words: vec![0; words],
            len,
            count: 0,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    fn slot(&self, i: u64) -> Option<(usize, u64)> {
        (i < self.len).then(|| (usize::try_from(i / 64).unwrap_or(usize::MAX), 1 << (i % 64)))
    }

    pub(crate) fn is_set(&self, i: u64) -> bool {
        self.slot(i)
            .and_then(|(w, bit)| self.words.get(w).map(|word| word & bit != 0))
            .unwrap_or(false)
    }

    /// Takes offset `i`; false if it was already taken or is out of range.
    pub(crate) fn set(&mut self, i: u64) -> bool {
        let Some((w, bit)) = self.slot(i) else {
            return false;
        };
        match self.words.get_mut(w) {
            Some(word) if *word & bit == 0 => {
                *word |= bit;
                self.count += 1;
                true
            }
            _ => false,
        }
    }

    /// Frees offset `i`; freeing a free or out-of-range offset does nothing.
    pub(crate) fn clear(&mut self, i: u64) {
        let Some((w, bit)) = self.slot(i) else {
            return;
        };
        if let Some(word) = self.words.get_mut(w) {
            if *word & bit != 0 {
                *word &= !bit;
                self.count -= 1;
            }
        }
    }

    /// The first free offset of `from..to` at or after `start` (wrapping inside the span).
    pub(crate) fn first_free_from(&self, from: u64, to: u64, start: u64) -> Option<u64> {
        let to = to.min(self.len);
        let span = to.checked_sub(from).filter(|&s| s > 0)?;
        (0..span)
            .map(|k| from + (start + k) % span)
            .find(|&i| !self.is_set(i))
    }
}

/// A [`Bitmap`] whose dynamic allocations prefer the upper band.
///
/// Since Kubernetes 1.25 (service IPs, KEP-3070) and 1.27 (node ports, KEP-3668), the first
/// `static_band` offsets are left to values users ask for by number: `allocate_next` picks a
/// random free offset at or above `static_band` and only falls back to the lower band when the
/// upper one is full. That keeps e.g. `10.96.0.10` free for cluster DNS.
#[derive(Debug, Clone)]
pub(crate) struct BandedBitmap {
    bits: Bitmap,
    static_band: u64,
    rng: StdRng,
}

impl BandedBitmap {
    pub(crate) fn new(len: u64, static_band: u64, seed: u64) -> Self {
        BandedBitmap {
            bits: Bitmap::new(len),
            static_band: static_band.min(len),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.bits.len()
    }

    pub(crate) fn used(&self) -> u64 {
        self.bits.count()
    }

    pub(crate) fn is_set(&self, i: u64) -> bool {
        self.bits.is_set(i)
    }

    pub(crate) fn set(&mut self, i: u64) -> bool {
        self.bits.set(i)
    }

    pub(crate) fn clear(&mut self, i: u64) {
        self.bits.clear(i);
    }

    /// Takes a free offset: a random point of the upper band scanned forward, else the same
    /// in the lower band; `None` when every offset is taken.
    pub(crate) fn take_next(&mut self) -> Option<u64> {
        let len = self.bits.len();
        let band = self.static_band;
        let found = self.scan(band, len).or_else(|| self.scan(0, band))?;
        self.bits.set(found);
        Some(found)
    }

    fn scan(&mut self, from: u64, to: u64) -> Option<u64> {
        if from >= to {
            return None;
        }
        let start = self.rng.random_range(0..to - from);
        self.bits.first_free_from(from, to, start)
    }
}

/// Upstream's `calculateRangeOffset`: `min(max(min, size / step), max)`, or 0 for ranges of
/// at most `min` values (where banding would leave nothing dynamic).
pub(crate) fn static_band(size: u64, min: u64, max: u64, step: u64) -> u64 {
    if size <= min {
        return 0;
    }
    (size / step).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_clear_keep_the_count() {
        let mut b = Bitmap::new(130);
        assert!(b.set(0) && b.set(129) && b.set(64));
        assert!(!b.set(64), "already taken");
        assert!(!b.set(130), "out of range");
        assert_eq!(b.count(), 3);
        b.clear(64);
        b.clear(64);
        b.clear(500);
        assert_eq!(b.count(), 2);
        assert!(b.is_set(129) && !b.is_set(64) && !b.is_set(130));
    }

    #[test]
    fn scan_wraps_inside_its_span() {
        let mut b = Bitmap::new(10);
        for i in 5..10 {
            b.set(i);
        }
        assert_eq!(b.first_free_from(5, 10, 2), None);
        assert_eq!(b.first_free_from(0, 10, 7), Some(0));
        assert_eq!(b.first_free_from(2, 5, 1), Some(3));
    }

    #[test]
    fn dynamic_allocation_uses_the_upper_band_first() {
        let mut b = BandedBitmap::new(40, 16, 7);
        let mut taken: Vec<u64> = (0..24).filter_map(|_| b.take_next()).collect();
        assert!(taken.iter().all(|&i| i >= 16), "{taken:?}");
        taken.extend((0..16).filter_map(|_| b.take_next()));
        taken.sort_unstable();
        assert_eq!(taken, (0..40).collect::<Vec<_>>());
        assert_eq!(b.take_next(), None);
    }

    #[test]
    fn upstream_band_sizes() {
        // Service IPs: min 16, max 256, step 16.
        assert_eq!(static_band(1 << 20, 16, 256, 16), 256);
        assert_eq!(static_band(256, 16, 256, 16), 16);
        assert_eq!(static_band(16, 16, 256, 16), 0);
        // Node ports: min 16, max 128, step 32; 30000-32767 keeps 30000-30085 static.
        assert_eq!(static_band(2768, 16, 128, 32), 86);
    }
}
