//! Flexible-length New IP addresses (type 4, 1..=32 bytes) by longest bit
//! prefix. Addresses are hierarchical by bits, so a route `flex:0a/8` covers
//! `0a02`, `0a0201`, ... of any length; a route longer than an address never
//! matches it.
//!
//! The table is the same in-place trie as IPv4 and IPv6 (see
//! [`trie`](super::trie)) with 8-bit levels from the first byte on, one
//! level per address byte, and one slot more per group: what an address
//! that ends at that level matches (the routes no longer than it). A lookup
//! reads at most one entry per address byte, plus that slot. Memory: 1 KiB
//! first level plus `groups` × 1028 bytes ([`DEFAULT_GROUPS`]: 4096 groups,
//! 4 MiB, zeroed: backed as used).

use super::error::FibError;
use super::nexthop::NhIndex;
use super::trie::{PoolStats, Trie};
use crate::rcu::Qsbr;
use std::sync::Arc;

/// Longest flexible address, in bytes.
pub const MAX_BYTES: usize = 32;

/// Default pool.
pub const DEFAULT_GROUPS: usize = 1 << 12;

/// `bytes` with every bit after the first `bits` cleared.
pub fn mask(bytes: &[u8; MAX_BYTES], bits: u16) -> [u8; MAX_BYTES] {
    super::trie::mask_key(bytes, bits)
}

/// A table of flexible-address routes that changes in place.
pub struct FlexLpm {
    t: Trie<MAX_BYTES, 256>,
}

impl Default for FlexLpm {
    fn default() -> Self {
        FlexLpm::with_capacity(DEFAULT_GROUPS, Arc::new(Qsbr::default()))
    }
}

impl FlexLpm {
    /// An empty table with `groups` groups; freed groups wait for the
    /// readers registered with `qsbr`.
    pub fn with_capacity(groups: usize, qsbr: Arc<Qsbr>) -> FlexLpm {
        FlexLpm { t: Trie::new(groups, true, qsbr) }
    }

    /// Build from (address bytes, prefix bits, next hop); duplicates: the
    /// last wins. Panics on a next hop above [`MAX_NH`](super::nexthop::MAX_NH).
    pub fn build(routes: &[([u8; MAX_BYTES], u16, NhIndex)]) -> FlexLpm {
        FlexLpm::build_with(routes, Arc::new(Qsbr::default()))
    }

    /// [`build`](Self::build), with freed groups waiting on `qsbr`.
    pub fn build_with(routes: &[([u8; MAX_BYTES], u16, NhIndex)], qsbr: Arc<Qsbr>) -> FlexLpm {
        let routes: Vec<_> = routes.iter().map(|&(b, bits, nh)| (b, bits.min((MAX_BYTES * 8) as u16), nh)).collect();
        let need = Trie::<MAX_BYTES, 256>::groups_needed(routes.iter().map(|r| (r.0, r.1)));
        let t = FlexLpm::with_capacity((need + need / 4).max(DEFAULT_GROUPS), qsbr);
        if let Err((_, e)) = t.t.add_batch(&routes, |_, _| {}) {
            panic!("FlexLpm::build: {e}");
        }
        t
    }

    /// The route for address `addr` (1..=32 bytes), longest prefix first.
    #[inline]
    pub fn lookup(&self, addr: &[u8]) -> Option<NhIndex> {
        self.t.lookup_bytes(addr)
    }

    /// Add a route of the first `bits` bits of `bytes`, or give it a new
    /// next hop; returns the next hop replaced.
    pub fn add(&self, bytes: &[u8; MAX_BYTES], bits: u16, nh: NhIndex) -> Result<Option<NhIndex>, FibError> {
        self.t.add(bytes, bits, nh)
    }

    /// Delete a route; returns its next hop.
    pub fn delete(&self, bytes: &[u8; MAX_BYTES], bits: u16) -> Result<NhIndex, FibError> {
        self.t.delete(bytes, bits)
    }

    /// Add many routes at once. `added(i, replaced)`: route `i` was
    /// added, replacing that next hop if any.
    pub fn add_batch(&self, routes: &[([u8; MAX_BYTES], u16, NhIndex)], added: impl FnMut(usize, Option<NhIndex>)) -> Result<usize, (usize, FibError)> {
        self.t.add_batch(routes, added)
    }

    /// The next hop of exactly this prefix, if it is a route.
    pub fn get(&self, bytes: &[u8; MAX_BYTES], bits: u16) -> Option<NhIndex> {
        self.t.get(bytes, bits)
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
    use proptest::prelude::*;

    fn arr(b: &[u8]) -> [u8; MAX_BYTES] {
        let mut a = [0u8; MAX_BYTES];
        a[..b.len()].copy_from_slice(b);
        a
    }

    #[test]
    fn longest_bit_prefix_of_any_length() {
        let t = FlexLpm::build(&[(arr(&[0x0a]), 8, 1), (arr(&[0x0a, 0x20]), 12, 2), (arr(&[0x0a, 0x21, 0x05]), 24, 3), (arr(&[]), 0, 9)]);
        assert_eq!(t.lookup(&[0x0a, 0x21, 0x05]), Some(3));
        assert_eq!(t.lookup(&[0x0a, 0x21, 0x05, 0x07]), Some(3), "longer address under a shorter prefix");
        assert_eq!(t.lookup(&[0x0a, 0x2f]), Some(2));
        assert_eq!(t.lookup(&[0x0a, 0x30]), Some(1));
        assert_eq!(t.lookup(&[0x0a]), Some(1), "a 1-byte address cannot match a 12-bit prefix");
        assert_eq!(t.lookup(&[0x0b]), Some(9));
        assert_eq!(t.lookup(&[]), None);
    }

    fn reference(routes: &[([u8; MAX_BYTES], u16, NhIndex)], addr: &[u8]) -> Option<NhIndex> {
        let key = arr(addr);
        routes
            .iter()
            .filter(|r| r.1 as usize <= addr.len() * 8 && mask(&r.0, r.1) == mask(&key, r.1))
            .max_by_key(|r| r.1)
            .map(|r| r.2)
    }

    proptest! {
        #[test]
        fn matches_reference(raw in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 1..6), 0u16..40, 0u32..50), 0..20),
                             probes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..6), 20)) {
            let mut seen = std::collections::HashSet::new();
            let routes: Vec<_> = raw.into_iter()
                .map(|(b, bits, nh)| { let bits = bits.min(b.len() as u16 * 8); (mask(&arr(&b), bits), bits, nh) })
                .filter(|r| seen.insert((r.0, r.1)))
                .collect();
            let t = FlexLpm::build(&routes);
            let inside: Vec<Vec<u8>> = routes.iter().map(|r| r.0[..(r.1 as usize).div_ceil(8).max(1)].to_vec()).collect();
            for p in probes.iter().chain(inside.iter()) {
                prop_assert_eq!(t.lookup(p), reference(&routes, p));
            }
        }
    }
}
