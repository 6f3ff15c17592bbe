//! IPv6 longest prefix match: a multibit trie that changes in place, with a
//! 24-bit first level and 8-bit levels below it (groups of 256 entries from
//! a preallocated pool), the shape of rte_lpm6. A lookup reads one entry per
//! level down to the level of the longest route on the path: 2 reads under
//! a /32, 4 under a /48, 6 under a /64, 14 under a /128. See
//! [`trie`](super::trie) for updates and grace periods.
//!
//! Why 24 bits first and not 16: measured (docs/fib.md), the 16-bit first
//! level costs one more dependent read, about 12 instructions and 1.2 ns a
//! lookup more with 10k routes, for 64 MiB less address space. The default
//! route lives in one word (not in 2^24 entries as in rte_lpm6), so the
//! first level is written only where routes shorter than /24 cover it
//! (real tables: a few /16../23 aggregates) and for the /24 entries above
//! longer routes: most of its pages are never backed.
//!
//! Memory: 2^24 × 4 bytes = 64 MiB first level, allocated zeroed (backed
//! as written), plus `groups` × 1 KiB ([`DEFAULT_GROUPS`]: 524 288 groups,
//! 512 MiB reserved, zeroed too). A /48 under a /32 nobody else uses takes 3 groups;
//! routes under a shared /32 share the upper ones.

use super::error::FibError;
use super::nexthop::NhIndex;
use super::trie::{PoolStats, Trie, GROUP};
use crate::rcu::Qsbr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const ROOT: usize = 1 << 24;

/// Default pool: enough for a full IPv6 table (220,000 routes take about
/// 200,000 groups). Zeroed memory, backed only as groups are used: 512 MiB
/// reserved, about 1 KiB resident per group in use.
pub const DEFAULT_GROUPS: usize = 1 << 19;

/// An IPv6 table that changes in place.
pub struct Lpm6 {
    t: Trie<16, ROOT>,
}

impl Default for Lpm6 {
    fn default() -> Self {
        Lpm6::with_capacity(DEFAULT_GROUPS, Arc::new(Qsbr::default()))
    }
}

impl Lpm6 {
    /// An empty table with `groups` groups; freed groups wait for the
    /// readers registered with `qsbr`.
    pub fn with_capacity(groups: usize, qsbr: Arc<Qsbr>) -> Lpm6 {
        Lpm6 { t: Trie::new(groups, false, qsbr) }
    }

    /// Build from (prefix, length, next hop); duplicates: the last wins.
    /// Panics on a next hop above [`MAX_NH`](super::nexthop::MAX_NH) or a
    /// length above 128.
    pub fn build(routes: &[(u128, u8, NhIndex)]) -> Lpm6 {
        Lpm6::build_with(routes, Arc::new(Qsbr::default()))
    }

    /// [`build`](Self::build), with freed groups waiting on `qsbr`.
    pub fn build_with(routes: &[(u128, u8, NhIndex)], qsbr: Arc<Qsbr>) -> Lpm6 {
        let need = Trie::<16, ROOT>::groups_needed(routes.iter().map(|r| (r.0.to_be_bytes(), r.1 as u16)));
        let t = Lpm6::with_capacity((need + need / 4).max(DEFAULT_GROUPS), qsbr);
        if let Err((_, e)) = t.add_batch(routes, |_, _| {}) {
            panic!("Lpm6::build: {e}");
        }
        t
    }

    #[inline]
    pub fn lookup(&self, dst: u128) -> Option<NhIndex> {
        let mut e = self.t.root()[(dst >> 104) as usize].load(Ordering::Acquire);
        let mut shift = 96u32;
        while e & GROUP != 0 {
            e = self.t.entry_at(((e & !GROUP) as usize) << 8 | (dst.wrapping_shr(shift) & 0xff) as usize);
            if shift == 0 {
                // The last level holds no groups (a table this module wrote).
                if e & GROUP != 0 {
                    return None;
                }
                break;
            }
            shift -= 8;
        }
        self.t.resolve(e)
    }

