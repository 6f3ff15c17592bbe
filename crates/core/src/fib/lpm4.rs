//! IPv4 longest prefix match in the DIR-24-8 layout (Gupta, Lin, McKeown,
//! INFOCOM'98; also DPDK's rte_lpm): a 2^24-entry table indexed by the top 24
//! bits, and 256-entry second-level groups for prefixes longer than /24.
//! A lookup is one read, or two for addresses under a /25../32 route.

use super::nexthop::NhIndex;
use super::prefix::mask32;
use std::sync::OnceLock;

/// How a new table asks the OS to back it with huge pages before it is
/// written (set once by whoever may make system calls: the daemon installs
/// `madvise(MADV_HUGEPAGE)` from the DPDK layer; without it, nothing).
static PAGE_ADVICE: OnceLock<fn(&mut [u32])> = OnceLock::new();

/// Install the huge-page advice for tables made from now on (the first
/// call wins).
pub fn set_page_advice(advise: fn(&mut [u32])) {
    let _ = PAGE_ADVICE.set(advise);
}

const TBL24_SIZE: usize = 1 << 24;
/// Entry flag: the low bits are a tbl8 group number.
const GROUP: u32 = 1 << 31;
/// Entry value 0 = no route; otherwise next-hop index + 1.
const EMPTY: u32 = 0;

/// A DIR-24-8 table built once from a route list.
pub struct Lpm4 {
    tbl24: Box<[u32; TBL24_SIZE]>,
    tbl8: Vec<u32>,
    routes: usize,
}

impl Default for Lpm4 {
    fn default() -> Self {
        Self::new()
    }
}

impl Lpm4 {
    /// An empty table (64 MiB of address space, touched only where routes are).
    pub fn new() -> Lpm4 {
        let mut tbl24: Box<[u32; TBL24_SIZE]> = vec![EMPTY; TBL24_SIZE].into_boxed_slice().try_into().expect("size");
        // Not yet written: ask for 2 MiB pages, so a lookup does not miss the
        // TLB behind the packet buffers (the daemon installs the advice).
        if let Some(advise) = PAGE_ADVICE.get() {
            advise(&mut tbl24[..]);
        }
        Lpm4 { tbl24, tbl8: Vec::new(), routes: 0 }
    }

    /// Build from (prefix, length, next hop) routes; a longer prefix wins.
    /// Duplicate prefixes: the last one wins (config validation rejects them).
    pub fn build(routes: &[(u32, u8, NhIndex)]) -> Lpm4 {
        let mut t = Lpm4::new();
        let mut sorted: Vec<_> = routes.to_vec();
        sorted.sort_by_key(|r| r.1);
        for &(addr, len, nh) in &sorted {
            t.insert(addr, len, nh);
        }
        t
    }

    /// Insert in ascending prefix-length order (as `build` does).
    fn insert(&mut self, addr: u32, len: u8, nh: NhIndex) {
        let addr = addr & mask32(len);
        let val = nh + 1;
        self.routes += 1;
        if len <= 24 {
            let first = (addr >> 8) as usize;
            let count = 1usize << (24 - len as u32);
            for e in &mut self.tbl24[first..first + count] {
                *e = val;
            }
            return;
        }
        let i24 = (addr >> 8) as usize;
        let group = match self.tbl24[i24] {
            e if e & GROUP != 0 => (e & !GROUP) as usize,
            inherited => {
                let g = self.tbl8.len() / 256;
                self.tbl8.extend(std::iter::repeat(inherited).take(256));
                self.tbl24[i24] = GROUP | g as u32;
                g
            }
        };
        let first = group * 256 + (addr & 0xff) as usize;
        let count = 1usize << (32 - len as u32);
        for e in &mut self.tbl8[first..first + count] {
            *e = val;
        }
    }

    /// The next hop for `dst`, if any route covers it.
    #[inline(always)]
    pub fn lookup(&self, dst: u32) -> Option<NhIndex> {
        let e = self.tbl24[(dst >> 8) as usize];
        let e = if e & GROUP != 0 {
            let i = ((e & !GROUP) as usize) * 256 + (dst & 0xff) as usize;
            match self.tbl8.get(i) {
                Some(&v) => v,
                None => EMPTY,
            }
        } else {
            e
        };
        e.checked_sub(1)
    }

    /// Number of routes inserted.
    pub fn len(&self) -> usize {
        self.routes
    }

    pub fn is_empty(&self) -> bool {
        self.routes == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious reference: scan every route, keep the longest match.
    fn reference(routes: &[(u32, u8, NhIndex)], dst: u32) -> Option<NhIndex> {
        let mut best: Option<(u8, NhIndex)> = None;
        for &(a, l, nh) in routes {
            if dst & mask32(l) == a & mask32(l) && best.map_or(true, |(bl, _)| l >= bl) {
                best = Some((l, nh));
            }
        }
        best.map(|b| b.1)
    }

    #[test]
    fn longest_match_wins_across_levels() {
        let routes = [(0x0a00_0000, 8, 1), (0x0a01_0000, 16, 2), (0x0a01_0200, 24, 3), (0x0a01_0280, 25, 4), (0x0a01_0281, 32, 5)];
        let t = Lpm4::build(&routes);
        assert_eq!(t.lookup(0x0a02_0304), Some(1));
        assert_eq!(t.lookup(0x0a01_0304), Some(2));
        assert_eq!(t.lookup(0x0a01_0201), Some(3));
        assert_eq!(t.lookup(0x0a01_02ff), Some(4));
        assert_eq!(t.lookup(0x0a01_0281), Some(5));
        assert_eq!(t.lookup(0x0b00_0000), None);
        let d = Lpm4::build(&[(0, 0, 7)]);
        assert_eq!(d.lookup(0xffff_ffff), Some(7));
        assert_eq!(d.lookup(0), Some(7));
    }

    proptest! {
        #[test]
        fn matches_reference(raw in proptest::collection::vec((any::<u32>(), 0u8..=32, 0u32..1000), 0..40), probes in proptest::collection::vec(any::<u32>(), 50)) {
            // Unique prefixes (config validation guarantees it).
            let mut seen = std::collections::HashSet::new();
            let routes: Vec<_> = raw.into_iter().map(|(a, l, n)| (a & mask32(l), l, n)).filter(|r| seen.insert((r.0, r.1))).collect();
            let t = Lpm4::build(&routes);
            for &(a, l, _) in &routes {
                // Probe inside each route, at both ends.
                for dst in [a, a | !mask32(l)] {
                    prop_assert_eq!(t.lookup(dst), reference(&routes, dst));
                }
            }
            for dst in probes {
                prop_assert_eq!(t.lookup(dst), reference(&routes, dst));
            }
        }
    }
}
