//! Exact-match tables for the New IP 8- and 16-bit address types: one
//! atomic entry per address (next hop + 1, or 0 for none). A lookup is one
//! load; an update is one store, so nothing ever waits for a grace period.
//! Memory: 1 KiB (8-bit) and 256 KiB (16-bit), allocated zeroed.

use super::error::FibError;
use super::nexthop::{NhIndex, MAX_NH};
use std::sync::atomic::{AtomicU32, Ordering};

/// One entry per address of a `SIZE`-address space.
pub struct Exact<const SIZE: usize> {
    e: Box<[AtomicU32; SIZE]>,
}

impl<const SIZE: usize> Default for Exact<SIZE> {
    fn default() -> Self {
        let e = bytemuck::zeroed_slice_box::<AtomicU32>(SIZE).try_into().unwrap_or_else(|_| unreachable!("SIZE entries"));
        Exact { e }
    }
}

impl<const SIZE: usize> Exact<SIZE> {
    /// The next hop of address `a` (`a` < SIZE; beyond it, none).
    #[inline(always)]
    pub fn lookup(&self, a: usize) -> Option<NhIndex> {
        self.e.get(a).map_or(0, |x| x.load(Ordering::Acquire)).checked_sub(1)
    }

    /// Route address `a` to `nh`; returns the next hop replaced.
    pub fn set(&self, a: usize, nh: NhIndex) -> Result<Option<NhIndex>, FibError> {
        if nh > MAX_NH {
            return Err(FibError::NextHopRange(nh));
        }
        let x = self.e.get(a).ok_or(FibError::NoSuchRoute)?;
        Ok(x.swap(nh + 1, Ordering::AcqRel).checked_sub(1))
    }

    /// Remove the route of address `a`; returns its next hop.
    pub fn clear(&self, a: usize) -> Result<NhIndex, FibError> {
        let x = self.e.get(a).ok_or(FibError::NoSuchRoute)?;
        x.swap(0, Ordering::AcqRel).checked_sub(1).ok_or(FibError::NoSuchRoute)
    }

    /// Routes in the table (a scan: for dumps and tests).
    pub fn len(&self) -> usize {
        self.e.iter().filter(|x| x.load(Ordering::Relaxed) != 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replace_clear() {
        let t: Exact<256> = Exact::default();
        assert_eq!(t.lookup(7), None);
        assert_eq!(t.set(7, 3), Ok(None));
        assert_eq!(t.set(7, 4), Ok(Some(3)));
        assert_eq!(t.lookup(7), Some(4));
        assert_eq!(t.lookup(8), None);
        assert_eq!(t.lookup(256), None, "beyond the address space");
        assert_eq!(t.len(), 1);
        assert_eq!(t.clear(7), Ok(4));
        assert_eq!(t.clear(7), Err(FibError::NoSuchRoute));
        assert_eq!(t.lookup(7), None);
        assert_eq!(t.set(1, MAX_NH + 1), Err(FibError::NextHopRange(MAX_NH + 1)));
        assert_eq!(t.set(300, 1), Err(FibError::NoSuchRoute));
    }
}
