//! The next-hop table: fixed capacity, one 32-byte entry per next hop, each
//! changed in place by neighbour events while lcores read it.
//!
//! An entry is three `AtomicU64` words, laid out so that a reader copies the
//! 12 bytes of Ethernet addresses out of two of them as they are:
//! * **macs**: the next hop's MAC (bytes 0..6, wire order) and the first two
//!   bytes of the egress port's own MAC (bytes 6..8);
//! * **link**: the last four bytes of the port's MAC (bits 0..32), the
//!   egress port (bits 32..45) and the state (bits 60..64): all zero when
//!   resolved, so a reader tests the sign bit once; unresolved, down,
//!   local (newipd's own address), blackhole and "never written" (which
//!   routes as "no route") set bit 63;
//! * **path**: the route's path figures, `to_hops` (16 bits) and
//!   `to_delay_ns` (32 bits).
//!
//! **A reader** ([`get`](NextHopTable::get), per packet): an `Acquire` load
//! of the link word, the sign test, a load of the macs word and of the path
//! word. No lock, no allocation, no read-modify-write, no retry.
//!
//! **Why a reader cannot mix two updates** (no sequence lock): every update
//! is ordered so that whatever pair of words a reader gets is the whole of
//! one state the entry was in, or a state that forwards exactly like one:
//! * a neighbour event (same port: new MAC, resolved, unresolved, down)
//!   changes the next hop's MAC in the macs word and the state in the link
//!   word; the port's bytes do not change. If the new state forwards, the
//!   macs word is stored first and the link word after it (`Release`), so
//!   a reader that sees the new state (`Acquire`) sees the new MAC; if it
//!   does not forward, the link word goes first, so a reader that still sees
//!   the old MAC saw it with the old state. The one pairing not an exact
//!   past state, old resolved link with a new MAC that is itself resolved,
//!   forwards exactly as the new state does (the link word holds nothing
//!   else that changed);
//! * a change of port (or of the port's own MAC) changes bytes in both
//!   words: the writer first marks the entry unresolved (one store), waits
//!   for a grace period ([`Qsbr::synchronize`]: every lcore that might have
//!   read the old link word has finished that packet), then stores the macs
//!   word and the link word. A reader sees the old whole, "unresolved", or
//!   the new whole. These are rare (an interface moved or renumbered) and
//!   only they wait;
//! * path figures are one store of the path word, independent of the rest.
//!
//! **A writer** (the control thread, serialised by a mutex readers never
//! take) shares entries: routes whose next hop is the same (port, neighbour,
//! path figures: an [`NhKey`]) get the same index, reference-counted on the
//! writer side ([`acquire`](NextHopTable::acquire) /
//! [`release`](NextHopTable::release)). An index whose last route went away
//! is reused only after a grace period: a reader may have read it from a
//! route just before the route changed. A neighbour event
//! ([`neighbour`](NextHopTable::neighbour)) updates every entry of that
//! neighbour in place.
//!
//! Memory: capacity × 32 bytes shared (default 65 536 next hops: 2 MiB),
//! plus the writer's maps.

use super::error::FibError;
use super::nexthop::{NextHop, NhIndex, MAX_NH};
use crate::kinds::{Reason, MAX_PORTS};
use crate::rcu::{Deferred, Qsbr};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Default capacity.
pub const DEFAULT_NEXT_HOPS: usize = 1 << 16;

const PORT_SHIFT: u32 = 32;
const PORT_MASK: u64 = (1 << 13) - 1;
/// Bit 63: packets cannot go there; bits 60..63 say why.
const BLOCKED: u64 = 1 << 63;
const WHY_SHIFT: u32 = 60;
const UNRESOLVED: u64 = BLOCKED;
const DOWN: u64 = BLOCKED | 1 << WHY_SHIFT;
/// An entry never written.
const FREE: u64 = BLOCKED | 2 << WHY_SHIFT;
const LOCAL: u64 = BLOCKED | 3 << WHY_SHIFT;
const BLACKHOLE: u64 = BLOCKED | 4 << WHY_SHIFT;
/// An ECMP group: the macs word is the first of its buckets.
const GROUP: u64 = BLOCKED | 5 << WHY_SHIFT;

/// Buckets of an ECMP group: a flow's hash picks one, and each member holds
/// a share of them by its weight (1/64 resolution).
pub const GROUP_BUCKETS: usize = 64;

/// Default number of ECMP groups (each 64 buckets of 4 bytes).
pub const DEFAULT_GROUPS: usize = 4096;
const STATE_MASK: u64 = BLOCKED | 7 << WHY_SHIFT;

/// Whether packets can go to a next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NhState {
    Resolved,
    /// No neighbour MAC yet (packets are not sent: `next-hop-unresolved`).
    Unresolved,
    /// The neighbour or its link failed (`next-hop-down`).
    Down,
    /// newipd's own address: for the kernel (`for-router`).
    Local,
    /// A blackhole, unreachable or prohibit route (`blackhole`).
    Blackhole,
}

impl NhState {
    fn bits(self) -> u64 {
        match self {
            NhState::Resolved => 0,
            NhState::Unresolved => UNRESOLVED,
            NhState::Down => DOWN,
            NhState::Local => LOCAL,
            NhState::Blackhole => BLACKHOLE,
        }
    }
}

