//! The in-place tables against a naive longest-prefix model over random
//! add / delete / replace / lookup sequences; tables changing under reader
//! threads; groups not reused before every reader passed a quiescent point.

use super::error::FibError;
use super::flex::{mask as flex_mask, FlexLpm, MAX_BYTES};
use super::lpm4::Lpm4;
use super::lpm6::Lpm6;
use super::prefix::{mask128, mask32};
use super::table::{Fib, FibConfig};
use super::trie::PoolStats;
use super::Prefix;
use crate::rcu::Qsbr;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fmt::LowerHex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// What the IPv4 and IPv6 tables have in common, for one model test.
trait Family: Sync {
    type A: Copy + Ord + LowerHex + std::fmt::Debug;
    fn mask(a: Self::A, len: u8) -> Self::A;
    fn last(a: Self::A, len: u8) -> Self::A;
    fn covers(p: Self::A, len: u8, a: Self::A) -> bool {
        Self::mask(a, len) == p
    }
    fn add(&self, a: Self::A, len: u8, nh: u32) -> Result<Option<u32>, FibError>;
    fn delete(&self, a: Self::A, len: u8) -> Result<u32, FibError>;
    fn lookup(&self, a: Self::A) -> Option<u32>;
    fn len(&self) -> usize;
    fn pool(&self) -> PoolStats;
}

impl Family for Lpm4 {
    type A = u32;
    fn mask(a: u32, len: u8) -> u32 {
        a & mask32(len)
    }
    fn last(a: u32, len: u8) -> u32 {
        a | !mask32(len)
    }
    fn add(&self, a: u32, len: u8, nh: u32) -> Result<Option<u32>, FibError> {
        Lpm4::add(self, a, len, nh)
    }
    fn delete(&self, a: u32, len: u8) -> Result<u32, FibError> {
        Lpm4::delete(self, a, len)
    }
    fn lookup(&self, a: u32) -> Option<u32> {
        Lpm4::lookup(self, a)
    }
    fn len(&self) -> usize {
        Lpm4::len(self)
    }
    fn pool(&self) -> PoolStats {
        Lpm4::pool(self)
    }
}

impl Family for Lpm6 {
    type A = u128;
    fn mask(a: u128, len: u8) -> u128 {
        a & mask128(len)
    }
    fn last(a: u128, len: u8) -> u128 {
        a | !mask128(len)
    }
    fn add(&self, a: u128, len: u8, nh: u32) -> Result<Option<u32>, FibError> {
        Lpm6::add(self, a, len, nh)
    }
    fn delete(&self, a: u128, len: u8) -> Result<u32, FibError> {
        Lpm6::delete(self, a, len)
    }
    fn lookup(&self, a: u128) -> Option<u32> {
        Lpm6::lookup(self, a)
    }
    fn len(&self) -> usize {
        Lpm6::len(self)
    }
    fn pool(&self) -> PoolStats {
        Lpm6::pool(self)
    }
}

#[derive(Debug, Clone)]
enum Op<A> {
    /// Add, or replace the next hop of an existing prefix.
    Add(A, u8, u32),
    /// Delete the n-th route of the model (mod its size).
    Delete(usize),
    /// Delete a prefix that may not be a route.
    DeleteAny(A, u8),
    Lookup(A),
}

/// The naive model: scan every route, keep the longest that covers `a`.
fn model_lookup<F: Family>(m: &BTreeMap<(F::A, u8), u32>, a: F::A) -> Option<u32> {
    m.iter().filter(|((p, l), _)| F::covers(*p, *l, a)).max_by_key(|((_, l), _)| *l).map(|(_, &nh)| nh)
}

fn probe<F: Family>(t: &F, m: &BTreeMap<(F::A, u8), u32>, a: F::A) -> Result<(), TestCaseError> {
    prop_assert_eq!(t.lookup(a), model_lookup::<F>(m, a), "lookup {:x}", a);
    Ok(())
}

