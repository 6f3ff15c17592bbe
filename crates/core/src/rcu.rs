//! Quiescent-state-based reclamation (QSBR), in the manner of DPDK's
//! `rte_rcu_qsbr`, in safe Rust.
//!
//! Readers are the packet lcores. Each [registers](Qsbr::register) once and
//! then, once per poll round (between bursts, holding no reference into a
//! shared table), reports a quiescent point with [`QsbrReader::quiescent`]:
//! one load of the shared token (a read-mostly cache line) and one release
//! store into the reader's own 128-byte line. No read-modify-write, no lock,
//! no allocation, no system call.
//!
//! A writer that has unpublished something readers may still be looking at
//! (a tbl8 group no tbl24 entry points at any more, a next-hop index no route
//! uses) asks for a grace period with [`Qsbr::start`], which returns a
//! ticket, and later asks [`Qsbr::check`] (or [`Qsbr::safe_ticket`]) whether
//! every reader has passed a quiescent point since. Readers that are offline
//! ([`QsbrReader::offline`]: parked, idle back-off, shutting down) or not
//! registered do not hold a grace period up. [`Deferred`] is the queue of
//! things waiting for their grace period: retire them during an update,
//! [`flush`](Deferred::flush) once at its end (one ticket for the whole
//! update), [`reclaim`](Deferred::reclaim) them when it is safe.
//!
//! Why it is correct (the memory-model argument):
//! * The writer unpublishes (a release store), then takes a ticket with an
//!   `AcqRel` increment of the token. A reader whose quiescent point loaded
//!   that token value or a later one (acquire) synchronises with the
//!   increment, so all its later lookups see the unpublished state: they
//!   cannot reach the retired thing again.
//! * The reader's lookups before its quiescent point are sequenced before its
//!   release store of the counter; the writer reads the counter with acquire
//!   before it reuses anything, so none of those lookups can observe the
//!   reuse.
//! * A reader that comes [online](QsbrReader::online) stores its counter,
//!   then issues a `SeqCst` fence before its first lookup; the writer issues a
//!   `SeqCst` fence between taking a ticket and reading the counters. Of the
//!   two fences one comes first: either the writer sees the reader online
//!   (and waits for it), or the reader's lookups see the unpublished state.
//!   (The same store-load pairing as `rte_rcu_qsbr_thread_online`.)
//!
//! Counters are 64-bit and only grow: no wrap-around to reason about.

use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A reader's counter value meaning "offline": holds no grace period up.
const OFFLINE: u64 = 0;

/// One reader's line: its counter and whether the slot is taken. 128 bytes
/// (CPUs fetch lines in adjacent pairs), so readers never share a line with
/// each other or with the token.
#[repr(align(128))]
#[derive(Default)]
struct Slot {
    counter: AtomicU64,
    taken: AtomicBool,
}

#[repr(align(128))]
struct Token(AtomicU64);

/// The grace-period state shared by one writer side and up to
/// `capacity` readers.
pub struct Qsbr {
    token: Token,
    slots: Box<[Slot]>,
}

/// A grace period: safe once every online reader has reported a quiescent
/// point with a token at least this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// Default number of reader slots of a FIB's [`Qsbr`] (DPDK's RTE_MAX_LCORE
/// is 128 on x86 builds).
pub const DEFAULT_READERS: usize = 128;

impl Qsbr {
    /// Room for `capacity` readers (lcores).
    pub fn new(capacity: usize) -> Qsbr {
        Qsbr { token: Token(AtomicU64::new(1)), slots: (0..capacity).map(|_| Slot::default()).collect() }
    }

    /// How many readers may register.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Register a reader (an lcore, before it starts polling); it is online
    /// from now on. `None` if every slot is taken.
    pub fn register(self: &Arc<Self>) -> Option<QsbrReader> {
        let id = self.slots.iter().position(|s| s.taken.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok())?;
        let r = QsbrReader { q: Arc::clone(self), id };
        r.online();
        Some(r)
    }

    /// Readers registered now.
    pub fn registered(&self) -> usize {
        self.slots.iter().filter(|s| s.taken.load(Ordering::Relaxed)).count()
    }

