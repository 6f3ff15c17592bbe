//! IPv4 longest prefix match in the DIR-24-8 layout (Gupta, Lin, McKeown,
//! INFOCOM'98; also DPDK's rte_lpm): a 2^24-entry table indexed by the top 24
//! bits, and 256-entry second-level groups for prefixes longer than /24.
//! A lookup is one read, or two for addresses under a /25../32.
//!
//! The table changes in place while lcores look it up (add, delete, a new
//! next hop for a prefix, batches), with groups from a pool preallocated at
//! creation and returned to it only after a grace period: see
//! [`trie`](super::trie) for how, and what a reader and a writer do.
//!
//! Memory: the first level is 2^24 × 4 bytes = 64 MiB; the pool is
//! `groups` × 1 KiB ([`DEFAULT_GROUPS`]: 65 536 groups, 64 MiB, enough for
//! about 1M routes of which tens of thousands of /24s hold longer
//! prefixes). Both are allocated zeroed, so only the pages routes write
//! are backed (a full Internet table touches most of the first level).

use super::error::FibError;
use super::nexthop::NhIndex;
use super::trie::{PoolStats, Trie, GROUP};
use crate::rcu::Qsbr;
use std::sync::Arc;

pub use super::trie::set_page_advice;

const TBL24_SIZE: usize = 1 << 24;

/// Default pool: groups for /24s with longer prefixes.
pub const DEFAULT_GROUPS: usize = 1 << 16;

/// A DIR-24-8 table that changes in place.
pub struct Lpm4 {
    t: Trie<4, TBL24_SIZE>,
}

impl Default for Lpm4 {
    fn default() -> Self {
        Self::new()
    }
}

impl Lpm4 {
    /// An empty table with the default pool and a grace-period state of its own.
    pub fn new() -> Lpm4 {
        Lpm4::with_capacity(DEFAULT_GROUPS, Arc::new(Qsbr::default()))
    }

    /// An empty table with `groups` second-level groups; freed groups wait
    /// for the readers registered with `qsbr`.
    pub fn with_capacity(groups: usize, qsbr: Arc<Qsbr>) -> Lpm4 {
        Lpm4 { t: Trie::new(groups, false, qsbr) }
    }

    /// Build from (prefix, length, next hop) routes; a longer prefix wins.
    /// Duplicate prefixes: the last one wins (config validation rejects
    /// them). A batch install into a new table with a pool of at least
    /// [`DEFAULT_GROUPS`], or what the routes take and a quarter more.
    ///
    /// Panics on a next hop above [`MAX_NH`](super::nexthop::MAX_NH) or a
    /// length above 32 (use [`add_batch`](Self::add_batch) to be told).
    pub fn build(routes: &[(u32, u8, NhIndex)]) -> Lpm4 {
        Lpm4::build_with(routes, Arc::new(Qsbr::default()))
    }

    /// [`build`](Self::build), with freed groups waiting on `qsbr`.
    pub fn build_with(routes: &[(u32, u8, NhIndex)], qsbr: Arc<Qsbr>) -> Lpm4 {
        let need = Trie::<4, TBL24_SIZE>::groups_needed(routes.iter().map(|r| (r.0.to_be_bytes(), r.1 as u16)));
        let t = Lpm4::with_capacity((need + need / 4).max(DEFAULT_GROUPS), qsbr);
        if let Err((_, e)) = t.add_batch(routes, |_, _| {}) {
            panic!("Lpm4::build: {e}");
        }
        t
    }

    /// The next hop for `dst`, if any route covers it.
    #[inline(always)]
    pub fn lookup(&self, dst: u32) -> Option<NhIndex> {
        let e = self.t.root()[(dst >> 8) as usize].load(std::sync::atomic::Ordering::Acquire);
        let e = if e & GROUP != 0 { self.t.entry_at(((e & !GROUP) as usize) << 8 | (dst & 0xff) as usize) } else { e };
        self.t.resolve(e)
    }

