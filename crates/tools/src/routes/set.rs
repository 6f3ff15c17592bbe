//! Seeded route sets shaped like an Internet routing table: how many
//! prefixes of each length, where they lie, which gateway each one uses.
//!
//! **Lengths.** IPv4 (weights from the shape of a 2024 full table, with
//! a few more-specifics than the DFZ carries so that second-level groups
//! are exercised): 60 % /24, 38.6 % /16../23 (mostly /22 and /23), 0.4 %
//! /8../15, 1 % /25../32. IPv6: 55 % /48, 34.5 % /32../44 (mostly /32,
//! /40 and /44), 3 % /64, 3 % /45../47, 2.5 % /19../31, 2 % others
//! (/49../63, /65../128). [`counts`] turns weights into exact counts
//! (largest remainder), so a set of N has exactly N prefixes.
//!
//! **Addresses.** IPv4 prefixes lie in 1.0.0.0..223.255.255.255 outside
//! the special ranges ([`BOGONS4`]); IPv6 prefixes in the five RIRs' /12s
//! and 2001::/16 outside 2001::/23 and 2001:db8::/32. Shorter prefixes
//! are drawn first; a longer one is, with some probability, drawn inside
//! one of them (a more-specific of an aggregate: IPv6 /33 and longer
//! mostly, IPv4 /17 and longer half the time), otherwise anywhere. Real
//! tables cluster like that, and a trie's groups are shared like that.
//! Prefixes are unique, there is no default route, and none overlaps the
//! gateways' subnets (the caller's `avoid` list).
//!
//! **Next hops.** Each prefix gets one of `next_hops` next hops, uniform.
//!
//! The same seed gives the same set; the IPv4 and IPv6 sets are drawn
//! from streams of their own (asking for more IPv6 prefixes does not
//! change the IPv4 ones).

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::HashSet;

/// An IPv4 route: address (host order, host bits zero), length, next hop.
pub type Route4 = (u32, u8, u32);
/// An IPv6 route: address, length, next hop.
pub type Route6 = (u128, u8, u32);

/// IPv4 lengths and their weights (per cent).
pub const V4_LENGTHS: &[(u8, f64)] = &[
    (8, 0.001),
    (9, 0.002),
    (10, 0.005),
    (11, 0.012),
    (12, 0.03),
    (13, 0.06),
    (14, 0.11),
    (15, 0.18),
    (16, 1.3),
    (17, 0.6),
    (18, 1.0),
    (19, 2.4),
    (20, 4.1),
    (21, 4.8),
    (22, 12.3),
    (23, 12.1),
    (24, 60.0),
    (25, 0.2),
    (26, 0.16),
    (27, 0.14),
    (28, 0.12),
    (29, 0.12),
    (30, 0.1),
    (31, 0.02),
    (32, 0.14),
];

/// IPv6 lengths and their weights (per cent).
pub const V6_LENGTHS: &[(u8, f64)] = &[
    (19, 0.1),
    (20, 0.2),
    (22, 0.1),
    (24, 0.2),
    (28, 0.4),
    (29, 1.3),
    (30, 0.1),
    (31, 0.1),
    (32, 12.0),
    (33, 1.0),
    (34, 0.7),
    (35, 0.5),
    (36, 2.7),
    (37, 0.4),
    (38, 0.6),
    (39, 0.5),
    (40, 7.0),
    (41, 0.4),
    (42, 0.9),
    (43, 0.5),
    (44, 7.3),
    (45, 0.5),
    (46, 1.5),
    (47, 1.0),
    (48, 55.0),
    (52, 0.3),
    (56, 0.6),
    (60, 0.2),
    (64, 3.0),
    (96, 0.1),
    (112, 0.1),
    (127, 0.1),
    (128, 0.4),
];

/// IPv4 ranges no prefix of the set touches (besides the caller's list):
/// "this network", private, shared, loopback, link-local, documentation,
/// benchmarking; and everything from 224.0.0.0 (multicast, reserved).
pub const BOGONS4: &[(u32, u8)] = &[
    (0x0000_0000, 8),
    (0x0a00_0000, 8),
    (0x6440_0000, 10),
    (0x7f00_0000, 8),
    (0xa9fe_0000, 16),
    (0xac10_0000, 12),
    (0xc000_0000, 24),
    (0xc000_0200, 24),
    (0xc0a8_0000, 16),
    (0xc612_0000, 15),
    (0xc633_6400, 24),
    (0xcb00_7100, 24),
    (0xe000_0000, 3),
];

