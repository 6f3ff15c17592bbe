//! The longest-prefix table every address family shares: a multibit trie of
//! atomic entries that changes in place while lcores look it up.
//!
//! Shape: a first level of `ROOT` entries (2^24 for IPv4: DIR-24-8; 2^16 for
//! IPv6; 2^8 for flexible addresses) indexed by the key's first bits, then
//! 8-bit levels of 256-entry groups taken from a pool preallocated at
//! creation. A route of length L lives, expanded, in the level that ends at
//! or after L (controlled prefix expansion, as in rte_lpm and rte_lpm6); the
//! default route (/0) lives in one word of its own, used when an entry says
//! "no route", so adding or deleting it is one store instead of 2^24.
//!
//! An entry is one `AtomicU32`:
//! * `0`: no route here (the default route, if any, applies);
//! * bit 31 set: the rest is the number of the group holding the next level;
//! * otherwise bits 22..=30 hold the route's length (its depth, for the
//!   writer) and bits 0..=21 the next-hop index + 1.
//!
//! **A reader** (an lcore, per packet) loads the first-level entry and, while
//! it names a group, the group's entry for the key's next byte: one load for
//! most IPv4 destinations, two under a /25../32. The loads are `Acquire`
//! (on x86-64 the same plain `mov` as a `Relaxed` load; on AArch64 `ldar`):
//! an entry carries an index into memory written before the entry was, and
//! Rust has no weaker "consume" ordering to say so. No lock, no allocation,
//! no read-modify-write.
//!
//! **A writer** (the control thread; several are serialised by a mutex only
//! writers take) keeps the rules (prefix -> next hop, one hash table) and
//! changes entries so that every lookup, at every instant, returns what the
//! table answered either before or after the update for that address:
//! * add / replace (length L): every entry of the prefix's range whose route
//!   is shorter than or as long as L (or empty) takes the new value, one
//!   atomic store each, descending into groups found in the range; where
//!   the prefix needs levels that do not exist yet on its path, the new
//!   groups are filled completely (inherited value, then the route) while
//!   unreachable and published bottom-up by one `Release` store of the
//!   entry above them;
//! * delete (length L): entries of exactly length L take the covering route
//!   (the longest remaining rule shorter than L, found in the rules: rte_lpm
//!   re-expands it the same way) or "none"; then each group on the path
//!   that no longer holds anything longer than its parent level is folded:
//!   the parent entry gets the group's one value (`Release`) and the group
//!   goes to the reclaimer ([`Deferred`]), back into the pool only after
//!   every reader has passed a quiescent point.
//!
//! A group is never written while readers might still reach it through an
//! old pointer and it might be reused: freed groups wait out a grace period.
//! Every index a reader follows is bounds-checked, so even a writer bug
//! could only give a wrong next hop, never touch memory outside the table.
//!
//! Cost: a lookup reads 1 + (levels below the first that the key's longest
//! route needs) entries. An update writes the entries its prefix covers at
//! its level (2^(level end - L)) plus those inside groups it spans, and may
//! take or free one group per level. Memory: `ROOT` × 4 bytes, plus
//! `groups` × 256 (257 with the end-of-address slot) × 4 bytes, allocated
//! zeroed so the OS backs only the pages written; the rules take a hash
//! entry per route on the writer side.

use super::error::FibError;
use super::nexthop::{NhIndex, MAX_NH};
use crate::rcu::{Deferred, Qsbr};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Entry flag: the low bits name a group.
pub const GROUP: u32 = 1 << 31;
const DEPTH_SHIFT: u32 = 22;
/// The next-hop field of an entry (next hop + 1; 0 = none).
pub const VALUE_MASK: u32 = (1 << DEPTH_SHIFT) - 1;
/// No route.
pub const EMPTY: u32 = 0;
/// Entries in a group (one 8-bit level).
pub const GROUP_ENTRIES: usize = 256;