    /// [`lookup`](Self::lookup) for many destinations: `found(i, next
    /// hop)` for each `dst[i]`, in order. 32 at a time, level by level: the
    /// entries of one level for all 32 are loaded together, so their cache
    /// and TLB misses overlap (the walk of one address is a chain of
    /// dependent loads; 32 walks side by side are not).
    #[inline]
    pub fn lookup_batch(&self, dst: &[u128], mut found: impl FnMut(usize, Option<NhIndex>)) {
        const B: usize = 32;
        let root = self.t.root();
        for (k, d) in dst.chunks(B).enumerate() {
            let mut e = [0u32; B];
            for (x, &a) in e.iter_mut().zip(d) {
                *x = root[(a >> 104) as usize].load(Ordering::Acquire);
            }
            let mut shift = 96u32;
            loop {
                let mut deeper = false;
                for (x, &a) in e.iter_mut().zip(d) {
                    if *x & GROUP != 0 {
                        *x = self.t.entry_at(((*x & !GROUP) as usize) << 8 | (a.wrapping_shr(shift) & 0xff) as usize);
                        deeper = true;
                    }
                }
                if !deeper || shift == 0 {
                    break;
                }
                shift -= 8;
            }
            for (i, &x) in e.iter().enumerate().take(d.len()) {
                // The last level holds no groups (a table this module wrote).
                found(k * B + i, if x & GROUP != 0 { None } else { self.t.resolve(x) });
            }
        }
    }

    /// Add a route or give its prefix a new next hop; returns the next hop replaced.
    pub fn add(&self, addr: u128, len: u8, nh: NhIndex) -> Result<Option<NhIndex>, FibError> {
        self.t.add(&addr.to_be_bytes(), len as u16, nh)
    }

    /// Delete a route; returns its next hop.
    pub fn delete(&self, addr: u128, len: u8) -> Result<NhIndex, FibError> {
        self.t.delete(&addr.to_be_bytes(), len as u16)
    }

    /// Add many routes at once. `added(i, replaced)`: route `i` was
    /// added, replacing that next hop if any.
    pub fn add_batch(&self, routes: &[(u128, u8, NhIndex)], added: impl FnMut(usize, Option<NhIndex>)) -> Result<usize, (usize, FibError)> {
        let keyed: Vec<([u8; 16], u16, NhIndex)> = routes.iter().map(|&(a, l, nh)| (a.to_be_bytes(), l as u16, nh)).collect();
        self.t.add_batch(&keyed, added)
    }

    /// The next hop of exactly this prefix, if it is a route.
    pub fn get(&self, addr: u128, len: u8) -> Option<NhIndex> {
        self.t.get(&addr.to_be_bytes(), len as u16)
    }

    /// Every route, in no particular order.
    pub fn routes(&self) -> Vec<(u128, u8, NhIndex)> {
        self.t.routes().into_iter().map(|(k, l, nh)| (u128::from_be_bytes(k), l as u8, nh)).collect()
    }

    /// Return groups whose grace period is over to the pool.
    pub fn reclaim(&self) -> usize {
        self.t.reclaim()
    }

    pub fn pool(&self) -> PoolStats {
        self.t.pool()
    }

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
    use crate::fib::prefix::mask128;
    use proptest::prelude::*;

    fn reference(routes: &[(u128, u8, NhIndex)], dst: u128) -> Option<NhIndex> {
        routes
            .iter()
            .filter(|&&(a, l, _)| dst & mask128(l) == a & mask128(l))
            .max_by_key(|r| r.1)
            .map(|r| r.2)
    }

    #[test]
    fn longest_wins_and_default_route() {
        let r = [(0, 0, 9), (0x2001_0db8u128 << 96, 32, 1), ((0x2001_0db8_0001u128) << 80, 48, 2)];
        let t = Lpm6::build(&r);
        assert_eq!(t.lookup((0x2001_0db8_0001u128 << 80) | 5), Some(2));
        assert_eq!(t.lookup((0x2001_0db8_0002u128 << 80) | 5), Some(1));
        assert_eq!(t.lookup(1), Some(9));
    }

    proptest! {
        // Short prefixes write up to 2^23 first-level entries each (slow in
        // debug builds); fib::tests holds the longer model-based runs.
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn matches_reference(raw in proptest::collection::vec((any::<u128>(), 0u8..=128, 0u32..100), 0..30), probes in proptest::collection::vec(any::<u128>(), 30)) {
            let mut seen = std::collections::HashSet::new();
            let routes: Vec<_> = raw.into_iter().map(|(a, l, n)| (a & mask128(l), l, n)).filter(|r| seen.insert((r.0, r.1))).collect();
            let t = Lpm6::build(&routes);
            for &(a, _, _) in &routes {
                prop_assert_eq!(t.lookup(a), reference(&routes, a));
            }
            for &d in &probes {
                prop_assert_eq!(t.lookup(d), reference(&routes, d));
            }
            let mut batch = vec![None; probes.len()];
            t.lookup_batch(&probes, |i, nh| batch[i] = nh);
            prop_assert_eq!(batch, probes.iter().map(|&d| t.lookup(d)).collect::<Vec<_>>());
        }
    }
}