/// Apply `ops` to the table and the model, comparing lookups at the edges
/// of every prefix touched, then delete every route: the table must be
/// empty again with every group back in the pool.
fn run_model<F: Family>(t: &F, ops: &[Op<F::A>], probes: &[F::A]) -> Result<(), TestCaseError> {
    let mut m: BTreeMap<(F::A, u8), u32> = BTreeMap::new();
    for op in ops {
        match *op {
            Op::Add(a, len, nh) => {
                let p = F::mask(a, len);
                let prev = m.insert((p, len), nh);
                prop_assert_eq!(t.add(a, len, nh), Ok(prev), "add {:x}/{}", p, len);
                for x in [p, F::last(p, len), a] {
                    probe(t, &m, x)?;
                }
            }
            Op::Delete(n) => {
                let Some((&(p, len), &nh)) = m.iter().nth(n % m.len().max(1)) else { continue };
                m.remove(&(p, len));
                prop_assert_eq!(t.delete(p, len), Ok(nh), "delete {:x}/{}", p, len);
                for x in [p, F::last(p, len)] {
                    probe(t, &m, x)?;
                }
            }
            Op::DeleteAny(a, len) => {
                let p = F::mask(a, len);
                let r = t.delete(a, len);
                match m.remove(&(p, len)) {
                    Some(nh) => prop_assert_eq!(r, Ok(nh)),
                    None => prop_assert_eq!(r, Err(FibError::NoSuchRoute)),
                }
                probe(t, &m, a)?;
            }
            Op::Lookup(a) => probe(t, &m, a)?,
        }
        prop_assert_eq!(t.len(), m.len());
    }
    for &(p, len) in m.keys() {
        probe(t, &m, p)?;
        probe(t, &m, F::last(p, len))?;
    }
    for &a in probes {
        probe(t, &m, a)?;
    }
    for (&(p, len), &nh) in &m {
        prop_assert_eq!(t.delete(p, len), Ok(nh));
    }
    let pool = t.pool();
    prop_assert_eq!((pool.in_use, t.len()), (0, 0), "every group folded back: {:?}", pool);
    for &a in probes.iter().chain(m.keys().map(|(p, _)| p)) {
        prop_assert_eq!(t.lookup(a), None);
    }
    Ok(())
}

fn ops<A: std::fmt::Debug + Clone + 'static>(addr: impl Strategy<Value = A> + Clone + 'static, len: impl Strategy<Value = u8> + Clone + 'static, n: usize) -> impl Strategy<Value = Vec<Op<A>>> {
    let op = prop_oneof![
        5 => (addr.clone(), len.clone(), 0u32..6).prop_map(|(a, l, nh)| Op::Add(a, l, nh)),
        3 => any::<usize>().prop_map(Op::Delete),
        1 => (addr.clone(), len).prop_map(|(a, l)| Op::DeleteAny(a, l)),
        3 => addr.prop_map(Op::Lookup),
    ];
    proptest::collection::vec(op, 1..n)
}

/// IPv4 addresses around a few bases, so prefixes overlap and share /24s.
fn v4_addr() -> impl Strategy<Value = u32> + Clone {
    let bases = vec![0x0a00_0000u32, 0x0a01_0200, 0x0a01_0280, 0xc0a8_0000, 0xffff_ffff, 0];
    let noise = vec![0u32, 0x1, 0x7f, 0xff, 0x3ff, 0xffff, 0x00ff_ffff];
    (proptest::sample::select(bases), proptest::sample::select(noise), any::<u32>()).prop_map(|(b, n, r)| b ^ (r & n))
}

/// Lengths weighted to the boundaries (/0, /8, /24, /25, /32) and the ones
/// next to them; short prefixes (up to 2^20 first-level entries each) rarer.
fn v4_len() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![
        1 => Just(0u8),
        1 => 4u8..8,
        8 => proptest::sample::select(vec![8u8, 15, 16, 23, 24, 25, 26, 28, 31, 32]),
        3 => 8u8..=32,
    ]
}

fn v6_addr() -> impl Strategy<Value = u128> + Clone {
    let bases = vec![0x2001_0db8u128 << 96, (0x2001_0db8_0001u128) << 80, 0xfe80u128 << 112, 0, u128::MAX];
    let noise = vec![0u128, 1, 0xff, 0xffff, (1 << 64) - 1, (1 << 80) - 1, (1 << 100) - 1];
    (proptest::sample::select(bases), proptest::sample::select(noise), any::<u128>()).prop_map(|(b, n, r)| b ^ (r & n))
}

