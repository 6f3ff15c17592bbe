//! The next-hop table: fixed capacity, one 16-byte entry per next hop, each
//! changed in place by a neighbour event while lcores read it.
//!
//! An entry is two `AtomicU64` words:
//! * **link**: the next hop's MAC (bytes 0..6, in wire order), the egress
//!   port (14 bits) and the state (2 bits: resolved, unresolved, down; 0
//!   for an entry never written, which routes as "no route");
//! * **path**: the route's path figures, `to_hops` (16 bits) and
//!   `to_delay_ns` (32 bits).
//!
//! The source MAC is the egress port's own, kept per port
//! ([`set_port_mac`](NextHopTable::set_port_mac)), so it always belongs to
//! the port the packet leaves by.
//!
//! **Why a reader cannot mix two updates, with no sequence lock:** each
//! kind of update writes exactly one word with one store. A neighbour event
//! (new MAC, moved port, resolved, failed) is one store of the link word;
//! a change of path figures is one store of the path word. A load of a word
//! returns the whole of one store (single-copy atomicity of aligned 64-bit
//! accesses), so a reader sees the MAC, port and state of one neighbour
//! event and the hops and delay of one path update, never half of one with
//! half of another. The two words are independent facts (where to send;
//! what lies beyond): reading them a few nanoseconds apart gives each as
//! it was at some instant of the read, which is all a packet needs, and a
//! packet never goes out of one port with another port's source MAC. (A
//! seqlock would be needed only if one update had to change both words at
//! once; none does.)
//!
//! **A reader** ([`get`](NextHopTable::get), per packet): an `Acquire` load
//! of the link word, a test of the state, a load of the port's MAC and of
//! the path word: no lock, no allocation, no read-modify-write.
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
//! Memory: capacity × 16 bytes shared (default 65 536 next hops: 1 MiB),
//! plus the writer's map.

use super::error::FibError;
use super::nexthop::{NextHop, NhIndex, MAX_NH};
use crate::kinds::{Reason, MAX_PORTS};
use crate::rcu::{Deferred, Qsbr};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Default capacity.
pub const DEFAULT_NEXT_HOPS: usize = 1 << 16;

const PORT_SHIFT: u32 = 48;
const PORT_MASK: u64 = (1 << 14) - 1;
const STATE_SHIFT: u32 = 62;

/// Whether packets can go to a next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NhState {
    Resolved = 1,
    /// No neighbour MAC yet (packets are not sent: `next-hop-unresolved`).
    Unresolved = 2,
    /// The neighbour or its link failed (`next-hop-down`).
    Down = 3,
}