/// IPv6 ranges inside the drawn blocks that no prefix touches: the IETF
/// protocol assignments (2001::/23: Teredo, benchmarking, ORCHID) and
/// documentation (2001:db8::/32).
pub const BOGONS6: &[(u128, u8)] = &[(0x2001_0000u128 << 96, 23), (0x2001_0db8u128 << 96, 32)];

/// Where IPv6 prefixes are drawn: (block, length, weight): RIPE, APNIC,
/// ARIN, LACNIC, AFRINIC, and 2001::/16.
const V6_BLOCKS: &[(u128, u8, f64)] = &[
    (0x2a00u128 << 112, 12, 36.0),
    (0x2400u128 << 112, 12, 25.0),
    (0x2600u128 << 112, 12, 25.0),
    (0x2800u128 << 112, 12, 9.0),
    (0x2c00u128 << 112, 12, 2.0),
    (0x2001u128 << 112, 16, 3.0),
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// IPv4 prefixes.
    pub v4: usize,
    /// IPv6 prefixes.
    pub v6: usize,
    pub seed: u64,
    /// Next hops to spread the prefixes over (at least 1).
    pub next_hops: u32,
    /// IPv4 ranges no prefix may overlap (the gateways' subnets).
    pub avoid4: Vec<(u32, u8)>,
    /// IPv6 ranges no prefix may overlap.
    pub avoid6: Vec<(u128, u8)>,
}

/// A generated route set: sorted by address, then length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSet {
    pub v4: Vec<Route4>,
    pub v6: Vec<Route6>,
}

/// Generate both families.
pub fn generate(spec: &Spec) -> Result<RouteSet, String> {
    Ok(RouteSet { v4: v4_routes(spec)?, v6: v6_routes(spec)? })
}

/// The IPv4 set of `spec`.
pub fn v4_routes(spec: &Spec) -> Result<Vec<Route4>, String> {
    let mut avoid: Vec<(u128, u8)> = BOGONS4.iter().map(|&(a, l)| (a as u128, l)).collect();
    avoid.extend(spec.avoid4.iter().map(|&(a, l)| (a as u128, l)));
    let space = Space {
        bits: 32,
        lengths: V4_LENGTHS,
        avoid,
        draw: |r| r.gen_range(0x0100_0000u32..0xe000_0000) as u128,
        nest: |len| if len > 16 { 0.5 } else { 0.1 },
    };
    let raw = space.generate(spec.v4, spec.seed ^ 0x0004_0004_0004_0004, spec.next_hops)?;
    Ok(raw.into_iter().map(|(a, l, nh)| (a as u32, l, nh)).collect())
}

/// The IPv6 set of `spec`.
pub fn v6_routes(spec: &Spec) -> Result<Vec<Route6>, String> {
    let mut avoid = BOGONS6.to_vec();
    avoid.extend(spec.avoid6.iter().copied());
    let space = Space {
        bits: 128,
        lengths: V6_LENGTHS,
        avoid,
        draw: |r| {
            let total: f64 = V6_BLOCKS.iter().map(|b| b.2).sum();
            let mut x = r.gen_range(0.0..total);
            let mut pick = V6_BLOCKS[0];
            for &b in V6_BLOCKS {
                pick = b;
                if x < b.2 {
                    break;
                }
                x -= b.2;
            }
            pick.0 | (r.gen::<u128>() & host_mask(128, pick.1))
        },
        nest: |len| if len > 32 { 0.85 } else { 0.2 },
    };
    space.generate(spec.v6, spec.seed ^ 0x0006_0006_0006_0006, spec.next_hops)
}

/// The bits after the first `len` of a `bits`-bit address (in the low
/// bits of a u128).
pub fn host_mask(bits: u32, len: u8) -> u128 {
    let h = bits.saturating_sub(len as u32);
    if h >= 128 {
        u128::MAX
    } else {
        (1u128 << h) - 1
    }
}

