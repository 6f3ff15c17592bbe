//! A three-level bitmap over up to 64^3 = 262 144 slots: find the next or
//! previous set slot from any position in a few word operations (the
//! find-first-set structure behind the deadline queue).

/// Most slots a [`Bitmap3`] can hold.
pub const MAX_SLOTS: usize = 64 * 64 * 64;

#[derive(Debug, Clone)]
pub struct Bitmap3 {
    l0: Vec<u64>,
    l1: Vec<u64>,
    l2: u64,
    slots: usize,
}

impl Bitmap3 {
    /// `slots` must be a multiple of 64 between 64 and [`MAX_SLOTS`].
    pub fn new(slots: usize) -> Bitmap3 {
        assert!(slots % 64 == 0 && (64..=MAX_SLOTS).contains(&slots), "bitmap size {slots}");
        let w0 = slots / 64;
        Bitmap3 { l0: vec![0; w0], l1: vec![0; w0.div_ceil(64)], l2: 0, slots }
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    #[inline(always)]
    pub fn set(&mut self, i: usize) {
        let (w0, w1) = (i / 64, i / 4096);
        self.l0[w0] |= 1 << (i % 64);
        self.l1[w1] |= 1 << (w0 % 64);
        self.l2 |= 1 << w1;
    }

    #[inline(always)]
    pub fn clear(&mut self, i: usize) {
        let (w0, w1) = (i / 64, i / 4096);
        self.l0[w0] &= !(1 << (i % 64));
        if self.l0[w0] == 0 {
            self.l1[w1] &= !(1 << (w0 % 64));
            if self.l1[w1] == 0 {
                self.l2 &= !(1 << w1);
            }
        }
    }

    #[inline(always)]
    pub fn get(&self, i: usize) -> bool {
        self.l0[i / 64] >> (i % 64) & 1 == 1
    }

    pub fn is_empty(&self) -> bool {
        self.l2 == 0
    }

    /// First set slot at or after `from` (no wrap).
    #[inline]
    pub fn next_from(&self, from: usize) -> Option<usize> {
        if from >= self.slots {
            return None;
        }
        let w0 = from / 64;
        let b = self.l0[w0] & (u64::MAX << (from % 64));
        if b != 0 {
            return Some(w0 * 64 + b.trailing_zeros() as usize);
        }
        // Next non-empty level-0 word after w0.
        let n0 = w0 + 1;
        let w1 = n0 / 64;
        if n0 < self.l0.len() {
            let b1 = self.l1[w1] & (u64::MAX << (n0 % 64));
            if b1 != 0 {
                let w = w1 * 64 + b1.trailing_zeros() as usize;
                return Some(w * 64 + self.l0[w].trailing_zeros() as usize);
            }
        }
        let n1 = w1 + 1;
        if n1 >= 64 {
            return None;
        }
        let b2 = self.l2 & (u64::MAX << n1);
        if b2 == 0 {
            return None;
        }
        let v1 = b2.trailing_zeros() as usize;
        let w = v1 * 64 + self.l1[v1].trailing_zeros() as usize;
        Some(w * 64 + self.l0[w].trailing_zeros() as usize)
    }

    /// Last set slot at or before `from` (no wrap).
    #[inline]
    pub fn prev_from(&self, from: usize) -> Option<usize> {
        let from = from.min(self.slots - 1);
        let w0 = from / 64;
        let keep = |bit: usize| if bit == 63 { u64::MAX } else { (1u64 << (bit + 1)) - 1 };
        let b = self.l0[w0] & keep(from % 64);
        if b != 0 {
            return Some(w0 * 64 + 63 - b.leading_zeros() as usize);
        }
        if w0 > 0 {
            let p0 = w0 - 1;
            let w1 = p0 / 64;
            let b1 = self.l1[w1] & keep(p0 % 64);
            if b1 != 0 {
                let w = w1 * 64 + 63 - b1.leading_zeros() as usize;
                return Some(w * 64 + 63 - self.l0[w].leading_zeros() as usize);
            }
            if w1 > 0 {
                let b2 = self.l2 & keep(w1 - 1);
                if b2 != 0 {
                    let v1 = 63 - b2.leading_zeros() as usize;
                    let w = v1 * 64 + 63 - self.l1[v1].leading_zeros() as usize;
                    return Some(w * 64 + 63 - self.l0[w].leading_zeros() as usize);
                }
            }
        }
        None
    }

    /// First set slot going forward from `from`, wrapping round.
    #[inline]
    pub fn next_circular(&self, from: usize) -> Option<usize> {
        self.next_from(from).or_else(|| self.next_from(0))
    }

    /// Last set slot going backward from `from`, wrapping round.
    #[inline]
    pub fn prev_circular(&self, from: usize) -> Option<usize> {
        self.prev_from(from).or_else(|| self.prev_from(self.slots - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_a_set(size_w in 1usize..200, ops in proptest::collection::vec((any::<bool>(), any::<usize>()), 0..300), probes in proptest::collection::vec(any::<usize>(), 20)) {
            let slots = size_w * 64;
            let mut b = Bitmap3::new(slots);
            let mut s = std::collections::BTreeSet::new();
            for (set, i) in ops {
                let i = i % slots;
                if set { b.set(i); s.insert(i); } else { b.clear(i); s.remove(&i); }
            }
            prop_assert_eq!(b.is_empty(), s.is_empty());
            for p in probes {
                let p = p % slots;
                prop_assert_eq!(b.next_from(p), s.range(p..).next().copied());
                prop_assert_eq!(b.prev_from(p), s.range(..=p).next_back().copied());
                prop_assert_eq!(b.next_circular(p), s.range(p..).next().or_else(|| s.iter().next()).copied());
                prop_assert_eq!(b.prev_circular(p), s.range(..=p).next_back().or_else(|| s.iter().next_back()).copied());
                prop_assert_eq!(b.get(p), s.contains(&p));
            }
        }
    }

    #[test]
    fn full_size_edges() {
        let mut b = Bitmap3::new(MAX_SLOTS);
        b.set(MAX_SLOTS - 1);
        b.set(0);
        assert_eq!(b.next_from(1), Some(MAX_SLOTS - 1));
        assert_eq!(b.prev_from(MAX_SLOTS - 2), Some(0));
        b.clear(0);
        assert_eq!(b.prev_circular(5), Some(MAX_SLOTS - 1));
        assert_eq!(b.next_circular(MAX_SLOTS - 1), Some(MAX_SLOTS - 1));
    }
}