/// Where a next hop is: the egress port, the next hop's MAC, the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub port: u16,
    pub mac: [u8; 6],
    pub state: NhState,
}

impl Link {
    pub fn resolved(port: u16, mac: [u8; 6]) -> Link {
        Link { port, mac, state: NhState::Resolved }
    }

    /// The macs and link words of this link leaving by a port whose MAC is `port_mac`.
    fn words(self, port_mac: &[u8; 6]) -> (u64, u64) {
        let m = [self.mac[0], self.mac[1], self.mac[2], self.mac[3], self.mac[4], self.mac[5], port_mac[0], port_mac[1]];
        let l = u32::from_le_bytes([port_mac[2], port_mac[3], port_mac[4], port_mac[5]]) as u64;
        (u64::from_le_bytes(m), l | (self.port as u64 & PORT_MASK) << PORT_SHIFT | self.state.bits())
    }

    fn unpack(macs: u64, link: u64) -> Link {
        let b = macs.to_le_bytes();
        let state = match link & STATE_MASK {
            0 => NhState::Resolved,
            DOWN => NhState::Down,
            LOCAL => NhState::Local,
            BLACKHOLE => NhState::Blackhole,
            _ => NhState::Unresolved,
        };
        Link { port: ((link >> PORT_SHIFT) & PORT_MASK) as u16, mac: [b[0], b[1], b[2], b[3], b[4], b[5]], state }
    }
}

/// What makes two routes' next hops the same entry: the egress port, the
/// neighbour (as the control plane names it: a gateway address, or for a
/// static neighbour its MAC) and the route's path figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NhKey {
    pub port: u16,
    pub neighbour: u128,
    pub to_hops: u16,
    pub to_delay_ns: u32,
}

impl NhKey {
    /// The key of a static next hop (as pipeline files give them): the
    /// neighbour is named by its MAC.
    pub fn of(nh: &NextHop) -> NhKey {
        NhKey { port: nh.port, neighbour: mac_id(&nh.macs[..6]), to_hops: nh.to_hops, to_delay_ns: nh.to_delay_ns }
    }
}

/// A MAC as a neighbour name: bit 127 set, so it is never the name of a
/// neighbour named by its IP address (IPv4 as `::ffff:a.b.c.d`).
pub fn mac_id(mac: &[u8]) -> u128 {
    1 << 127 | mac.iter().take(6).fold(0u128, |a, &b| a << 8 | b as u128)
}

/// The 64 buckets of a group of `members` (entry, weight > 0): each
/// member gets a share by its weight (largest remainders), interleaved so
/// that neighbouring buckets name different members.
fn spread(members: &[(NhIndex, u16)]) -> [NhIndex; GROUP_BUCKETS] {
    let total: u64 = members.iter().map(|m| m.1 as u64).sum::<u64>().max(1);
    let n = GROUP_BUCKETS as u64;
    let mut share: Vec<(u64, u64, usize)> = members.iter().enumerate().map(|(k, m)| (m.1 as u64 * n / total, m.1 as u64 * n % total, k)).collect();
    let mut left = n - share.iter().map(|s| s.0).sum::<u64>();
    let mut order: Vec<usize> = (0..share.len()).collect();
    order.sort_by(|&a, &b| share[b].1.cmp(&share[a].1).then(a.cmp(&b)));
    for &k in &order {
        if left == 0 {
            break;
        }
        share[k].0 += 1;
        left -= 1;
    }
    let mut out = [members.first().map_or(0, |m| m.0); GROUP_BUCKETS];
    let mut given = vec![0u64; share.len()];
    // Round robin over members with buckets still owed.
    let mut b = 0;
    while b < GROUP_BUCKETS {
        for (k, s) in share.iter().enumerate() {
            if given[k] < s.0 && b < GROUP_BUCKETS {
                out[b] = members[s.2].0;
                given[k] += 1;
                b += 1;
            }
        }
    }
    out
}

/// Why packets cannot go to a blocked entry (out of line: the rare case).
#[cold]
#[inline(never)]
fn blocked(link: u64) -> Reason {
    match link & STATE_MASK {
        UNRESOLVED => Reason::NextHopUnresolved,
        DOWN => Reason::NextHopDown,
        LOCAL => Reason::ForRouter,
        BLACKHOLE => Reason::Blackhole,
        _ => Reason::NoRoute,
    }
}

fn pack_path(to_hops: u16, to_delay_ns: u32) -> u64 {
    to_hops.max(1) as u64 | (to_delay_ns as u64) << 16
}

/// One next hop: 32 bytes, two to a cache line.
#[repr(align(32))]
struct Entry {
    macs: AtomicU64,
    link: AtomicU64,
    path: AtomicU64,
}

impl Default for Entry {
    fn default() -> Self {
        Entry { macs: AtomicU64::new(0), link: AtomicU64::new(FREE), path: AtomicU64::new(0) }
    }
}

struct Slot {
    key: NhKey,
    refs: u32,
}

/// A member of an ECMP group: a next hop and its weight.
pub type Member = (NhKey, Link, u16);