fn v6_len() -> impl Strategy<Value = u8> + Clone {
    prop_oneof![
        1 => Just(0u8),
        8 => proptest::sample::select(vec![8u8, 16, 23, 24, 25, 32, 33, 47, 48, 56, 63, 64, 65, 120, 127, 128]),
        3 => 0u8..=128,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn lpm4_matches_the_model(ops in ops(v4_addr(), v4_len(), 48), probes in proptest::collection::vec(v4_addr(), 16)) {
        let t = Lpm4::with_capacity(64, Arc::new(Qsbr::new(1)));
        run_model(&t, &ops, &probes)?;
    }

    #[test]
    fn lpm6_matches_the_model(ops in ops(v6_addr(), v6_len(), 48), probes in proptest::collection::vec(v6_addr(), 16)) {
        let t = Lpm6::with_capacity(1024, Arc::new(Qsbr::new(1)));
        run_model(&t, &ops, &probes)?;
    }

    #[test]
    fn flex_matches_the_model(ops in proptest::collection::vec(flex_op(), 1..48), probes in proptest::collection::vec(flex_addr(), 16)) {
        run_flex(&ops, &probes)?;
    }

    #[test]
    fn exact_tables_match_a_map(ops in proptest::collection::vec((any::<bool>(), any::<bool>(), 0u16..8, 0u32..4), 1..40)) {
        // (8-bit?, set?, address, next hop) through the FIB's own update calls.
        let fib = Fib::new(&FibConfig::default());
        let mut m = std::collections::HashMap::new();
        for (eight, set, a, nh) in ops {
            let p = if eight { Prefix::Bits8(a as u8) } else { Prefix::Bits16(a << 12) };
            if set {
                prop_assert_eq!(fib.table_add(p, nh), Ok(m.insert(p, nh)));
            } else {
                let want = m.remove(&p).ok_or(FibError::NoSuchRoute);
                prop_assert_eq!(fib.table_delete(p), want);
            }
            for a in 0u16..8 {
                for p in [Prefix::Bits8(a as u8), Prefix::Bits16(a << 12)] {
                    prop_assert_eq!(fib.route(p), m.get(&p).copied());
                }
            }
        }
    }
}

// ---- flexible addresses -----------------------------------------------------

fn flex_bytes() -> impl Strategy<Value = Vec<u8>> + Clone {
    let byte = prop_oneof![3 => proptest::sample::select(vec![0x0au8, 0x0b, 0x00, 0xff, 0x80]), 1 => any::<u8>()];
    proptest::collection::vec(byte, 1..6)
}

fn flex_addr() -> impl Strategy<Value = Vec<u8>> + Clone {
    flex_bytes()
}

fn arr(b: &[u8]) -> [u8; MAX_BYTES] {
    let mut a = [0u8; MAX_BYTES];
    a[..b.len()].copy_from_slice(b);
    a
}

fn flex_op() -> impl Strategy<Value = Op<(Vec<u8>, u16)>> {
    // A prefix is (bytes, bits <= 8 * their length); Op's length field is unused.
    let prefix = (flex_bytes(), any::<u16>()).prop_map(|(b, r)| {
        let bits = r % (b.len() as u16 * 8 + 1);
        (b, bits)
    });
    prop_oneof![
        5 => (prefix.clone(), 0u32..6).prop_map(|(p, nh)| Op::Add(p, 0, nh)),
        3 => any::<usize>().prop_map(Op::Delete),
        1 => prefix.prop_map(|p| Op::DeleteAny(p, 0)),
        3 => flex_addr().prop_map(|a| Op::Lookup((a, 0))),
    ]
}

fn flex_model(m: &BTreeMap<([u8; MAX_BYTES], u16), u32>, addr: &[u8]) -> Option<u32> {
    let key = arr(addr);
    m.iter().filter(|((p, bits), _)| *bits as usize <= addr.len() * 8 && flex_mask(&key, *bits) == *p).max_by_key(|((_, b), _)| *b).map(|(_, &nh)| nh)
}

/// Addresses inside and around a prefix: its first bytes, one byte more, one byte fewer.
fn flex_edges(p: &[u8; MAX_BYTES], bits: u16) -> Vec<Vec<u8>> {
    let n = (bits as usize).div_ceil(8).max(1);
    let mut v = vec![p[..n].to_vec(), [&p[..n], &[0xff][..]].concat()];
    if n > 1 {
        v.push(p[..n - 1].to_vec());
    }
    v
}

fn run_flex(ops: &[Op<(Vec<u8>, u16)>], probes: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let t = FlexLpm::with_capacity(256, Arc::new(Qsbr::new(1)));
    let mut m: BTreeMap<([u8; MAX_BYTES], u16), u32> = BTreeMap::new();
    let check = |m: &BTreeMap<_, _>, a: &[u8]| -> Result<(), TestCaseError> {
        prop_assert_eq!(t.lookup(a), flex_model(m, a), "lookup {:02x?}", a);
        Ok(())
    };
    for op in ops {
        match op {
            Op::Add((b, bits), _, nh) => {
                let p = flex_mask(&arr(b), *bits);
                let prev = m.insert((p, *bits), *nh);
                prop_assert_eq!(t.add(&arr(b), *bits, *nh), Ok(prev));
                for a in flex_edges(&p, *bits) {
                    check(&m, &a)?;
                }
            }
            Op::Delete(n) => {
                let Some((&(p, bits), &nh)) = m.iter().nth(n % m.len().max(1)) else { continue };
                m.remove(&(p, bits));
                prop_assert_eq!(t.delete(&p, bits), Ok(nh));
                for a in flex_edges(&p, bits) {
                    check(&m, &a)?;
                }
            }
            Op::DeleteAny((b, bits), _) => {
                let p = flex_mask(&arr(b), *bits);
                let want = m.remove(&(p, *bits)).ok_or(FibError::NoSuchRoute);
                prop_assert_eq!(t.delete(&arr(b), *bits), want);
                check(&m, b)?;
            }
            Op::Lookup((a, _)) => check(&m, a)?,
        }
        prop_assert_eq!(t.len(), m.len());
    }
    for a in probes {
        check(&m, a)?;
    }
    for (&(p, bits), &nh) in &m {
        prop_assert_eq!(t.delete(&p, bits), Ok(nh));
    }
    prop_assert_eq!(t.pool().in_use, 0);
    Ok(())
}

// ---- fixed cases at the boundaries -----------------------------------------

#[test]
fn ipv4_boundaries_and_covering_routes() {
    let t = Lpm4::with_capacity(16, Arc::new(Qsbr::new(1)));
    t.add(0, 0, 1).unwrap();
    t.add(0x8000_0000, 1, 2).unwrap(); // 2^23 first-level entries
    t.add(0x0a01_0200, 24, 3).unwrap();
    t.add(0x0a01_0280, 25, 4).unwrap();
    t.add(0x0a01_02ff, 32, 5).unwrap();
    let at = |a| t.lookup(a);
    assert_eq!((at(0x0a01_0201), at(0x0a01_0280), at(0x0a01_02fe), at(0x0a01_02ff)), (Some(3), Some(4), Some(4), Some(5)));
    assert_eq!((at(0x0a01_0300), at(0xffff_ffff), at(0x7fff_ffff)), (Some(1), Some(2), Some(1)));
    // Delete the covering /24: the /25's group keeps its own, the rest falls to /0.
    assert_eq!(t.delete(0x0a01_0200, 24), Ok(3));
    assert_eq!((at(0x0a01_0201), at(0x0a01_0281), at(0x0a01_02ff)), (Some(1), Some(4), Some(5)));
    // Replace the /25's next hop: the /32 inside it stays.
    assert_eq!(t.add(0x0a01_0280, 25, 6), Ok(Some(4)));
    assert_eq!((at(0x0a01_0281), at(0x0a01_02ff)), (Some(6), Some(5)));
    assert_eq!(t.pool().in_use, 1);
    assert_eq!(t.delete(0x0a01_02ff, 32), Ok(5));
    assert_eq!(t.delete(0x0a01_0280, 25), Ok(6));
    assert_eq!((t.pool().in_use, t.pool().waiting), (0, 1), "folded, waiting for a grace period");
    assert_eq!(t.reclaim(), 1, "no reader registered: over at once");
    assert_eq!(t.pool(), PoolStats { capacity: 16, in_use: 0, waiting: 0, free: 16 });
    assert_eq!(at(0x0a01_0281), Some(1));
    assert_eq!(t.delete(0, 0), Ok(1));
    assert_eq!((at(0x0a01_0281), at(0x8000_0001)), (None, Some(2)));
    assert_eq!(t.delete(0x8000_0000, 1), Ok(2));
    assert_eq!(at(0x8000_0001), None);
    assert!(t.is_empty());
}

#[test]
fn ipv6_boundaries() {
    let t = Lpm6::with_capacity(64, Arc::new(Qsbr::new(1)));
    let a = 0x2001_0db8_0001u128 << 80;
    t.add(0, 0, 1).unwrap();
    t.add(1 << 127, 1, 2).unwrap(); // half the first level
    t.add(a, 24, 3).unwrap();
    t.add(a, 48, 4).unwrap();
    t.add(a | 5, 128, 5).unwrap();
    assert_eq!((t.lookup(a | 5), t.lookup(a | 6), t.lookup(a | 1 << 79)), (Some(5), Some(4), Some(4)));
    assert_eq!((t.lookup(a ^ 1 << 90), t.lookup(1), t.lookup(u128::MAX)), (Some(3), Some(1), Some(2)));
    assert_eq!(t.delete(a, 48), Ok(4));
    assert_eq!((t.lookup(a | 5), t.lookup(a | 6)), (Some(5), Some(3)), "the covering /24 re-expanded");
    assert_eq!(t.delete(a | 5, 128), Ok(5));
    assert_eq!(t.pool().in_use, 0, "every group of the /128's path folded");
    assert_eq!(t.delete(1 << 127, 1), Ok(2));
    assert_eq!((t.lookup(u128::MAX), t.lookup(a)), (Some(1), Some(3)));
}

#[test]
fn batch_install_equals_single_adds() {
    let mut routes = Vec::new();
    let mut x: u32 = 7;
    for i in 0..3000u32 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let len = [8u8, 16, 20, 24, 25, 28, 32][(i % 7) as usize];
        routes.push((x & 0x0fff_ffff & mask32(len), len, i % 50));
    }
    let batch = Lpm4::with_capacity(4096, Arc::new(Qsbr::new(1)));
    let mut added = 0;
    assert_eq!(batch.add_batch(&routes, |_, _| added += 1), Ok(routes.len()));
    assert_eq!(added, routes.len());
    let single = Lpm4::with_capacity(4096, Arc::new(Qsbr::new(1)));
    for &(a, l, nh) in &routes {
        single.add(a, l, nh).unwrap();
    }
    assert_eq!(batch.len(), single.len());
    let mut y: u32 = 99;
    for &(a, l, _) in &routes {
        y = y.wrapping_mul(69069).wrapping_add(1);
        for d in [a, a | !mask32(l), a | (y & !mask32(l))] {
            assert_eq!(batch.lookup(d), single.lookup(d), "{d:08x}");
        }
    }
    assert_eq!(batch.pool().in_use, single.pool().in_use);
}

