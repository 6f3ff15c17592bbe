//! Flexible-length New IP addresses (type 4, 1..=32 bytes) by longest bit
//! prefix: one hash table per prefix length in use, probed from the longest
//! length that fits the address down. Addresses are hierarchical by bits, so
//! a route `flex:0a/8` covers `0a02`, `0a0201`, ... of any length.

use super::nexthop::NhIndex;
use rustc_hash::FxHashMap;

/// Longest flexible address, in bytes.
pub const MAX_BYTES: usize = 32;

/// `bytes` with every bit after the first `bits` cleared.
pub fn mask(bytes: &[u8; MAX_BYTES], bits: u16) -> [u8; MAX_BYTES] {
    let mut out = [0u8; MAX_BYTES];
    let full = (bits / 8) as usize;
    out[..full.min(MAX_BYTES)].copy_from_slice(&bytes[..full.min(MAX_BYTES)]);
    let rem = bits % 8;
    if rem != 0 && full < MAX_BYTES {
        out[full] = bytes[full] & (0xffu8 << (8 - rem));
    }
    out
}

#[derive(Default)]
pub struct FlexLpm {
    /// (prefix bits, table of masked prefixes), longest first.
    levels: Vec<(u16, FxHashMap<[u8; MAX_BYTES], NhIndex>)>,
}

impl FlexLpm {
    /// Build from (address bytes, prefix bits, next hop); duplicates: the last wins.
    pub fn build(routes: &[([u8; MAX_BYTES], u16, NhIndex)]) -> FlexLpm {
        let mut t = FlexLpm::default();
        for (bytes, bits, nh) in routes {
            let bits = (*bits).min((MAX_BYTES * 8) as u16);
            let i = match t.levels.iter().position(|l| l.0 == bits) {
                Some(i) => i,
                None => {
                    t.levels.push((bits, FxHashMap::default()));
                    t.levels.len() - 1
                }
            };
            t.levels[i].1.insert(mask(bytes, bits), *nh);
        }
        t.levels.sort_by(|a, b| b.0.cmp(&a.0));
        t
    }

    /// The route for address `addr` (1..=32 bytes), longest prefix first.
    #[inline]
    pub fn lookup(&self, addr: &[u8]) -> Option<NhIndex> {
        if addr.is_empty() || addr.len() > MAX_BYTES {
            return None;
        }
        let mut key = [0u8; MAX_BYTES];
        key[..addr.len()].copy_from_slice(addr);
        let addr_bits = (addr.len() * 8) as u16;
        for (bits, tbl) in &self.levels {
            if *bits > addr_bits {
                continue;
            }
            if let Some(nh) = tbl.get(&mask(&key, *bits)) {
                return Some(*nh);
            }
        }
        None
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
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
