//! IPv6 longest prefix match: a multibit trie that changes in place, with a
//! 16-bit first level (65 536 entries, 256 KiB) and 8-bit levels below it
//! (groups of 256 entries from a preallocated pool), in the manner of
//! rte_lpm6 (whose first level is 24 bits). A lookup reads one entry per
//! level down to the level of the longest route on the path: 3 reads under
//! a /32, 5 under a /48, 7 under a /64, each in a group of 1 KiB. See
//! [`trie`](super::trie) for updates and grace periods.
//!
//! Why 16 bits first and not 24: a 24-bit first level costs 64 MiB per
//! table (all of it written by a default route in rte_lpm6; here the
//! default route is one word, but any /1../23 still writes its share) and
//! saves one read of a group that every lookup under the same /24 shares,
//! so it stays in cache: docs/fib.md has the measurements.
//!
//! Memory: 256 KiB first level plus `groups` × 1 KiB ([`DEFAULT_GROUPS`]:
//! 65 536 groups, 64 MiB, allocated zeroed: only used groups are backed).
//! A /48 under a /32 nobody else uses takes 4 groups; routes under a shared
//! /32 share the upper ones.

use super::error::FibError;
use super::nexthop::NhIndex;
use super::trie::{PoolStats, Trie, GROUP};
use crate::rcu::Qsbr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const ROOT: usize = 1 << 16;

/// Default pool.
pub const DEFAULT_GROUPS: usize = 1 << 16;

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
        let t = Lpm6::with_capacity(need.max(DEFAULT_GROUPS), qsbr);
        if let Err((_, e)) = t.add_batch(routes, |_, _| {}) {
            panic!("Lpm6::build: {e}");
        }
        t
    }

    #[inline]
    pub fn lookup(&self, dst: u128) -> Option<NhIndex> {
        let mut e = self.t.root()[(dst >> 112) as usize].load(Ordering::Acquire);
        let mut shift = 104u32;
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
        #[test]
        fn matches_reference(raw in proptest::collection::vec((any::<u128>(), 0u8..=128, 0u32..100), 0..30), probes in proptest::collection::vec(any::<u128>(), 30)) {
            let mut seen = std::collections::HashSet::new();
            let routes: Vec<_> = raw.into_iter().map(|(a, l, n)| (a & mask128(l), l, n)).filter(|r| seen.insert((r.0, r.1))).collect();
            let t = Lpm6::build(&routes);
            for &(a, _, _) in &routes {
                prop_assert_eq!(t.lookup(a), reference(&routes, a));
            }
            for d in probes {
                prop_assert_eq!(t.lookup(d), reference(&routes, d));
            }
        }
    }
}