/// How tables ask the OS for huge pages before they are written (set once
/// by whoever may make system calls: the daemon installs
/// `madvise(MADV_HUGEPAGE)` from the DPDK layer; without it, nothing).
static PAGE_ADVICE: OnceLock<fn(&mut [AtomicU32])> = OnceLock::new();

/// Install the huge-page advice for tables made from now on (the first
/// call wins).
pub fn set_page_advice(advise: fn(&mut [AtomicU32])) {
    let _ = PAGE_ADVICE.set(advise);
}

/// A zeroed table: the allocator's zeroed pages, not touched until written.
fn zeroed(n: usize) -> Box<[AtomicU32]> {
    let mut b = bytemuck::zeroed_slice_box::<AtomicU32>(n);
    if let Some(advise) = PAGE_ADVICE.get() {
        advise(&mut b);
    }
    b
}

#[inline(always)]
fn depth(e: u32) -> u16 {
    ((e >> DEPTH_SHIFT) & 0x1ff) as u16
}

#[inline(always)]
fn has_route(e: u32) -> bool {
    e & GROUP == 0 && e & VALUE_MASK != 0
}

fn route_entry(len: u16, nh: NhIndex) -> u32 {
    (len as u32) << DEPTH_SHIFT | (nh + 1)
}

/// `key` with every bit after the first `len` cleared.
pub fn mask_key<const N: usize>(key: &[u8; N], len: u16) -> [u8; N] {
    let mut out = [0u8; N];
    let full = (len as usize / 8).min(N);
    out[..full].copy_from_slice(&key[..full]);
    let rem = len % 8;
    if rem != 0 && full < N {
        out[full] = key[full] & (0xffu8 << (8 - rem));
    }
    out
}

/// Where a table of entries lives: the first level or a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tbl {
    Root,
    Group(u32),
}

/// How the pool stands (for operators and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Groups in the pool.
    pub capacity: usize,
    /// Groups reachable from the first level.
    pub in_use: usize,
    /// Groups unpublished, waiting for every reader's quiescent point.
    pub waiting: usize,
    /// Groups ready to be taken.
    pub free: usize,
}

/// The writer's side: the rules and the pool's free list.
struct Writer<const N: usize> {
    rules: FxHashMap<([u8; N], u16), NhIndex>,
    /// Rules per prefix length (the covering-route search skips empty lengths).
    lens: Vec<u32>,
    free: Vec<u32>,
    deferred: Deferred<u32>,
}

/// A multibit trie over `N`-byte keys with a first level of `ROOT` entries.
pub struct Trie<const N: usize, const ROOT: usize> {
    root: Box<[AtomicU32; ROOT]>,
    groups: Box<[AtomicU32]>,
    /// Entries per group: 256, or 257 with the end-of-address slot (keys of
    /// variable length: the routes up to the parent level's end).
    stride: usize,
    first_bits: u32,
    /// The default route (next hop + 1, or 0).
    default: Box<AtomicU32>,
    routes: Box<AtomicUsize>,
    capacity: usize,
    /// Boxed like the two above: with no atomic or lock inline, `&Trie` is
    /// read-only to the compiler, which then keeps the table pointers in
    /// registers across a loop of lookups instead of reloading them.
    w: Box<Mutex<Writer<N>>>,
}

impl<const N: usize, const ROOT: usize> Trie<N, ROOT> {
    /// An empty trie with room for `groups` groups; `end_slot` adds the
    /// end-of-address slot to each group; freed groups wait on `qsbr`.
    pub fn new(groups: usize, end_slot: bool, qsbr: Arc<Qsbr>) -> Self {
        assert!(ROOT.is_power_of_two() && ROOT >= 256 && ROOT <= 1 << 24, "first level of 2^8..2^24 entries");
        let first_bits = ROOT.trailing_zeros();
        assert!(first_bits.is_multiple_of(8) && first_bits as usize <= N * 8);
        assert!(groups < GROUP as usize, "group numbers fit in 31 bits");
        let stride = GROUP_ENTRIES + end_slot as usize;
        let root: Box<[AtomicU32; ROOT]> = zeroed(ROOT).try_into().unwrap_or_else(|_| unreachable!("ROOT entries"));
        Trie {
            root,
            groups: zeroed(groups * stride),
            stride,
            first_bits,
            default: Box::new(AtomicU32::new(EMPTY)),
            routes: Box::new(AtomicUsize::new(0)),
            capacity: groups,
            w: Box::new(Mutex::new(Writer {
                rules: FxHashMap::default(),
                lens: vec![0; N * 8 + 1],
                free: (0..groups as u32).rev().collect(),
                deferred: Deferred::new(qsbr),
            })),
        }
    }