/// Whether two prefixes share an address.
pub fn overlap(bits: u32, a: (u128, u8), b: (u128, u8)) -> bool {
    let l = a.1.min(b.1);
    (a.0 ^ b.0) & !host_mask(bits, l) & host_mask(bits, 0) == 0
}

/// Exact counts per length for `n` prefixes: the weights' shares, rounded
/// by largest remainder (so they sum to `n`), each at most what its length
/// can hold (`cap(len)`), the rest given to the heaviest lengths with room
/// (if no length has room left, the counts sum to less than `n`).
pub fn counts(n: usize, lengths: &[(u8, f64)], cap: impl Fn(u8) -> usize) -> Vec<(u8, usize)> {
    let total: f64 = lengths.iter().map(|l| l.1).sum();
    let exact: Vec<f64> = lengths.iter().map(|l| n as f64 * l.1 / total).collect();
    let mut c: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut left = n - c.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by(|&i, &j| (exact[j] - exact[j].floor()).total_cmp(&(exact[i] - exact[i].floor())).then(i.cmp(&j)));
    for &i in order.iter().cycle().take(left) {
        c[i] += 1;
    }
    left = 0;
    for (i, &(len, _)) in lengths.iter().enumerate() {
        let m = cap(len);
        if c[i] > m {
            left += c[i] - m;
            c[i] = m;
        }
    }
    // What the caps took goes to the heaviest lengths with room left.
    let mut by_weight: Vec<usize> = (0..lengths.len()).collect();
    by_weight.sort_by(|&i, &j| lengths[j].1.total_cmp(&lengths[i].1));
    for i in by_weight {
        let room = cap(lengths[i].0).saturating_sub(c[i]).min(left);
        c[i] += room;
        left -= room;
    }
    lengths.iter().zip(c).map(|(&(len, _), k)| (len, k)).collect()
}

/// One family's address space and shape.
struct Space {
    bits: u32,
    lengths: &'static [(u8, f64)],
    /// Ranges no prefix overlaps.
    avoid: Vec<(u128, u8)>,
    /// An address anywhere the family's prefixes may lie.
    draw: fn(&mut Pcg64Mcg) -> u128,
    /// The chance that a prefix of this length is drawn inside a shorter one.
    nest: fn(u8) -> f64,
}

impl Space {
    fn generate(&self, n: usize, seed: u64, next_hops: u32) -> Result<Vec<(u128, u8, u32)>, String> {
        let mut r = Pcg64Mcg::seed_from_u64(seed);
        // At most a quarter of the addresses of a length (the space left
        // after the special ranges is smaller than the whole, and draws
        // must find free prefixes quickly).
        let cap = |len: u8| if len >= 40 { usize::MAX } else { (1usize << len) / 4 };
        let plan = counts(n, self.lengths, cap);
        let mut seen: HashSet<(u128, u8)> = HashSet::with_capacity(n);
        let mut out: Vec<(u128, u8)> = Vec::with_capacity(n);
        for (len, count) in plan {
            // Everything drawn so far is shorter: lengths come in order.
            let shorter = out.len();
            let nest = (self.nest)(len);
            for _ in 0..count {
                let mut tries = 0u32;
                loop {
                    tries += 1;
                    if tries > 100_000 {
                        return Err(format!("cannot place {count} unique /{len} prefixes: the address space is used up"));
                    }
                    let a = if shorter > 0 && tries <= 32 && r.gen_bool(nest) {
                        let p = out[r.gen_range(0..shorter)];
                        p.0 | (r.gen::<u128>() & host_mask(self.bits, p.1))
                    } else {
                        (self.draw)(&mut r)
                    };
                    let a = a & !host_mask(self.bits, len) & host_mask(self.bits, 0);
                    if self.avoid.iter().any(|&x| overlap(self.bits, x, (a, len))) {
                        continue;
                    }
                    if seen.insert((a, len)) {
                        out.push((a, len));
                        break;
                    }
                }
            }
        }
        out.sort_unstable();
        let k = next_hops.max(1);
        Ok(out.into_iter().map(|(a, l)| (a, l, r.gen_range(0..k))).collect())
    }
}