/// An ECMP group in use: its members (entries it holds a reference on,
/// with weights) and its bucket block.
struct Group {
    members: Vec<(NhIndex, u16)>,
    block: u32,
    refs: u32,
}

struct Writer {
    keys: FxHashMap<NhKey, NhIndex>,
    /// By index: the key and reference count of entries in use.
    slots: Vec<Option<Slot>>,
    /// Indices whose grace period is over (besides `slots.len()..` never used).
    free: Vec<NhIndex>,
    deferred: Deferred<NhIndex>,
    /// (port, neighbour) -> the entries of that neighbour.
    neighbours: FxHashMap<(u16, u128), Vec<NhIndex>>,
    /// Each port's own MAC (the source of packets leaving by it).
    port_macs: [[u8; 6]; MAX_PORTS],
    /// ECMP groups by their (sorted) members, and by entry index.
    group_keys: FxHashMap<Vec<(NhIndex, u16)>, NhIndex>,
    groups: FxHashMap<NhIndex, Group>,
    /// Bucket blocks never used, and those released (reused after a grace period).
    free_blocks: Vec<u32>,
    deferred_blocks: Deferred<u32>,
}

/// The next hops routes point at.
pub struct NextHopTable {
    entries: Box<[Entry]>,
    /// ECMP buckets: a member's entry index in each.
    buckets: Box<[AtomicU32]>,
    /// Boxed: with nothing interior-mutable inline, `&NextHopTable` is
    /// read-only to the compiler (table pointers stay in registers).
    w: Box<Mutex<Writer>>,
}

impl NextHopTable {
    /// An empty table of `capacity` next hops; released indices wait for
    /// the readers registered with `qsbr`.
    pub fn new(capacity: usize, qsbr: Arc<Qsbr>) -> NextHopTable {
        let capacity = capacity.min(MAX_NH as usize + 1);
        let groups = DEFAULT_GROUPS.min(capacity);
        NextHopTable {
            entries: (0..capacity).map(|_| Entry::default()).collect(),
            buckets: (0..groups * GROUP_BUCKETS).map(|_| AtomicU32::new(0)).collect(),
            w: Box::new(Mutex::new(Writer {
                keys: FxHashMap::default(),
                slots: Vec::new(),
                free: Vec::new(),
                deferred: Deferred::new(Arc::clone(&qsbr)),
                neighbours: FxHashMap::default(),
                port_macs: [[0; 6]; MAX_PORTS],
                group_keys: FxHashMap::default(),
                groups: FxHashMap::default(),
                free_blocks: (0..groups as u32).rev().collect(),
                deferred_blocks: Deferred::new(qsbr),
            })),
        }
    }