    // ---- the reader's side -------------------------------------------

    /// The first level.
    #[inline(always)]
    pub fn root(&self) -> &[AtomicU32; ROOT] {
        &self.root
    }

    /// Entry `i` of group `g` (none if out of range: never, for a table
    /// this module wrote).
    #[inline(always)]
    pub fn group_entry(&self, g: u32, i: usize) -> u32 {
        match self.groups.get(g as usize * self.stride + i) {
            Some(e) => e.load(Ordering::Acquire),
            None => EMPTY,
        }
    }

    /// Entry `i` of the group area (group `g`'s entry `j` is at
    /// `g` × 256 + `j` when groups have no end slot); none if out of range.
    #[inline(always)]
    pub fn entry_at(&self, i: usize) -> u32 {
        match self.groups.get(i) {
            Some(e) => e.load(Ordering::Acquire),
            None => EMPTY,
        }
    }

    /// The next hop of a non-group entry: its own, or the default route's.
    #[inline(always)]
    pub fn resolve(&self, e: u32) -> Option<NhIndex> {
        let v = e & VALUE_MASK;
        // The default route's word is read out of line, so the common case
        // falls straight through.
        let v = if v == EMPTY { self.default_value() } else { v };
        v.checked_sub(1)
    }

    #[cold]
    #[inline(never)]
    fn default_value(&self) -> u32 {
        self.default.load(Ordering::Acquire)
    }

    /// Look a key of `len` bytes (1..=N) up: longest prefix of at most
    /// `len` * 8 bits (fixed-length keys pass N).
    #[inline]
    pub fn lookup_bytes(&self, key: &[u8]) -> Option<NhIndex> {
        let fb = self.first_bits as usize / 8;
        let (head, rest) = key.split_at_checked(fb)?;
        if key.len() > N {
            return None;
        }
        let i = head.iter().fold(0usize, |a, &b| a << 8 | b as usize);
        let mut e = self.root.get(i).map_or(EMPTY, |x| x.load(Ordering::Acquire));
        for &b in rest {
            if e & GROUP == 0 {
                break;
            }
            e = self.group_entry(e & !GROUP, b as usize);
        }
        if e & GROUP != 0 {
            // The key ends where longer routes branch off: the routes up to
            // its end (the end slot; a fixed-length key never gets here).
            e = self.group_entry(e & !GROUP, GROUP_ENTRIES);
            if e & GROUP != 0 {
                return None;
            }
        }
        self.resolve(e)
    }