// ---- reclamation -------------------------------------------------------------

#[test]
fn a_freed_group_waits_for_every_online_reader() {
    let q = Arc::new(Qsbr::new(4));
    let r1 = q.register().unwrap();
    let r2 = q.register().unwrap();
    r2.offline();
    let t = Lpm4::with_capacity(2, Arc::clone(&q));
    t.add(0x0a00_0001, 32, 1).unwrap();
    let ga = t.group_of(0x0a00_0000).unwrap();
    t.delete(0x0a00_0001, 32).unwrap();
    assert_eq!(t.group_of(0x0a00_0000), None, "unpublished");
    assert_eq!((t.pool().waiting, t.pool().free), (1, 1));
    // r1 has not passed a quiescent point: the freed group may still be
    // read through the old tbl24 entry, so the other one is taken.
    t.add(0x0a00_0101, 32, 2).unwrap();
    let gb = t.group_of(0x0a00_0100).unwrap();
    assert_ne!(ga, gb);
    assert!(matches!(t.add(0x0a00_0201, 32, 3), Err(FibError::GroupsExhausted { capacity: 2, waiting: 1 })));
    assert_eq!(t.reclaim(), 0);
    assert_eq!(t.lookup(0x0a00_0201), None, "the refused add changed nothing");
    r1.quiescent(); // r2 is offline: it does not hold the grace period up
    t.add(0x0a00_0201, 32, 3).unwrap();
    assert_eq!(t.group_of(0x0a00_0200), Some(ga), "reused after every online reader passed");
    // Now r2 comes back online: it holds the next grace period up too.
    r2.online();
    t.delete(0x0a00_0101, 32).unwrap();
    r1.quiescent();
    assert!(matches!(t.add(0x0a00_0301, 32, 4), Err(FibError::GroupsExhausted { waiting: 1, .. })));
    r2.quiescent();
    t.add(0x0a00_0301, 32, 4).unwrap();
    assert_eq!(t.group_of(0x0a00_0300), Some(gb));
    assert_eq!((t.lookup(0x0a00_0201), t.lookup(0x0a00_0301)), (Some(3), Some(4)));
}