/// Where a next hop is: the link word of an entry.
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

    fn pack(self) -> u64 {
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(&self.mac);
        u64::from_le_bytes(b) | (self.port as u64 & PORT_MASK) << PORT_SHIFT | (self.state as u64) << STATE_SHIFT
    }

    fn unpack(a: u64) -> Link {
        let b = a.to_le_bytes();
        let state = match a >> STATE_SHIFT {
            1 => NhState::Resolved,
            3 => NhState::Down,
            _ => NhState::Unresolved,
        };
        Link { port: ((a >> PORT_SHIFT) & PORT_MASK) as u16, mac: [b[0], b[1], b[2], b[3], b[4], b[5]], state }
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

/// A MAC as a neighbour name.
pub fn mac_id(mac: &[u8]) -> u128 {
    mac.iter().take(6).fold(0u128, |a, &b| a << 8 | b as u128)
}

fn pack_path(to_hops: u16, to_delay_ns: u32) -> u64 {
    to_hops as u64 | (to_delay_ns as u64) << 16
}

/// One next hop: 16 bytes, never across two cache lines.
#[repr(align(16))]
#[derive(Default)]
struct Entry {
    link: AtomicU64,
    path: AtomicU64,
}

struct Slot {
    key: NhKey,
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
}

/// The next hops routes point at.
pub struct NextHopTable {
    entries: Box<[Entry]>,
    port_macs: [AtomicU64; MAX_PORTS],
    w: Mutex<Writer>,
}

impl NextHopTable {
    /// An empty table of `capacity` next hops; released indices wait for
    /// the readers registered with `qsbr`.
    pub fn new(capacity: usize, qsbr: Arc<Qsbr>) -> NextHopTable {
        let capacity = capacity.min(MAX_NH as usize + 1);
        NextHopTable {
            entries: (0..capacity).map(|_| Entry::default()).collect(),
            port_macs: std::array::from_fn(|_| AtomicU64::new(0)),
            w: Mutex::new(Writer {
                keys: FxHashMap::default(),
                slots: Vec::new(),
                free: Vec::new(),
                deferred: Deferred::new(qsbr),
                neighbours: FxHashMap::default(),
            }),
        }
    }

    /// A table whose entry `i` is `list[i]`, resolved, with no routes
    /// counted yet (see [`retain`](Self::retain)): what a pipeline file
    /// gives. Each port's MAC is taken from its first next hop unless set.
    pub fn from_list(list: &[NextHop], capacity: usize, qsbr: Arc<Qsbr>) -> Result<NextHopTable, FibError> {
        let t = NextHopTable::new(capacity.max(list.len()), qsbr);
        let mut set = [false; MAX_PORTS];
        for nh in list {
            let p = nh.port as usize;
            if p >= MAX_PORTS {
                return Err(FibError::Port(nh.port));
            }
            if !set[p] {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&nh.macs[6..]);
                t.set_port_mac(nh.port, mac)?;
                set[p] = true;
            }
        }
        let mut w = t.lock();
        for (i, nh) in list.iter().enumerate() {
            let key = NhKey::of(nh);
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&nh.macs[..6]);
            t.write(i as NhIndex, key, Link::resolved(nh.port, mac));
            w.keys.entry(key).or_insert(i as NhIndex);
            w.neighbours.entry((key.port, key.neighbour)).or_default().push(i as NhIndex);
            w.slots.push(Some(Slot { key, refs: 0 }));
        }
        drop(w);
        Ok(t)
    }

    // ---- the reader's side -------------------------------------------

    /// The next hop at `i`, if packets can go there.
    #[inline(always)]
    pub fn get(&self, i: NhIndex) -> Result<NextHop, Reason> {
        let Some(e) = self.entries.get(i as usize) else { return Err(Reason::NoRoute) };
        let a = e.link.load(Ordering::Acquire);
        match a >> STATE_SHIFT {
            1 => {}
            2 => return Err(Reason::NextHopUnresolved),
            3 => return Err(Reason::NextHopDown),
            _ => return Err(Reason::NoRoute),
        }
        let port = ((a >> PORT_SHIFT) & PORT_MASK) as u16;
        let d = a.to_le_bytes();
        let s = self.port_macs[port as usize % MAX_PORTS].load(Ordering::Relaxed).to_le_bytes();
        let p = e.path.load(Ordering::Relaxed);
        Ok(NextHop {
            port,
            macs: [d[0], d[1], d[2], d[3], d[4], d[5], s[0], s[1], s[2], s[3], s[4], s[5]],
            to_hops: p as u16,
            to_delay_ns: (p >> 16) as u32,
        })
    }

    /// The link word of entry `i` as it is now.
    pub fn link(&self, i: NhIndex) -> Option<Link> {
        self.entries.get(i as usize).map(|e| Link::unpack(e.link.load(Ordering::Acquire)))
    }

    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    // ---- the writer's side ---------------------------------------------

    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.w.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, i: NhIndex, key: NhKey, link: Link) {
        if let Some(e) = self.entries.get(i as usize) {
            e.path.store(pack_path(key.to_hops.max(1), key.to_delay_ns), Ordering::Relaxed);
            e.link.store(link.pack(), Ordering::Release);
        }
    }

    /// The source MAC of packets leaving `port`.
    pub fn set_port_mac(&self, port: u16, mac: [u8; 6]) -> Result<(), FibError> {
        let x = self.port_macs.get(port as usize).ok_or(FibError::Port(port))?;
        x.store(Link { port: 0, mac, state: NhState::Unresolved }.pack(), Ordering::Release);
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
        self.write(i, key, link);
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
        let mut w = self.lock();
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

    /// Routes using entry `i` (0 if it is free).
    pub fn refs(&self, i: NhIndex) -> u32 {
        match self.lock().slots.get(i as usize) {
            Some(Some(s)) => s.refs,
            _ => 0,
        }
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

    /// Set entry `i`'s link (port, MAC, state) in place: one store.
    pub fn set_link(&self, i: NhIndex, link: Link) -> Result<(), FibError> {
        if link.port as usize >= MAX_PORTS {
            return Err(FibError::Port(link.port));
        }
        let w = self.lock();
        match (w.slots.get(i as usize), self.entries.get(i as usize)) {
            (Some(Some(_)), Some(e)) => {
                e.link.store(link.pack(), Ordering::Release);
                Ok(())
            }
            _ => Err(FibError::NoSuchNextHop(i)),
        }
    }

    /// A neighbour event: every entry of neighbour `neighbour` on `port`
    /// now has `mac` and `state`. Returns how many entries changed.
    pub fn neighbour(&self, port: u16, neighbour: u128, mac: [u8; 6], state: NhState) -> usize {
        let w = self.lock();
        let Some(v) = w.neighbours.get(&(port, neighbour)) else { return 0 };
        let mut n = 0;
        for &i in v {
            if let Some(e) = self.entries.get(i as usize) {
                let old = Link::unpack(e.link.load(Ordering::Relaxed));
                e.link.store(Link { port: old.port, mac, state }.pack(), Ordering::Release);
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
            e.path.store(pack_path(to_hops.max(1), to_delay_ns), Ordering::Release);
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
    fn packs_and_reads_back_whole() {
        for l in [Link { port: 0x3fff, mac: [0xff; 6], state: NhState::Down }, Link { port: 0, mac: [0; 6], state: NhState::Resolved }, Link::resolved(3, PEER)] {
            assert_eq!(Link::unpack(l.pack()), l);
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
        // Each event writes a MAC whose every byte is the event number and
        // a port equal to it: a torn read would show bytes or a port that
        // disagree.
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
                        let nh = t.get(i).expect("always resolved");
                        let p = nh.port as u8;
                        assert!(nh.macs.iter().all(|&b| b == p), "torn next hop {nh:?}");
                        reads.fetch_add(1, Ordering::Relaxed);
                        r.quiescent();
                    }
                })
            })
            .collect();
        // Keep changing it until the readers have read it many times.
        let mut n = 0u32;
        while n < 20_000 || reads.load(Ordering::Relaxed) < 20_000 {
            let p = (n % MAX_PORTS as u32) as u16;
            t.set_link(i, Link::resolved(p, [p as u8; 6])).unwrap();
            n += 1;
        }
        stop.store(true, Ordering::Relaxed);
        for h in readers {
            h.join().expect("no torn read");
        }
    }
}
