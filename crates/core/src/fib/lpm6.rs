//! IPv6 longest prefix match: one hash table per prefix length in use,
//! probed from the longest length down. With the handful of lengths a real
//! table uses (/32, /48, /56, /64, /128) that is a few hash probes.

use super::nexthop::NhIndex;
use super::prefix::mask128;
use rustc_hash::FxHashMap;

#[derive(Default)]
pub struct Lpm6 {
    /// (length, mask, table), longest first.
    levels: Vec<(u8, u128, FxHashMap<u128, NhIndex>)>,
    routes: usize,
}

impl Lpm6 {
    /// Build from (prefix, length, next hop); duplicates: the last wins.
    pub fn build(routes: &[(u128, u8, NhIndex)]) -> Lpm6 {
        let mut t = Lpm6::default();
        for &(addr, len, nh) in routes {
            let m = mask128(len);
            let lvl = match t.levels.iter().position(|l| l.0 == len) {
                Some(i) => i,
                None => {
                    t.levels.push((len, m, FxHashMap::default()));
                    t.levels.len() - 1
                }
            };
            t.levels[lvl].2.insert(addr & m, nh);
            t.routes += 1;
        }
        t.levels.sort_by(|a, b| b.0.cmp(&a.0));
        t
    }

    #[inline]
    pub fn lookup(&self, dst: u128) -> Option<NhIndex> {
        for (_, m, tbl) in &self.levels {
            if let Some(&nh) = tbl.get(&(dst & m)) {
                return Some(nh);
            }
        }
        None
    }

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