/// Tiny xorshift generator (the churn threads need no more).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Run `write` (one update per call, retried while the pool waits for a
/// grace period) until it has run `updates` times and the readers have
/// checked every probe `min_rounds` times; `readers` threads meanwhile look
/// every probe up, assert the answer, and report a quiescent point per round.
fn churn<P: Sync>(q: &Arc<Qsbr>, probes: &[P], check: impl Fn(&P) + Sync, updates: u32, min_rounds: u64, mut write: impl FnMut(&mut Rng) -> Result<(), FibError>, reclaim: impl Fn() -> usize) {
    let stop = AtomicBool::new(false);
    let rounds = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let r = q.register().expect("a reader slot");
            let (stop, rounds, check) = (&stop, &rounds, &check);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for p in probes {
                        check(p);
                    }
                    rounds.fetch_add(1, Ordering::Relaxed);
                    r.quiescent();
                }
            });
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut done = 0;
        while done < updates || rounds.load(Ordering::Relaxed) < min_rounds {
            match write(&mut rng) {
                Ok(()) => done += 1,
                Err(FibError::GroupsExhausted { .. }) => {
                    reclaim();
                    std::thread::yield_now();
                }
                Err(e) => panic!("update refused: {e}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
}

#[test]
fn ipv4_readers_see_untouched_routes_while_a_writer_churns() {
    let q = Arc::new(Qsbr::new(4));
    // A small pool: the churn lives on groups being freed and reused.
    let t = Lpm4::with_capacity(12, Arc::clone(&q));
    let mut probes = Vec::new();
    for x in 0..8u32 {
        let net = 0x0a00_0000 | x << 16;
        t.add(net, 16, x).unwrap();
        t.add(net | 0x0100, 24, 100 + x).unwrap();
        t.add(net | 0x0180, 25, 200 + x).unwrap();
        t.add(net | 0x01c8, 32, 300 + x).unwrap();
        probes.extend([(net | 0x0507, x), (net | 0x0107, 100 + x), (net | 0x0182, 200 + x), (net | 0x01c8, 300 + x), (net | 0x0303, x)]);
    }
    let in_use = t.pool().in_use;
    churn(
        &q,
        &probes,
        |&(a, want)| assert_eq!(t.lookup(a), Some(want), "{a:08x}"),
        20_000,
        200,
        |rng| {
            let r = rng.next();
            let net = 0x0a00_0000 | ((r & 7) as u32) << 16;
            let nh = 1000 + (r >> 8) as u32 % 50;
            match (r >> 3) % 6 {
                // Routes in 10.x.3.0/24 below probe 10.x.3.3's /16: the /24's
                // group is made and folded again and again.
                0 => t.add(net | 0x0380 | ((r >> 16) as u32 & 0x7c), 30, nh).map(|_| ()),
                1 => {
                    let p = net | 0x0380 | ((r >> 16) as u32 & 0x7c);
                    t.delete(p, 30).map(|_| ()).or_else(|e| if e == FibError::NoSuchRoute { Ok(()) } else { Err(e) })
                }
                // Inside the live group of 10.x.1.0/24, away from its probes.
                2 => t.add(net | 0x0140, 26, nh).map(|_| ()),
                3 => t.delete(net | 0x0140, 26).map(|_| ()).or_else(|e| if e == FibError::NoSuchRoute { Ok(()) } else { Err(e) }),
                // First-level ranges next to the probes, and a /24 replaced.
                4 => t.add(net | 0x1000, 20, nh).map(|_| ()),
                _ => t.delete(net | 0x1000, 20).map(|_| ()).or_else(|e| if e == FibError::NoSuchRoute { Ok(()) } else { Err(e) }),
            }
        },
        || t.reclaim(),
    );
    for (a, want) in probes {
        assert_eq!(t.lookup(a), Some(want));
    }
    assert!(t.pool().in_use >= in_use);
}

#[test]
fn ipv6_and_flex_readers_see_untouched_routes_while_a_writer_churns() {
    let q = Arc::new(Qsbr::new(4));
    let v6 = Lpm6::with_capacity(40, Arc::clone(&q));
    let fl = FlexLpm::with_capacity(40, Arc::clone(&q));
    let base = 0x2001_0db8u128 << 96;
    v6.add(base, 32, 1).unwrap();
    v6.add(base | 1 << 80, 48, 2).unwrap();
    v6.add(base | 1 << 80 | 5, 128, 3).unwrap();
    fl.add(&arr(&[0x0a]), 8, 1).unwrap();
    fl.add(&arr(&[0x0a, 0x01]), 16, 2).unwrap();
    let v6_probes = [(base | 7 << 80 | 9, 1), (base | 1 << 80 | 6, 2), (base | 1 << 80 | 5, 3)];
    let flex_probes: [(&[u8], u32); 4] = [(&[0x0a, 0x07], 1), (&[0x0a, 0x01, 0x09], 2), (&[0x0a], 1), (&[0x0a, 0x01], 2)];
    let probes: Vec<usize> = (0..v6_probes.len() + flex_probes.len()).collect();
    churn(
        &q,
        &probes,
        |&i| match v6_probes.get(i) {
            Some(&(a, want)) => assert_eq!(v6.lookup(a), Some(want), "{a:032x}"),
            None => {
                let (a, want) = flex_probes[i - v6_probes.len()];
                assert_eq!(fl.lookup(a), Some(want), "{a:02x?}");
            }
        },
        10_000,
        200,
        |rng| {
            let r = rng.next();
            let ok = |x: Result<(), FibError>| x.or_else(|e| if e == FibError::NoSuchRoute { Ok(()) } else { Err(e) });
            let sub = (r >> 8) as u128 & 0xff;
            match (r >> 1) % 4 {
                // Long routes under the /48 next to the probed /128: groups on
                // its path are made and folded.
                0 => v6.add(base | 1 << 80 | (0x100 | sub) << 64, 64, 10).map(|_| ()),
                1 => ok(v6.delete(base | 1 << 80 | (0x100 | sub) << 64, 64).map(|_| ())),
                2 => fl.add(&arr(&[0x0a, 0x02, (sub as u8) | 1, 0x44]), 30, 10).map(|_| ()),
                _ => ok(fl.delete(&arr(&[0x0a, 0x02, (sub as u8) | 1, 0x44]), 30).map(|_| ())),
            }
        },
        || v6.reclaim() + fl.reclaim(),
    );
}

#[test]
fn next_hop_changes_reach_readers_whole() {
    // Routes keep their next-hop index while it moves between ports:
    // readers see the old next hop whole, the new one whole, or unresolved.
    use super::nhtable::{Link, NhKey, NhState};
    let fib = Fib::new(&FibConfig { readers: 4, ..FibConfig::default() });
    fib.next_hops.set_port_mac(1, [1; 6]).unwrap();
    fib.next_hops.set_port_mac(2, [2; 6]).unwrap();
    let key = NhKey { port: 1, neighbour: 42, to_hops: 1, to_delay_ns: 0 };
    let nh = fib.add_route(Prefix::parse("10.0.0.0/8").unwrap(), key, Link::resolved(1, [1; 6])).unwrap();
    let probes = [0x0a00_0001u32, 0x0aff_ffff];
    let mut flips = 0u32;
    churn(
        fib.qsbr(),
        &probes,
        |&a| {
            match fib.v4.lookup(a).map(|i| fib.next_hops.get(i)) {
                Some(Ok(hop)) => {
                    let p = hop.port as u8;
                    assert!(hop.macs.iter().all(|&b| b == p), "mixed: {hop:?}");
                }
                // Blocked for the grace period of a port move.
                Some(Err(crate::kinds::Reason::NextHopUnresolved)) => {}
                other => panic!("{a:08x}: {other:?}"),
            }
        },
        100,
        200,
        |_| {
            flips += 1;
            let p = 1 + (flips % 2) as u16;
            fib.next_hops.set_link(nh, Link { port: p, mac: [p as u8; 6], state: NhState::Resolved })
        },
        || 0,
    );
}