/// A random address inside the prefix (`bits`-bit addresses).
pub fn address_in(r: &mut impl Rng, bits: u32, addr: u128, len: u8) -> u128 {
    addr | (r.gen::<u128>() & host_mask(bits, len))
}

/// `n` destinations spread uniformly over `routes`: each picks a route at
/// random, then a random address inside it. Returns (address, route index).
pub fn spread4(routes: &[Route4], n: usize, seed: u64) -> Vec<(u32, usize)> {
    let mut r = Pcg64Mcg::seed_from_u64(seed ^ 0x7444_7444);
    if routes.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|_| {
            let i = r.gen_range(0..routes.len());
            (address_in(&mut r, 32, routes[i].0 as u128, routes[i].1) as u32, i)
        })
        .collect()
}

/// As [`spread4`], for IPv6.
pub fn spread6(routes: &[Route6], n: usize, seed: u64) -> Vec<(u128, usize)> {
    let mut r = Pcg64Mcg::seed_from_u64(seed ^ 0x7666_7666);
    if routes.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|_| {
            let i = r.gen_range(0..routes.len());
            (address_in(&mut r, 128, routes[i].0, routes[i].1), i)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v4: usize, v6: usize) -> Spec {
        Spec { v4, v6, seed: 7, next_hops: 8, avoid4: vec![(0x0a00_0200, 24)], avoid6: vec![(0xfd00_0002u128 << 96, 64)] }
    }

    #[test]
    fn counts_are_exact_and_capped() {
        let c = counts(1_000_000, V4_LENGTHS, |_| usize::MAX);
        assert_eq!(c.iter().map(|x| x.1).sum::<usize>(), 1_000_000);
        let at = |l: u8| c.iter().find(|x| x.0 == l).unwrap().1;
        assert_eq!(at(24), 600_000);
        assert_eq!(at(8), 10);
        let capped = counts(100, &[(8, 50.0), (24, 50.0)], |l| if l == 8 { 10 } else { usize::MAX });
        assert_eq!(capped, vec![(8, 10), (24, 90)]);
        assert_eq!(counts(3, V6_LENGTHS, |_| usize::MAX).iter().map(|x| x.1).sum::<usize>(), 3);
        assert_eq!(counts(0, V6_LENGTHS, |_| usize::MAX).iter().map(|x| x.1).sum::<usize>(), 0);
    }

    #[test]
    fn overlap_and_masks() {
        assert_eq!(host_mask(32, 24), 0xff);
        assert_eq!(host_mask(128, 0), u128::MAX);
        assert_eq!(host_mask(32, 0), 0xffff_ffff);
        assert!(overlap(32, (0x0a00_0000, 8), (0x0a01_0200, 24)));
        assert!(overlap(32, (0x0a01_0200, 24), (0x0a00_0000, 8)));
        assert!(!overlap(32, (0x0a00_0000, 8), (0x0b00_0000, 8)));
        assert!(overlap(128, (0x2001_0db8u128 << 96, 32), (0x2001_0db8_0001u128 << 80, 48)));
    }

    #[test]
    fn sets_have_the_shape_and_are_reproducible() {
        let s = spec(50_000, 20_000);
        let a = generate(&s).unwrap();
        assert_eq!((a.v4.len(), a.v6.len()), (50_000, 20_000));
        assert_eq!(a, generate(&s).unwrap(), "same seed, same set");
        let b = generate(&Spec { seed: 8, ..s.clone() }).unwrap();
        assert_ne!(a.v4, b.v4);
        // The families draw from streams of their own.
        assert_eq!(generate(&Spec { v6: 1000, ..s.clone() }).unwrap().v4, a.v4);

        let share4 = |f: &dyn Fn(u8) -> bool| a.v4.iter().filter(|r| f(r.1)).count() as f64 / a.v4.len() as f64;
        assert!((share4(&|l| l == 24) - 0.60).abs() < 0.001);
        assert!((share4(&|l| (16..=23).contains(&l)) - 0.386).abs() < 0.002);
        assert!(share4(&|l| l > 24) > 0.005 && share4(&|l| l > 24) < 0.02);
        assert!(share4(&|l| l < 16) > 0.001 && share4(&|l| l < 16) < 0.01);
        let share6 = |f: &dyn Fn(u8) -> bool| a.v6.iter().filter(|r| f(r.1)).count() as f64 / a.v6.len() as f64;
        assert!((share6(&|l| l == 48) - 0.55).abs() < 0.002);
        assert!((share6(&|l| l == 64) - 0.03).abs() < 0.002);
        assert!(share6(&|l| (32..=44).contains(&l)) > 0.3);

        // Unique, masked, no default route, nothing special or avoided, sorted.
        let mut seen = HashSet::new();
        for &(addr, len, nh) in &a.v4 {
            assert!(len >= 8 && nh < 8);
            assert_eq!(addr as u128 & host_mask(32, len), 0);
            assert!(seen.insert((addr, len)));
            for &(b, bl) in BOGONS4.iter().chain(&s.avoid4) {
                assert!(!overlap(32, (b as u128, bl), (addr as u128, len)), "{addr:#x}/{len}");
            }
        }
        assert!(a.v4.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        let mut seen6 = HashSet::new();
        for &(addr, len, nh) in &a.v6 {
            assert!(len >= 19 && nh < 8);
            assert_eq!(addr & host_mask(128, len), 0);
            assert!(seen6.insert((addr, len)));
            assert!((0x2000..0x3000).contains(&(addr >> 112)), "{addr:#x}");
            for &(b, bl) in BOGONS6.iter().chain(&s.avoid6) {
                assert!(!overlap(128, (b, bl), (addr, len)));
            }
        }
        // Every next hop is used.
        assert_eq!(a.v4.iter().map(|r| r.2).collect::<HashSet<_>>().len(), 8);
    }

    #[test]
    fn more_specifics_nest_under_aggregates() {
        let a = generate(&spec(20_000, 20_000)).unwrap();
        // Share of the prefixes of one length inside some shorter prefix of the set.
        fn nested(bits: u32, set: &[(u128, u8)], len: u8) -> f64 {
            let have: HashSet<(u128, u8)> = set.iter().copied().collect();
            let of_len: Vec<u128> = set.iter().filter(|r| r.1 == len).map(|r| r.0).collect();
            let inside = of_len.iter().filter(|&&x| (1..len).any(|l| have.contains(&(x & !host_mask(bits, l) & host_mask(bits, 0), l)))).count();
            inside as f64 / of_len.len() as f64
        }
        let v6: Vec<(u128, u8)> = a.v6.iter().map(|r| (r.0, r.1)).collect();
        let v4: Vec<(u128, u8)> = a.v4.iter().map(|r| (r.0 as u128, r.1)).collect();
        let (n48, n24) = (nested(128, &v6, 48), nested(32, &v4, 24));
        assert!(n48 > 0.7, "{n48}");
        assert!(n24 > 0.4 && n24 < 0.8, "{n24}");
    }

    #[test]
    fn tiny_sets_and_spread() {
        let a = generate(&spec(1, 1)).unwrap();
        assert_eq!((a.v4.len(), a.v6.len(), a.v4[0].1, a.v6[0].1), (1, 1, 24, 48));
        let e = generate(&spec(0, 0)).unwrap();
        assert!(e.v4.is_empty() && e.v6.is_empty());
        assert!(spread4(&e.v4, 10, 1).is_empty());

        let s = generate(&spec(1000, 1000)).unwrap();
        let d4 = spread4(&s.v4, 20_000, 3);
        assert_eq!(d4, spread4(&s.v4, 20_000, 3));
        for &(addr, i) in &d4 {
            let (p, l, _) = s.v4[i];
            assert_eq!(addr as u128 & !host_mask(32, l) & 0xffff_ffff, p as u128);
        }
        // Uniform over the routes: every route is hit (20 draws each on average).
        assert_eq!(d4.iter().map(|x| x.1).collect::<HashSet<_>>().len(), 1000);
        for &(addr, i) in &spread6(&s.v6, 5000, 3) {
            assert_eq!(addr & !host_mask(128, s.v6[i].1), s.v6[i].0);
        }
    }
}