    /// Load the first-level entry `dst` will look up, so that a lookup
    /// soon after finds it in cache (the value means nothing to the
    /// caller). A burst's loads, issued back to back before any lookup,
    /// overlap their cache and TLB misses: with a full table every
    /// lookup's entry is a miss of its own otherwise.
    #[inline(always)]
    pub fn warm(&self, dst: u32) -> u32 {
        self.t.root()[(dst >> 8) as usize].load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Routes from which [`warm`](Self::warm)ing a burst's entries pays:
    /// below this the entries in use stay in cache anyway.
    pub const WARM_FROM: usize = 65_536;

    /// [`lookup`](Self::lookup) for many destinations: `found(i, next
    /// hop)` for each `dst[i]`, in order. 32 at a time, all 32 first-level
    /// entries are loaded before any is used, so their cache and TLB misses
    /// overlap instead of each waiting behind the branches of the lookup
    /// before it (DPDK's bulk lookups prefetch for the same reason).
    #[inline]
    pub fn lookup_batch(&self, dst: &[u32], mut found: impl FnMut(usize, Option<NhIndex>)) {
        const B: usize = 32;
        let root = self.t.root();
        for (k, d) in dst.chunks(B).enumerate() {
            let mut e = [0u32; B];
            for (x, &a) in e.iter_mut().zip(d) {
                *x = root[(a >> 8) as usize].load(std::sync::atomic::Ordering::Acquire);
            }
            for (i, (&x, &a)) in e.iter().zip(d).enumerate() {
                let x = if x & GROUP != 0 { self.t.entry_at(((x & !GROUP) as usize) << 8 | (a & 0xff) as usize) } else { x };
                found(k * B + i, self.t.resolve(x));
            }
        }
    }

    /// The tbl8 group serving `dst`'s /24, if it has one (diagnostics).
    pub fn group_of(&self, dst: u32) -> Option<u32> {
        let e = self.t.root()[(dst >> 8) as usize].load(std::sync::atomic::Ordering::Acquire);
        (e & GROUP != 0).then_some(e & !GROUP)
    }

    /// Add a route or give its prefix a new next hop; returns the next hop
    /// replaced. Host bits of `addr` are ignored.
    pub fn add(&self, addr: u32, len: u8, nh: NhIndex) -> Result<Option<NhIndex>, FibError> {
        self.t.add(&addr.to_be_bytes(), len as u16, nh)
    }

    /// Delete a route; returns its next hop.
    pub fn delete(&self, addr: u32, len: u8) -> Result<NhIndex, FibError> {
        self.t.delete(&addr.to_be_bytes(), len as u16)
    }

    /// Add many routes at once (shortest first; one grace period for the
    /// groups the batch frees). `added(i, replaced)`: route `i` was
    /// added, replacing that next hop if any.
    pub fn add_batch(&self, routes: &[(u32, u8, NhIndex)], added: impl FnMut(usize, Option<NhIndex>)) -> Result<usize, (usize, FibError)> {
        let keyed: Vec<([u8; 4], u16, NhIndex)> = routes.iter().map(|&(a, l, nh)| (a.to_be_bytes(), l as u16, nh)).collect();
        self.t.add_batch(&keyed, added)
    }

    /// The next hop of exactly this prefix, if it is a route.
    pub fn get(&self, addr: u32, len: u8) -> Option<NhIndex> {
        self.t.get(&addr.to_be_bytes(), len as u16)
    }

    /// Every route, in no particular order.
    pub fn routes(&self) -> Vec<(u32, u8, NhIndex)> {
        self.t.routes().into_iter().map(|(k, l, nh)| (u32::from_be_bytes(k), l as u8, nh)).collect()
    }

    /// Return groups whose grace period is over to the pool.
    pub fn reclaim(&self) -> usize {
        self.t.reclaim()
    }

    /// The group pool: in use, waiting for a grace period, free.
    pub fn pool(&self) -> PoolStats {
        self.t.pool()
    }

    /// The grace-period state freed groups wait on.
    pub fn qsbr(&self) -> Arc<Qsbr> {
        self.t.qsbr()
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::prefix::mask32;
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
        // Short prefixes write up to 2^23 first-level entries each (slow in
        // debug builds); fib::tests holds the longer model-based runs.
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

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
            for dst in &probes {
                prop_assert_eq!(t.lookup(*dst), reference(&routes, *dst));
            }
            let mut batch = vec![None; probes.len()];
            t.lookup_batch(&probes, |i, nh| batch[i] = nh);
            prop_assert_eq!(batch, probes.iter().map(|&d| t.lookup(d)).collect::<Vec<_>>());
        }
    }
}