    /// Start a grace period for everything unpublished before this call.
    pub fn start(&self) -> Ticket {
        Ticket(self.token.0.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// The newest ticket whose grace period is over: every reader online
    /// now has reported a quiescent point at or after it (with no reader
    /// online, the current token).
    pub fn safe_ticket(&self) -> Ticket {
        let now = self.token.0.load(Ordering::Acquire);
        // Pairs with the fence in QsbrReader::online (see the module doc).
        fence(Ordering::SeqCst);
        let mut safe = now;
        for s in self.slots.iter() {
            let c = s.counter.load(Ordering::Acquire);
            if c != OFFLINE && c < safe {
                safe = c;
            }
        }
        Ticket(safe)
    }

    /// Has the grace period of `t` ended?
    pub fn check(&self, t: Ticket) -> bool {
        self.safe_ticket() >= t
    }

    /// Wait until every reader has passed a quiescent point: for the control
    /// thread, never a packet lcore (it spins, yielding the CPU). The calling
    /// thread must not itself be an online reader, or it waits for itself.
    pub fn synchronize(&self) {
        let t = self.start();
        while !self.check(t) {
            std::hint::spin_loop();
            std::thread::yield_now();
        }
    }
}

impl Qsbr {
    /// [`synchronize`](Self::synchronize) with a deadline, for a control
    /// thread that must not wait for ever (an lcore that stopped reporting
    /// quiescent points, e.g. one draining at shutdown): takes a ticket,
    /// then looks every `nap` until its grace period is over (true) or
    /// `limit` has passed (false).
    pub fn synchronize_within(&self, limit: std::time::Duration, nap: std::time::Duration) -> bool {
        self.wait_within(self.start(), limit, nap)
    }

    /// Wait for the grace period of `t`: look every `nap` until it is over
    /// (true) or `limit` has passed (false; ask again later with the same
    /// ticket, so a reader that reports seldom, e.g. one sleeping when idle,
    /// still ends it).
    pub fn wait_within(&self, t: Ticket, limit: std::time::Duration, nap: std::time::Duration) -> bool {
        let end = std::time::Instant::now() + limit;
        loop {
            if self.check(t) {
                return true;
            }
            if std::time::Instant::now() >= end {
                return false;
            }
            std::thread::sleep(nap);
        }
    }
}

impl Default for Qsbr {
    fn default() -> Self {
        Qsbr::new(DEFAULT_READERS)
    }
}

/// One registered reader (an lcore). Dropping it unregisters it.
pub struct QsbrReader {
    q: Arc<Qsbr>,
    id: usize,
}

impl QsbrReader {
    /// "I hold no reference into the shared tables": call once per poll
    /// round, between bursts. One load and one store.
    #[inline]
    pub fn quiescent(&self) {
        let t = self.q.token.0.load(Ordering::Acquire);
        if let Some(s) = self.q.slots.get(self.id) {
            s.counter.store(t, Ordering::Release);
        }
    }

    /// Stop holding grace periods up (before parking, a long idle back-off,
    /// or leaving the loop). No lookups until [`online`](Self::online).
    pub fn offline(&self) {
        if let Some(s) = self.q.slots.get(self.id) {
            s.counter.store(OFFLINE, Ordering::Release);
        }
    }

    /// Back online: lookups may follow.
    pub fn online(&self) {
        let t = self.q.token.0.load(Ordering::Relaxed);
        if let Some(s) = self.q.slots.get(self.id) {
            s.counter.store(t, Ordering::Relaxed);
        }
        // Store-load barrier: the counter is visible before any lookup
        // (pairs with the fence in Qsbr::safe_ticket).
        fence(Ordering::SeqCst);
    }

    /// The reader's slot number.
    pub fn id(&self) -> usize {
        self.id
    }
}

impl Drop for QsbrReader {
    fn drop(&mut self) {
        self.offline();
        if let Some(s) = self.q.slots.get(self.id) {
            s.taken.store(false, Ordering::Release);
        }
    }
}

/// Things retired by a writer, each released only after its grace period
/// (like `rte_rcu_qsbr_dq`). Writer side only.
pub struct Deferred<T> {
    q: Arc<Qsbr>,
    /// Retired during the update in progress (no ticket yet).
    staged: Vec<T>,
    /// Waiting for their grace period, oldest first (tickets only grow).
    waiting: VecDeque<(Ticket, T)>,
}

impl<T> Deferred<T> {
    pub fn new(q: Arc<Qsbr>) -> Deferred<T> {
        Deferred { q, staged: Vec::new(), waiting: VecDeque::new() }
    }

    /// The grace-period state this queue waits on.
    pub fn qsbr(&self) -> &Arc<Qsbr> {
        &self.q
    }

    /// Retire `item`: it was unpublished (no reader can newly reach it).
    pub fn retire(&mut self, item: T) {
        self.staged.push(item);
    }

    /// End of an update: one grace period for everything retired during it.
    pub fn flush(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let t = self.q.start();
        self.waiting.extend(self.staged.drain(..).map(|x| (t, x)));
    }

    /// Hand every item whose grace period is over to `release`; returns
    /// how many.
    pub fn reclaim(&mut self, mut release: impl FnMut(T)) -> usize {
        self.flush();
        let Some(&(oldest, _)) = self.waiting.front() else { return 0 };
        if !self.q.check(oldest) {
            return 0;
        }
        let safe = self.q.safe_ticket();
        let mut n = 0;
        while self.waiting.front().is_some_and(|(t, _)| *t <= safe) {
            if let Some((_, x)) = self.waiting.pop_front() {
                release(x);
                n += 1;
            }
        }
        n
    }

    /// Items retired and not yet released.
    pub fn pending(&self) -> usize {
        self.staged.len() + self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_period_waits_for_every_online_reader() {
        let q = Arc::new(Qsbr::new(4));
        let a = q.register().unwrap();
        let b = q.register().unwrap();
        assert_eq!(q.registered(), 2);
        let t = q.start();
        assert!(!q.check(t), "neither reader has passed a quiescent point");
        a.quiescent();
        assert!(!q.check(t), "b still may hold a reference");
        b.quiescent();
        assert!(q.check(t));
        // A later grace period needs new quiescent points.
        let t2 = q.start();
        assert!(t2 > t && !q.check(t2));
        b.offline();
        assert!(!q.check(t2), "a is still online");
        a.quiescent();
        assert!(q.check(t2), "an offline reader does not hold a grace period up");
        b.online();
        let t3 = q.start();
        a.quiescent();
        assert!(!q.check(t3), "b is online again");
        drop(b);
        assert!(q.check(t3), "an unregistered reader does not hold it up");
        assert_eq!(q.registered(), 1);
    }

    #[test]
    fn registration_is_bounded_and_slots_are_reused() {
        let q = Arc::new(Qsbr::new(2));
        let a = q.register().unwrap();
        let _b = q.register().unwrap();
        assert!(q.register().is_none());
        let id = a.id();
        drop(a);
        assert_eq!(q.register().unwrap().id(), id);
    }

    #[test]
    fn deferred_items_wait_for_their_grace_period() {
        let q = Arc::new(Qsbr::new(2));
        let r = q.register().unwrap();
        let mut d = Deferred::new(Arc::clone(&q));
        d.retire(1);
        d.retire(2);
        d.flush();
        let mut out = Vec::new();
        assert_eq!(d.reclaim(|x| out.push(x)), 0);
        assert_eq!(d.pending(), 2);
        r.quiescent();
        d.retire(3); // a later update: its own grace period
        assert_eq!(d.reclaim(|x| out.push(x)), 2);
        assert_eq!(out, [1, 2]);
        assert_eq!(d.pending(), 1);
        r.quiescent();
        assert_eq!(d.reclaim(|x| out.push(x)), 1);
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn synchronize_within_waits_for_a_quiescent_point_or_gives_up() {
        use std::time::Duration;
        let q = Arc::new(Qsbr::new(2));
        assert!(q.synchronize_within(Duration::ZERO, Duration::from_micros(10)), "no reader: over at once");
        let r = q.register().unwrap();
        assert!(!q.synchronize_within(Duration::from_millis(20), Duration::from_micros(100)), "an online reader that never reports holds it up");
        r.offline();
        assert!(q.synchronize_within(Duration::ZERO, Duration::from_micros(10)), "offline: not waited for");
        r.online();
        let stop = Arc::new(AtomicBool::new(false));
        let h = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    r.quiescent();
                    std::thread::sleep(Duration::from_micros(50));
                }
            })
        };
        assert!(q.synchronize_within(Duration::from_secs(10), Duration::from_micros(100)), "a reader reporting ends it");
        let t = q.start();
        assert!(q.wait_within(t, Duration::from_secs(10), Duration::from_micros(100)));
        assert!(q.wait_within(t, Duration::ZERO, Duration::from_micros(100)), "over once, over for good");
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap();
    }

    #[test]
    fn readers_on_other_threads_end_grace_periods() {
        use std::sync::atomic::AtomicBool;
        let q = Arc::new(Qsbr::new(4));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let r = q.register().unwrap();
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut rounds = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        r.quiescent();
                        rounds += 1;
                    }
                    rounds
                })
            })
            .collect();
        for _ in 0..100 {
            q.synchronize();
        }
        stop.store(true, Ordering::Relaxed);
        for h in readers {
            assert!(h.join().unwrap() > 0);
        }
    }
}