    /// A table whose entry `i` is `list[i]`, resolved, with no routes
    /// counted yet (see [`retain`](Self::retain)): what a pipeline file
    /// gives. Each port's MAC is taken from its first next hop.
    pub fn from_list(list: &[NextHop], capacity: usize, qsbr: Arc<Qsbr>) -> Result<NextHopTable, FibError> {
        let t = NextHopTable::new(capacity.max(list.len()), qsbr);
        let mut w = t.lock();
        let mut set = [false; MAX_PORTS];
        for nh in list {
            let p = nh.port as usize;
            if p >= MAX_PORTS {
                return Err(FibError::Port(nh.port));
            }
            if !set[p] {
                w.port_macs[p].copy_from_slice(&nh.macs[6..]);
                set[p] = true;
            }
        }
        for (i, nh) in list.iter().enumerate() {
            let key = NhKey::of(nh);
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&nh.macs[..6]);
            t.write_new(&w, i as NhIndex, key, Link::resolved(nh.port, mac));
            w.keys.entry(key).or_insert(i as NhIndex);
            w.neighbours.entry((key.port, key.neighbour)).or_default().push(i as NhIndex);
            w.slots.push(Some(Slot { key, refs: 0 }));
        }
        drop(w);
        Ok(t)
    }

    // ---- the reader's side -------------------------------------------

    /// The next hop at `i`, if packets can go there (an ECMP group's
    /// first bucket: use [`get_flow`](Self::get_flow) for packets).
    #[inline(always)]
    pub fn get(&self, i: NhIndex) -> Result<NextHop, Reason> {
        self.get_flow(i, || 0)
    }

    /// The next hop at `i` for a packet; if `i` is an ECMP group, the
    /// member the packet's flow hash (`hash`, asked only then) picks.
    ///
    /// One `read` builds the result, for a plain entry and a group's member
    /// alike: the out-of-line path gives back the member's entry, not a
    /// next hop. When both paths built one, the compiler merged them in a
    /// stack slot written with scalar stores and copied it with one 16-byte
    /// load, which cannot take its data from those stores (a store-
    /// forwarding stall of every forwarded packet).
    #[inline(always)]
    pub fn get_flow(&self, i: NhIndex, hash: impl FnOnce() -> u32) -> Result<NextHop, Reason> {
        let Some(mut e) = self.entries.get(i as usize) else { return Err(Reason::NoRoute) };
        let mut l = e.link.load(Ordering::Acquire);
        if l & BLOCKED != 0 {
            (e, l) = self.blocked_or_member(e, l, hash)?;
        }
        Ok(Self::read(e, l))
    }

    /// A blocked entry's reason, or, for a group, the entry (and its link
    /// word) of the member `hash` picks.
    #[cold]
    #[inline(never)]
    fn blocked_or_member(&self, e: &Entry, l: u64, hash: impl FnOnce() -> u32) -> Result<(&Entry, u64), Reason> {
        if l & STATE_MASK != GROUP {
            return Err(blocked(l));
        }
        let base = e.macs.load(Ordering::Relaxed) as usize * GROUP_BUCKETS;
        let b = (hash() as usize) % GROUP_BUCKETS;
        let m = self.buckets.get(base + b).map_or(u32::MAX, |x| x.load(Ordering::Acquire));
        // A member is never a group: one level only.
        let Some(e) = self.entries.get(m as usize) else { return Err(Reason::NoRoute) };
        let l = e.link.load(Ordering::Acquire);
        if l & BLOCKED != 0 {
            return Err(if l & STATE_MASK == GROUP { Reason::NoRoute } else { blocked(l) });
        }
        Ok((e, l))
    }

    /// A resolved entry's next hop (`l`: its link word, already loaded).
    #[inline(always)]
    fn read(e: &Entry, l: u64) -> NextHop {
        let m = e.macs.load(Ordering::Relaxed);
        let mut macs = [0u8; 12];
        macs[..8].copy_from_slice(&m.to_le_bytes());
        macs[8..].copy_from_slice(&(l as u32).to_le_bytes());
        let p = e.path.load(Ordering::Relaxed);
        // Resolved: the bits above the port are zero.
        NextHop { port: (l >> PORT_SHIFT) as u16, macs, to_hops: p as u16, to_delay_ns: (p >> 16) as u32 }
    }

    /// Entry `i`'s link (port, next hop's MAC, state) as it is now.
    pub fn link(&self, i: NhIndex) -> Option<Link> {
        self.entries.get(i as usize).map(|e| {
            let l = e.link.load(Ordering::Acquire);
            Link::unpack(e.macs.load(Ordering::Relaxed), l)
        })
    }

    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    // ---- the writer's side ---------------------------------------------

    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.w.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fill entry `i`, which no route points at yet.
    fn write_new(&self, w: &Writer, i: NhIndex, key: NhKey, link: Link) {
        if let Some(e) = self.entries.get(i as usize) {
            let (m, l) = link.words(&w.port_macs[link.port as usize % MAX_PORTS]);
            e.path.store(pack_path(key.to_hops, key.to_delay_ns), Ordering::Relaxed);
            e.macs.store(m, Ordering::Relaxed);
            e.link.store(l, Ordering::Release);
        }
    }

    /// Change entry `i` (which routes may point at) to `link`, the two
    /// words in the order the module doc gives. If the port's bytes change,
    /// the caller has blocked the entry and waited for a grace period.
    fn rewrite(&self, w: &Writer, i: NhIndex, link: Link) {
        let Some(e) = self.entries.get(i as usize) else { return };
        let (m, l) = link.words(&w.port_macs[link.port as usize % MAX_PORTS]);
        if link.state == NhState::Resolved {
            e.macs.store(m, Ordering::Release);
            e.link.store(l, Ordering::Release);
        } else {
            e.link.store(l, Ordering::Release);
            e.macs.store(m, Ordering::Release);
        }
    }

    /// Does rewriting entry `i` to `link` change the port's bytes (port or port MAC)?
    fn moves(&self, w: &Writer, i: NhIndex, link: Link) -> bool {
        let Some(e) = self.entries.get(i as usize) else { return false };
        let (m, l) = link.words(&w.port_macs[link.port as usize % MAX_PORTS]);
        let (om, ol) = (e.macs.load(Ordering::Relaxed), e.link.load(Ordering::Relaxed));
        const PORT_BYTES: u64 = 0xffff << 48;
        const LINK_PORT: u64 = (1 << 45) - 1;
        (m ^ om) & PORT_BYTES != 0 || (l ^ ol) & LINK_PORT != 0
    }

    /// Rewrite entries whose port bytes change: block them, wait for every
    /// reader to pass a quiescent point, then write them whole.
    fn rewrite_moved(&self, w: &Writer, changes: &[(NhIndex, Link)]) {
        for &(i, _) in changes {
            if let Some(e) = self.entries.get(i as usize) {
                let l = e.link.load(Ordering::Relaxed);
                e.link.store((l & !STATE_MASK) | UNRESOLVED, Ordering::Release);
            }
        }
        w.deferred.qsbr().synchronize();
        for &(i, link) in changes {
            self.rewrite(w, i, link);
        }
    }

    /// The source MAC of packets leaving `port`. Entries by that port are
    /// rewritten (after a grace period, if any exists and the MAC changed).
    pub fn set_port_mac(&self, port: u16, mac: [u8; 6]) -> Result<(), FibError> {
        if port as usize >= MAX_PORTS {
            return Err(FibError::Port(port));
        }
        let mut w = self.lock();
        w.port_macs[port as usize] = mac;
        let changes: Vec<(NhIndex, Link)> = (0..w.slots.len() as NhIndex)
            .filter(|&i| matches!(w.slots.get(i as usize), Some(Some(_))))
            .filter_map(|i| self.link(i).filter(|l| l.port == port).map(|l| (i, l)))
            .filter(|&(i, l)| self.moves(&w, i, l))
            .collect();
        if !changes.is_empty() {
            self.rewrite_moved(&w, &changes);
        }
        Ok(())
    }

    /// The entry for `key`, shared with the routes already using it (one
    /// more reference), or a new one with `link`. The caller makes a route
    /// point at it, and [`release`](Self::release)s it when the route goes.
    pub fn acquire(&self, key: NhKey, link: Link) -> Result<NhIndex, FibError> {
        if key.port as usize >= MAX_PORTS || link.port as usize >= MAX_PORTS {
            return Err(FibError::Port(key.port.max(link.port)));
        }
        let mut w = self.lock();
        if let Some(&i) = w.keys.get(&key) {
            if let Some(Some(s)) = w.slots.get_mut(i as usize) {
                s.refs += 1;
                return Ok(i);
            }
        }
        let i = match w.free.pop() {
            Some(i) => i,
            None if w.slots.len() < self.entries.len() => {
                w.slots.push(None);
                (w.slots.len() - 1) as NhIndex
            }
            None => {
                let Writer { free, deferred, .. } = &mut *w;
                deferred.reclaim(|i| free.push(i));
                w.free.pop().ok_or(FibError::NextHopsFull { capacity: self.entries.len(), waiting: w.deferred.pending() })?
            }
        };
        self.write_new(&w, i, key, link);
        w.keys.insert(key, i);
        w.neighbours.entry((key.port, key.neighbour)).or_default().push(i);
        w.slots[i as usize] = Some(Slot { key, refs: 1 });
        Ok(i)
    }

    /// One more route uses entry `i`.
    pub fn retain(&self, i: NhIndex) -> Result<(), FibError> {
        match self.lock().slots.get_mut(i as usize) {
            Some(Some(s)) => {
                s.refs += 1;
                Ok(())
            }
            _ => Err(FibError::NoSuchNextHop(i)),
        }
    }

    /// One route fewer uses entry `i`; at none, the index is freed (reused
    /// after a grace period). True if it was freed.
    pub fn release(&self, i: NhIndex) -> Result<bool, FibError> {
        self.release_locked(&mut self.lock(), i)
    }

    /// Routes using entry `i` (0 if it is free).
    pub fn refs(&self, i: NhIndex) -> u32 {
        let w = self.lock();
        if let Some(g) = w.groups.get(&i) {
            return g.refs;
        }
        match w.slots.get(i as usize) {
            Some(Some(s)) => s.refs,
            _ => 0,
        }
    }

    /// The entry of an ECMP group of `members` (next hops with weights,
    /// each acquired as by [`acquire`](Self::acquire)), shared with the
    /// routes already using the same group (one more reference), or a new
    /// one. One member (or all weights but one zero) is that member's
    /// entry, no group. Packets of one flow always take the same member
    /// while the group is unchanged.
    pub fn acquire_group(&self, members: &[Member]) -> Result<NhIndex, FibError> {
        // Zero weights out; the same next hop twice is one member, its
        // weights summed.
        let mut uniq: Vec<Member> = Vec::with_capacity(members.len());
        for m in members.iter().filter(|m| m.2 > 0) {
            match uniq.iter_mut().find(|u| u.0 == m.0) {
                Some(u) => u.2 = u.2.saturating_add(m.2),
                None => uniq.push(*m),
            }
        }
        match uniq.as_slice() {
            [] => return Err(FibError::EmptyGroup),
            [(key, link, _)] => return self.acquire(*key, *link),
            _ => {}
        }
        let mut held = Vec::with_capacity(uniq.len());
        for &(key, link, weight) in &uniq {
            match self.acquire(key, link) {
                Ok(i) => held.push((i, weight)),
                Err(e) => {
                    for &(i, _) in &held {
                        let _ = self.release(i);
                    }
                    return Err(e);
                }
            }
        }
        held.sort_unstable();
        let mut w = self.lock();
        if let Some(&g) = w.group_keys.get(&held) {
            // The group holds its own references on its members.
            for &(m, _) in &held {
                let _ = self.release_locked(&mut w, m);
            }
            if let Some(gr) = w.groups.get_mut(&g) {
                gr.refs += 1;
            }
            return Ok(g);
        }
        let block = match w.free_blocks.pop() {
            Some(b) => Some(b),
            None => {
                let Writer { free_blocks, deferred_blocks, .. } = &mut *w;
                deferred_blocks.reclaim(|b| free_blocks.push(b));
                w.free_blocks.pop()
            }
        };
        let (Some(block), Some(i)) = (block, self.take_index(&mut w)) else {
            if let Some(b) = block {
                w.free_blocks.push(b);
            }
            for &(m, _) in &held {
                let _ = self.release_locked(&mut w, m);
            }
            return Err(FibError::GroupsFull { groups: self.buckets.len() / GROUP_BUCKETS });
        };
        for (k, m) in spread(&held).iter().enumerate() {
            if let Some(b) = self.buckets.get(block as usize * GROUP_BUCKETS + k) {
                b.store(*m, Ordering::Relaxed);
            }
        }
        if let Some(e) = self.entries.get(i as usize) {
            // The buckets, then the entry that names them (Release).
            let path = self.entries.get(held[0].0 as usize).map_or(0, |m| m.path.load(Ordering::Relaxed));
            e.path.store(path, Ordering::Relaxed);
            e.macs.store(block as u64, Ordering::Release);
            e.link.store(GROUP, Ordering::Release);
        }
        w.group_keys.insert(held.clone(), i);
        w.groups.insert(i, Group { members: held, block, refs: 1 });
        Ok(i)
    }

    /// The members (entry, weight) of group `i`, if it is one.
    pub fn group_members(&self, i: NhIndex) -> Option<Vec<(NhIndex, u16)>> {
        self.lock().groups.get(&i).map(|g| g.members.clone())
    }

    /// A free entry index (reclaiming released ones if need be).
    fn take_index(&self, w: &mut MutexGuard<'_, Writer>) -> Option<NhIndex> {
        if let Some(i) = w.free.pop() {
            return Some(i);
        }
        if w.slots.len() < self.entries.len() {
            w.slots.push(None);
            return Some((w.slots.len() - 1) as NhIndex);
        }
        let Writer { free, deferred, .. } = &mut **w;
        deferred.reclaim(|i| free.push(i));
        w.free.pop()
    }

    /// [`release`](Self::release) under the lock already held.
    fn release_locked(&self, w: &mut MutexGuard<'_, Writer>, i: NhIndex) -> Result<bool, FibError> {
        if w.groups.contains_key(&i) {
            return Ok(self.release_group(w, i));
        }
        let Some(Some(s)) = w.slots.get_mut(i as usize) else { return Err(FibError::NoSuchNextHop(i)) };
        s.refs = s.refs.saturating_sub(1);
        if s.refs > 0 {
            return Ok(false);
        }
        let key = s.key;
        w.slots[i as usize] = None;
        if w.keys.get(&key) == Some(&i) {
            w.keys.remove(&key);
        }
        if let Some(v) = w.neighbours.get_mut(&(key.port, key.neighbour)) {
            v.retain(|&x| x != i);
            if v.is_empty() {
                w.neighbours.remove(&(key.port, key.neighbour));
            }
        }
        w.deferred.retire(i);
        w.deferred.flush();
        Ok(true)
    }

    /// One route fewer uses group `i`; at none its members are released
    /// and its index and buckets reused after a grace period.
    fn release_group(&self, w: &mut MutexGuard<'_, Writer>, i: NhIndex) -> bool {
        let Some(g) = w.groups.get_mut(&i) else { return false };
        g.refs = g.refs.saturating_sub(1);
        if g.refs > 0 {
            return false;
        }
        let Some(g) = w.groups.remove(&i) else { return false };
        w.group_keys.remove(&g.members);
        if let Some(e) = self.entries.get(i as usize) {
            e.link.store(FREE, Ordering::Release);
        }
        for &(m, _) in &g.members {
            let _ = self.release_locked(w, m);
        }
        w.deferred.retire(i);
        w.deferred.flush();
        w.deferred_blocks.retire(g.block);
        w.deferred_blocks.flush();
        true
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.lock().slots.iter().filter(|s| s.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries released and not yet reusable.
    pub fn waiting(&self) -> usize {
        self.lock().deferred.pending()
    }

    /// Make indices whose grace period is over reusable; returns how many.
    pub fn reclaim(&self) -> usize {
        let mut w = self.lock();
        let Writer { free, deferred, .. } = &mut *w;
        deferred.reclaim(|i| free.push(i))
    }

    /// Set entry `i`'s link (port, next hop's MAC, state) in place. A new
    /// port waits for a grace period (see the module doc); the rest does not.
    pub fn set_link(&self, i: NhIndex, link: Link) -> Result<(), FibError> {
        if link.port as usize >= MAX_PORTS {
            return Err(FibError::Port(link.port));
        }
        let w = self.lock();
        if !matches!(w.slots.get(i as usize), Some(Some(_))) {
            return Err(FibError::NoSuchNextHop(i));
        }
        if self.moves(&w, i, link) {
            self.rewrite_moved(&w, &[(i, link)]);
        } else {
            self.rewrite(&w, i, link);
        }
        Ok(())
    }

    /// A neighbour event: every entry of neighbour `neighbour` on `port`
    /// now has `mac` and `state` (never waits). Returns how many entries
    /// changed.
    pub fn neighbour(&self, port: u16, neighbour: u128, mac: [u8; 6], state: NhState) -> usize {
        let w = self.lock();
        let Some(v) = w.neighbours.get(&(port, neighbour)) else { return 0 };
        let mut n = 0;
        for &i in v {
            if let Some(old) = self.link(i) {
                // The port stays (it is part of the neighbour's name).
                self.rewrite(&w, i, Link { port: old.port, mac, state });
                n += 1;
            }
        }
        n
    }

    /// Give entry `i` new path figures in place (one store); routes sharing
    /// it see them too. Its key changes accordingly.
    pub fn set_path(&self, i: NhIndex, to_hops: u16, to_delay_ns: u32) -> Result<(), FibError> {
        let mut w = self.lock();
        let Some(Some(s)) = w.slots.get_mut(i as usize) else { return Err(FibError::NoSuchNextHop(i)) };
        let old = s.key;
        s.key = NhKey { to_hops, to_delay_ns, ..old };
        let new = s.key;
        if let Some(e) = self.entries.get(i as usize) {
            e.path.store(pack_path(to_hops, to_delay_ns), Ordering::Release);
        }
        if w.keys.get(&old) == Some(&i) {
            w.keys.remove(&old);
        }
        w.keys.entry(new).or_insert(i);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xaa];
    const PEER: [u8; 6] = [2, 0, 0, 0, 0, 0x01];

    fn table(cap: usize) -> (Arc<Qsbr>, NextHopTable) {
        let q = Arc::new(Qsbr::new(4));
        let t = NextHopTable::new(cap, Arc::clone(&q));
        t.set_port_mac(1, PORT_MAC).unwrap();
        (q, t)
    }

    fn key(n: u128) -> NhKey {
        NhKey { port: 1, neighbour: n, to_hops: 2, to_delay_ns: 500 }
    }

    #[test]
    fn ecmp_groups_spread_by_weight_are_shared_and_follow_neighbours() {
        let (_q, t) = table(16);
        let (a, b) = (key(1), key(2));
        let (la, lb) = (Link::resolved(1, [2, 0, 0, 0, 0, 0xa]), Link::resolved(1, [2, 0, 0, 0, 0, 0xb]));
        let g = t.acquire_group(&[(a, la, 1), (b, lb, 3)]).unwrap();
        let shares = |t: &NextHopTable| {
            let mut n = [0; 2];
            for h in 0..GROUP_BUCKETS as u32 {
                match t.get_flow(g, || h).unwrap().macs[5] {
                    0xa => n[0] += 1,
                    _ => n[1] += 1,
                }
            }
            n
        };
        assert_eq!(shares(&t), [16, 48], "weights 1:3 over 64 buckets");
        assert_eq!(t.get_flow(g, || 7), t.get_flow(g, || 7 + GROUP_BUCKETS as u32), "a hash picks one bucket");
        // The same members in another order: the same group, shared.
        assert_eq!(t.acquire_group(&[(b, lb, 3), (a, la, 1)]).unwrap(), g);
        assert_eq!(t.refs(g), 2);
        let ia = t.acquire(a, la).unwrap();
        assert_eq!(t.refs(ia), 2, "the group's reference and this route's");
        // A neighbour's new MAC shows through the group.
        t.neighbour(1, 1, [2, 0, 0, 0, 0, 0xc], NhState::Resolved);
        assert!((0..64).any(|h| t.get_flow(g, || h).unwrap().macs[5] == 0xc));
        t.neighbour(1, 2, [0; 6], NhState::Unresolved);
        assert!((0..64).any(|h| t.get_flow(g, || h) == Err(Reason::NextHopUnresolved)), "members keep their own state");
        // One member (or all weights but one zero): no group.
        assert_eq!(t.acquire_group(&[(a, la, 5), (b, lb, 0)]).unwrap(), ia);
        assert_eq!(t.acquire_group(&[(a, la, 0)]), Err(FibError::EmptyGroup));
        // The last route goes: the group releases its members.
        assert!(!t.release(g).unwrap());
        assert!(t.release(g).unwrap());
        assert_eq!(t.refs(ia), 2, "two routes of its own left");
        assert_eq!(t.get(g), Err(Reason::NoRoute), "a released group routes nowhere");
    }

    #[test]
    fn packs_and_reads_back_whole() {
        for l in [Link { port: 0x1fff, mac: [0xff; 6], state: NhState::Down }, Link { port: 0, mac: [0; 6], state: NhState::Resolved }, Link::resolved(3, PEER)] {
            let (m, w) = l.words(&PORT_MAC);
            assert_eq!(Link::unpack(m, w), l);
            assert_eq!(w & BLOCKED == 0, l.state == NhState::Resolved);
        }
        let (_q, t) = table(4);
        let i = t.acquire(key(7), Link::resolved(1, PEER)).unwrap();
        let nh = t.get(i).unwrap();
        assert_eq!(nh, NextHop::new(1, PEER, PORT_MAC).with_path(2, 500));
        assert_eq!(t.get(99), Err(Reason::NoRoute), "beyond the table");
        assert_eq!(t.get(i + 1), Err(Reason::NoRoute), "never written");
    }

    #[test]
    fn shared_next_hops_are_one_entry_reference_counted() {
        let (q, t) = table(2);
        let r = q.register().unwrap();
        let a = t.acquire(key(7), Link::resolved(1, PEER)).unwrap();
        assert_eq!(t.acquire(key(7), Link::resolved(1, PEER)).unwrap(), a, "same neighbour and path: same entry");
        let b = t.acquire(key(8), Link::resolved(1, PEER)).unwrap();
        assert_ne!(a, b);
        assert_eq!((t.refs(a), t.refs(b), t.len()), (2, 1, 2));
        assert!(matches!(t.acquire(key(9), Link::resolved(1, PEER)), Err(FibError::NextHopsFull { capacity: 2, waiting: 0 })));
        assert_eq!(t.release(a), Ok(false));
        assert_eq!(t.release(a), Ok(true));
        assert_eq!(t.release(a), Err(FibError::NoSuchNextHop(a)));
        // Freed, but a reader may still hold index `a`: not reused yet.
        assert!(matches!(t.acquire(key(9), Link::resolved(1, PEER)), Err(FibError::NextHopsFull { waiting: 1, .. })));
        r.quiescent();
        let c = t.acquire(key(9), Link::resolved(1, PEER)).unwrap();
        assert_eq!(c, a, "reused after the grace period");
        assert_eq!(t.get(c).unwrap().macs[..6], PEER);
    }

    #[test]
    fn neighbour_events_update_in_place() {
        let (_q, t) = table(8);
        let unresolved = Link { port: 1, mac: [0; 6], state: NhState::Unresolved };
        let a = t.acquire(key(7), unresolved).unwrap();
        let b = t.acquire(NhKey { to_hops: 5, ..key(7) }, unresolved).unwrap();
        let other = t.acquire(key(8), Link::resolved(1, PEER)).unwrap();
        assert_eq!(t.get(a), Err(Reason::NextHopUnresolved));
        let mac = [2, 0, 0, 0, 0, 0x42];
        assert_eq!(t.neighbour(1, 7, mac, NhState::Resolved), 2, "both entries of neighbour 7");
        assert_eq!(t.get(a).unwrap().macs, [2, 0, 0, 0, 0, 0x42, 2, 0, 0, 0, 0, 0xaa]);
        assert_eq!(t.get(b).unwrap().to_hops, 5);
        assert_eq!(t.get(other).unwrap().macs[..6], PEER, "another neighbour is untouched");
        assert_eq!(t.neighbour(1, 7, mac, NhState::Down), 2);
        assert_eq!(t.get(b), Err(Reason::NextHopDown));
        assert_eq!(t.neighbour(2, 7, mac, NhState::Resolved), 0, "no such neighbour on port 2");
        t.set_link(a, Link::resolved(1, PEER)).unwrap();
        assert_eq!(t.get(a).unwrap().port, 1);
        t.set_path(a, 9, 1234).unwrap();
        let nh = t.get(a).unwrap();
        assert_eq!((nh.to_hops, nh.to_delay_ns), (9, 1234));
        assert_eq!(t.acquire(NhKey { to_hops: 9, to_delay_ns: 1234, ..key(7) }, unresolved).unwrap(), a, "found under its new key");
        assert_eq!(t.set_link(a, Link::resolved(MAX_PORTS as u16, PEER)), Err(FibError::Port(MAX_PORTS as u16)));
    }

    #[test]
    fn readers_never_see_two_events_mixed() {
        // Port moves write a next-hop MAC of the port's number and the
        // port's own MAC is that number too; neighbour events write a MAC
        // of one repeated byte. A torn read would show bytes that disagree.
        use std::sync::atomic::AtomicBool;
        let (q, t) = table(4);
        for p in 0..MAX_PORTS as u16 {
            t.set_port_mac(p, [p as u8; 6]).unwrap();
        }
        let i = t.acquire(key(7), Link::resolved(1, [1; 6])).unwrap();
        let t = Arc::new(t);
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (t, stop, reads, r) = (Arc::clone(&t), Arc::clone(&stop), Arc::clone(&reads), q.register().unwrap());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match t.get(i) {
                            Ok(nh) => {
                                let (d, s) = nh.macs.split_at(6);
                                assert!(d.iter().all(|&b| b == d[0]), "torn next-hop MAC {nh:?}");
                                assert!(s.iter().all(|&b| b == nh.port as u8), "source MAC of another port {nh:?}");
                            }
                            // Down by an event, or unresolved while it moves.
                            Err(r) => assert!(matches!(r, Reason::NextHopDown | Reason::NextHopUnresolved), "{r:?}"),
                        }
                        reads.fetch_add(1, Ordering::Relaxed);
                        r.quiescent();
                    }
                })
            })
            .collect();
        // Keep changing it until the readers have read it many times.
        let mut n = 0u32;
        while n < 2_000 || reads.load(Ordering::Relaxed) < 20_000 {
            if n.is_multiple_of(8) {
                let p = (n / 8 % MAX_PORTS as u32) as u16;
                t.set_link(i, Link::resolved(p, [p as u8; 6])).unwrap();
            } else {
                let port = t.link(i).unwrap().port;
                let state = if n.is_multiple_of(3) { NhState::Down } else { NhState::Resolved };
                assert_eq!(t.neighbour(1, 7, [n as u8; 6], state), 1);
                assert_eq!(t.link(i).unwrap(), Link { port, mac: [n as u8; 6], state }, "a neighbour event keeps the port");
            }
            n += 1;
        }
        stop.store(true, Ordering::Relaxed);
        for h in readers {
            h.join().expect("no torn read");
        }
    }
}