    /// Routes in the table.
    pub fn len(&self) -> usize {
        self.routes.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ---- geometry ------------------------------------------------------

    fn max_len(&self) -> u16 {
        (N * 8) as u16
    }

    /// The level a route of `len` bits lives in.
    fn level_of(&self, len: u16) -> usize {
        let len = len as u32;
        if len <= self.first_bits {
            0
        } else {
            (len - self.first_bits).div_ceil(8) as usize
        }
    }

    /// The last bit (exclusive) level `k` resolves.
    fn end_bits(&self, k: usize) -> u16 {
        (self.first_bits + 8 * k as u32) as u16
    }

    /// The entry of level `k` that `key` indexes.
    fn index(&self, key: &[u8; N], k: usize) -> usize {
        let fb = self.first_bits as usize / 8;
        if k == 0 {
            key[..fb].iter().fold(0usize, |a, &b| a << 8 | b as usize)
        } else {
            key[fb + k - 1] as usize
        }
    }

    /// The entries of level `k` a (masked) prefix of `len` bits covers.
    fn range(&self, key: &[u8; N], len: u16, k: usize) -> std::ops::Range<usize> {
        let lo = self.index(key, k);
        lo..lo + (1usize << (self.end_bits(k) - len))
    }

    fn slots(&self, t: Tbl) -> &[AtomicU32] {
        match t {
            Tbl::Root => &self.root[..],
            Tbl::Group(g) => {
                let at = g as usize * self.stride;
                self.groups.get(at..at + self.stride).unwrap_or(&[])
            }
        }
    }

    // ---- the writer's side ---------------------------------------------

    fn lock(&self) -> MutexGuard<'_, Writer<N>> {
        self.w.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add a route, or give an existing prefix a new next hop. Returns the
    /// next hop it replaced.
    pub fn add(&self, key: &[u8; N], len: u16, nh: NhIndex) -> Result<Option<NhIndex>, FibError> {
        let mut w = self.lock();
        let r = self.add_locked(&mut w, key, len, nh);
        w.deferred.flush();
        r
    }

    /// Delete a route; returns its next hop.
    pub fn delete(&self, key: &[u8; N], len: u16) -> Result<NhIndex, FibError> {
        let mut w = self.lock();
        let r = self.delete_locked(&mut w, key, len);
        w.deferred.flush();
        r
    }

    /// Add many routes (shortest prefixes first, so each entry is written
    /// about once per level; one grace period for the whole batch).
    /// `added(i, replaced)` hears of every route `i` of `routes` added, with
    /// the next hop it replaced. Returns how many were added; on a refusal,
    /// how many were added before it and why (the rest were not).
    pub fn add_batch(&self, routes: &[([u8; N], u16, NhIndex)], mut added: impl FnMut(usize, Option<NhIndex>)) -> Result<usize, (usize, FibError)> {
        let mut order: Vec<usize> = (0..routes.len()).collect();
        order.sort_by_key(|&i| routes[i].1);
        let mut w = self.lock();
        let mut done = 0;
        let mut result = Ok(());
        for i in order {
            let (key, len, nh) = &routes[i];
            match self.add_locked(&mut w, key, *len, *nh) {
                Ok(old) => added(i, old),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            done += 1;
        }
        w.deferred.flush();
        result.map(|_| done).map_err(|e| (done, e))
    }

    /// The next hop of exactly this prefix, if it is a route.
    pub fn get(&self, key: &[u8; N], len: u16) -> Option<NhIndex> {
        self.lock().rules.get(&(mask_key(key, len), len)).copied()
    }

    /// Every route (writer side; for dumps and tests).
    pub fn routes(&self) -> Vec<([u8; N], u16, NhIndex)> {
        self.lock().rules.iter().map(|(&(k, l), &nh)| (k, l, nh)).collect()
    }

    /// Return groups whose grace period is over to the pool (updates do
    /// this themselves when they need a group). Returns how many.
    pub fn reclaim(&self) -> usize {
        let mut w = self.lock();
        let Writer { free, deferred, .. } = &mut *w;
        deferred.reclaim(|g| free.push(g))
    }

    pub fn pool(&self) -> PoolStats {
        let w = self.lock();
        let (waiting, free) = (w.deferred.pending(), w.free.len());
        PoolStats { capacity: self.capacity, in_use: self.capacity - waiting - free, waiting, free }
    }

    /// The grace-period state freed groups wait on.
    pub fn qsbr(&self) -> Arc<Qsbr> {
        Arc::clone(self.lock().deferred.qsbr())
    }

    fn check(&self, len: u16, nh: Option<NhIndex>) -> Result<(), FibError> {
        if len > self.max_len() {
            return Err(FibError::Length { len, max: self.max_len() });
        }
        match nh {
            Some(nh) if nh > MAX_NH => Err(FibError::NextHopRange(nh)),
            _ => Ok(()),
        }
    }

    fn add_locked(&self, w: &mut Writer<N>, key: &[u8; N], len: u16, nh: NhIndex) -> Result<Option<NhIndex>, FibError> {
        self.check(len, Some(nh))?;
        let key = mask_key(key, len);
        let prev = w.rules.get(&(key, len)).copied();
        if prev == Some(nh) {
            return Ok(prev);
        }
        if len == 0 {
            self.default.store(nh + 1, Ordering::Release);
        } else {
            self.install(w, &key, len, route_entry(len, nh))?;
        }
        w.rules.insert((key, len), nh);
        if prev.is_none() {
            w.lens[len as usize] += 1;
            self.routes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(prev)
    }

    /// Write `new` (a route of `len` bits) over the entries it wins.
    fn install(&self, w: &mut Writer<N>, key: &[u8; N], len: u16, new: u32) -> Result<(), FibError> {
        let target = self.level_of(len);
        let mut tbl = Tbl::Root;
        for k in 0..target {
            let Some(slot) = self.slots(tbl).get(self.index(key, k)) else { return Ok(()) };
            let e = slot.load(Ordering::Relaxed);
            if e & GROUP != 0 {
                tbl = Tbl::Group(e & !GROUP);
                continue;
            }
            // Levels k+1..=target do not exist on this path: build them
            // bottom-up where no reader can see them, then publish the top
            // one with a single release store.
            let need = target - k;
            self.ensure_free(w, need)?;
            let mut child = None;
            for lvl in (k + 1..=target).rev() {
                let Some(g) = w.free.pop() else { unreachable!("ensure_free counted") };
                let s = self.slots(Tbl::Group(g));
                for x in s {
                    x.store(e, Ordering::Relaxed);
                }
                match child {
                    None => {
                        for x in &s[self.range(key, len, lvl)] {
                            x.store(new, Ordering::Relaxed);
                        }
                    }
                    Some(c) => s[self.index(key, lvl)].store(GROUP | c, Ordering::Relaxed),
                }
                child = Some(g);
            }
            if let Some(top) = child {
                slot.store(GROUP | top, Ordering::Release);
            }
            return Ok(());
        }
        let r = self.range(key, len, target);
        if let Some(s) = self.slots(tbl).get(r) {
            self.rewrite(s, |e| e & VALUE_MASK == EMPTY || depth(e) <= len, new);
        }
        Ok(())
    }

    /// Store `new` in every entry of `s` (and of the groups it names) that
    /// `wins` says it replaces.
    fn rewrite(&self, s: &[AtomicU32], wins: impl Fn(u32) -> bool + Copy, new: u32) {
        for x in s {
            let e = x.load(Ordering::Relaxed);
            if e & GROUP != 0 {
                self.rewrite(self.slots(Tbl::Group(e & !GROUP)), wins, new);
            } else if e != new && wins(e) {
                x.store(new, Ordering::Release);
            }
        }
    }

    /// At least `need` free groups, reclaiming those whose grace period is over.
    fn ensure_free(&self, w: &mut Writer<N>, need: usize) -> Result<(), FibError> {
        if w.free.len() < need {
            let Writer { free, deferred, .. } = w;
            deferred.reclaim(|g| free.push(g));
        }
        if w.free.len() < need {
            return Err(FibError::GroupsExhausted { capacity: self.capacity, waiting: w.deferred.pending() });
        }
        Ok(())
    }

    /// The entry value of the longest rule shorter than `len` covering `key`.
    fn covering(&self, w: &Writer<N>, key: &[u8; N], len: u16) -> u32 {
        for l in (1..len).rev() {
            if w.lens[l as usize] == 0 {
                continue;
            }
            if let Some(&nh) = w.rules.get(&(mask_key(key, l), l)) {
                return route_entry(l, nh);
            }
        }
        EMPTY
    }

    fn delete_locked(&self, w: &mut Writer<N>, key: &[u8; N], len: u16) -> Result<NhIndex, FibError> {
        self.check(len, None)?;
        let key = mask_key(key, len);
        let nh = w.rules.remove(&(key, len)).ok_or(FibError::NoSuchRoute)?;
        w.lens[len as usize] -= 1;
        self.routes.fetch_sub(1, Ordering::Relaxed);
        if len == 0 {
            self.default.store(EMPTY, Ordering::Release);
            return Ok(nh);
        }
        let rep = self.covering(w, &key, len);
        let target = self.level_of(len);
        // The pointer entries on the way down (at most one per level).
        let mut path: Vec<(Tbl, usize)> = Vec::with_capacity(target);
        let mut tbl = Tbl::Root;
        for k in 0..target {
            let i = self.index(&key, k);
            let e = self.slots(tbl).get(i).map_or(EMPTY, |x| x.load(Ordering::Relaxed));
            if e & GROUP == 0 {
                debug_assert!(false, "a route of level {target} has no group at level {}", k + 1);
                return Ok(nh);
            }
            path.push((tbl, i));
            tbl = Tbl::Group(e & !GROUP);
        }
        let r = self.range(&key, len, target);
        if let Some(s) = self.slots(tbl).get(r) {
            self.rewrite(s, |e| has_route(e) && depth(e) == len, rep);
        }
        // Fold groups that hold nothing longer than their parent level,
        // deepest first.
        let mut level = target;
        while let Some((parent, i)) = path.pop() {
            let Tbl::Group(g) = tbl else { break };
            let Some(v) = self.uniform(g, self.end_bits(level - 1)) else { break };
            if let Some(x) = self.slots(parent).get(i) {
                x.store(v, Ordering::Release);
            }
            w.deferred.retire(g);
            tbl = parent;
            level -= 1;
        }
        Ok(nh)
    }

    /// The one value of group `g` if it holds no group and no route longer
    /// than `start` bits (then every entry inherited the same value).
    fn uniform(&self, g: u32, start: u16) -> Option<u32> {
        let s = self.slots(Tbl::Group(g));
        let v = s.first()?.load(Ordering::Relaxed);
        for x in s {
            let e = x.load(Ordering::Relaxed);
            if e & GROUP != 0 || (has_route(e) && depth(e) > start) {
                return None;
            }
            debug_assert_eq!(e, v, "inherited entries of one group agree");
        }
        Some(v)
    }

    /// Groups a build of these routes takes (for sizing a pool to fit).
    pub fn groups_needed(routes: impl Iterator<Item = ([u8; N], u16)>) -> usize {
        let first_bits = ROOT.trailing_zeros() as u16;
        let mut seen: std::collections::HashSet<([u8; N], u16)> = std::collections::HashSet::new();
        for (key, len) in routes {
            // One group per level boundary the route passes below the first level.
            let mut b = first_bits;
            while b < len {
                seen.insert((mask_key(&key, b), b));
                b += 8;
            }
        }
        seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small trie (8-bit first level over 4-byte keys): the same code as
    /// the real tables, quick to fill in debug builds.
    type T = Trie<4, 256>;

    fn t(groups: usize) -> T {
        T::new(groups, false, Arc::new(Qsbr::new(4)))
    }

    fn k(a: u32) -> [u8; 4] {
        a.to_be_bytes()
    }

    #[test]
    fn geometry() {
        let x = t(1);
        assert_eq!((x.level_of(0), x.level_of(8), x.level_of(9), x.level_of(16), x.level_of(17), x.level_of(32)), (0, 0, 1, 1, 2, 3));
        assert_eq!(x.range(&k(0x0a80_0000), 9, 1), 0x80..0x100);
        assert_eq!(x.range(&k(0x0a00_0000), 7, 0), 0x0a..0x0c);
        assert_eq!(mask_key(&[0xff, 0xff], 12), [0xff, 0xf0]);
    }

    #[test]
    fn groups_are_built_then_folded_back() {
        let x = t(8);
        x.add(&k(0x0a00_0000), 8, 1).unwrap();
        assert_eq!(x.pool().in_use, 0);
        x.add(&k(0x0a01_0280), 25, 2).unwrap();
        assert_eq!(x.pool().in_use, 3, "levels 1..=3 on the path");
        assert_eq!(x.lookup_bytes(&k(0x0a01_0281)), Some(2));
        assert_eq!(x.lookup_bytes(&k(0x0a01_0201)), Some(1), "inherited");
        x.add(&k(0x0a01_0000), 16, 3).unwrap();
        assert_eq!(x.lookup_bytes(&k(0x0a01_0201)), Some(3), "written into the groups");
        assert_eq!(x.lookup_bytes(&k(0x0a01_0281)), Some(2), "the longer route stays");
        assert_eq!(x.delete(&k(0x0a01_0280), 25), Ok(2));
        assert_eq!(x.lookup_bytes(&k(0x0a01_0281)), Some(3));
        let p = x.pool();
        assert_eq!((p.in_use, p.waiting), (1, 2), "the /16's level stays: it holds a /16");
        assert_eq!(x.delete(&k(0x0a01_0000), 16), Ok(3));
        assert_eq!(x.pool().in_use, 0);
        assert_eq!(x.lookup_bytes(&k(0x0a01_0281)), Some(1), "the covering /8 re-expanded");
        assert_eq!(x.delete(&k(0x0a01_0000), 16), Err(FibError::NoSuchRoute));
        assert!(x.root().iter().enumerate().all(|(i, e)| e.load(Ordering::Relaxed) == if i == 10 { route_entry(8, 1) } else { EMPTY }));
    }

    #[test]
    fn a_refused_add_changes_nothing() {
        let x = t(2);
        x.add(&k(0x0a00_0000), 8, 1).unwrap();
        assert!(matches!(x.add(&k(0x0a01_0203), 32, 2), Err(FibError::GroupsExhausted { capacity: 2, waiting: 0 })));
        assert_eq!(x.lookup_bytes(&k(0x0a01_0203)), Some(1));
        assert_eq!((x.len(), x.pool().free), (1, 2));
        assert_eq!(x.add(&k(0), 33, 1), Err(FibError::Length { len: 33, max: 32 }));
        assert_eq!(x.add(&k(0), 1, MAX_NH + 1), Err(FibError::NextHopRange(MAX_NH + 1)));
        assert_eq!(x.add(&k(0), 1, MAX_NH), Ok(None));
        assert_eq!(x.lookup_bytes(&k(0x0101_0101)), Some(MAX_NH));
    }

    #[test]
    fn end_slot_answers_short_keys() {
        let x: Trie<4, 256> = Trie::new(8, true, Arc::new(Qsbr::new(1)));
        x.add(&k(0x0a00_0000), 8, 1).unwrap();
        x.add(&k(0x0a20_0000), 12, 2).unwrap();
        x.add(&k(0x0a21_0500), 24, 3).unwrap();
        assert_eq!(x.lookup_bytes(&[0x0a]), Some(1), "a 1-byte key cannot match a 12-bit prefix");
        assert_eq!(x.lookup_bytes(&[0x0a, 0x21]), Some(2));
        assert_eq!(x.lookup_bytes(&[0x0a, 0x21, 0x05]), Some(3));
        assert_eq!(x.lookup_bytes(&[0x0a, 0x21, 0x05, 0x07]), Some(3));
        assert_eq!(x.lookup_bytes(&[0x0b]), None);
        x.add(&k(0), 0, 9).unwrap();
        assert_eq!(x.lookup_bytes(&[0x0b]), Some(9));
        assert_eq!(x.lookup_bytes(&[]), None);
        x.delete(&k(0x0a00_0000), 8).unwrap();
        assert_eq!(x.lookup_bytes(&[0x0a]), Some(9), "the end slot took the default");
    }
}
