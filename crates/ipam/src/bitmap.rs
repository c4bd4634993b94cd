//! A fixed-size bitmap with random and first-free search, the allocators' state.

use rand::Rng;

#[derive(Debug, Clone)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    len: u64,
    count: u64,
}

impl Bitmap {
    pub fn new(len: u64) -> Self {
        let words = usize::try_from(len.div_ceil(64)).unwrap_or(0);
        Bitmap { words: vec![0; words], len, count: 0 }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    fn word(i: u64) -> (usize, u64) {
        (usize::try_from(i / 64).unwrap_or(usize::MAX), 1u64 << (i % 64))
    }

    pub fn is_set(&self, i: u64) -> bool {
        let (w, bit) = Self::word(i);
        i < self.len && self.words.get(w).is_some_and(|x| x & bit != 0)
    }

    /// Sets bit `i`; false if it was already set or out of range.
    pub fn set(&mut self, i: u64) -> bool {
        if i >= self.len || self.is_set(i) {
            return false;
        }
        let (w, bit) = Self::word(i);
        if let Some(x) = self.words.get_mut(w) {
            *x |= bit;
            self.count += 1;
            return true;
        }
        false
    }

    pub fn clear(&mut self, i: u64) {
        if !self.is_set(i) {
            return;
        }
        let (w, bit) = Self::word(i);
        if let Some(x) = self.words.get_mut(w) {
            *x &= !bit;
            self.count -= 1;
        }
    }

    /// Takes a free bit in `[from, to)`, starting the scan at a random point.
    pub fn take_random(&mut self, from: u64, to: u64) -> Option<u64> {
        let to = to.min(self.len);
        if from >= to {
            return None;
        }
        let span = to - from;
        let start = rand::rng().random_range(0..span);
        (0..span)
            .map(|k| from + (start + k) % span)
            .find(|&i| !self.is_set(i))
            .inspect(|&i| {
                self.set(i);
            })
    }

    /// Takes the lowest free bit.
    pub fn take_first(&mut self) -> Option<u64> {
        let i = (0..self.len).find(|&i| !self.is_set(i))?;
        self.set(i);
        Some(i)
    }
}
