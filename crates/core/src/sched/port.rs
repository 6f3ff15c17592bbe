//! One egress port's scheduler: the deadline queue plus what turns it into
//! behaviour.
//!
//! * `edf`: packets wait in a hold queue keyed by their eligibility time
//!   (LBF `t_min`, on-time dampers), then in the ready queue keyed by
//!   deadline; the earliest deadline goes first.
//! * `fifo`: one queue in arrival order, no hold (the baseline to compare).
//! * A shaper releases packets at the configured link rate, counting 20
//!   bytes of preamble and inter-frame gap and 4 of FCS per frame, so a real
//!   bottleneck exists even on virtual devices.
//! * When full, it drops an already late packet if there is one, else the
//!   one with the latest deadline (`queue-full-late`, `queue-full`).
//! * At the head, a packet past its deadline is dropped (`newip-late`,
//!   `class-late`, `newip-on-time-broken`) unless it is `late_ok`: then
//!   (EDF) it is demoted to best effort, with a fresh best-effort deadline,
//!   so a late packet never outranks packets that can still be on time.
//! * An on-time (damper) packet gets its deadline here: eligibility plus
//!   the port's bound for its prio (see [`on_time`](crate::contract::on_time)).
//! * Packet wash: when the backlog (bytes queued plus the arriving packet)
//!   is above the port's wash budget, the arriving packet is asked to shed
//!   the excess (see [`wash`](super::wash)) before anything is dropped.
//!
//! Times are nanoseconds. Pure code: the item type is generic.

use crate::contract::on_time::{default_bounds_ns, prio_index, PRIOS};
use super::hold::Hold;
use super::queue::BucketQueue;
use crate::kinds::Reason;
use std::mem::ManuallyDrop;

/// What the scheduler needs to know about a queued item.
pub trait Schedulable {
    /// Latest useful send time; `u64::MAX`: best effort.
    fn deadline_ns(&self) -> u64;
    /// Earliest send time (0: now).
    fn eligible_ns(&self) -> u64;
    /// Frame bytes without FCS.
    fn frame_len(&self) -> u32;
    /// Deliver late rather than drop.
    fn late_ok(&self) -> bool;
    /// Give the packet a new deadline (a late_ok packet demoted to best effort).
    fn set_deadline_ns(&mut self, deadline_ns: u64);
    /// The drop reason when it is late at the head.
    fn late_reason(&self) -> Reason {
        Reason::NewipLate
    }
    /// The prio of an on-time (damper) contract, if it has one.
    fn on_time_prio(&self) -> Option<u8> {
        None
    }
    /// Packet wash: remove at least `bytes` of washable payload if the
    /// packet allows (as much as it allows otherwise); returns the bytes
    /// removed (`frame_len` shrinks by as much).
    fn wash(&mut self, bytes: u64) -> u64 {
        let _ = bytes;
        0
    }
}

/// Queue discipline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Discipline {
    /// Earliest deadline first, with eligibility hold.
    #[default]
    Edf,
    /// First in, first out.
    Fifo,
}

/// A port scheduler's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedConfig {
    pub discipline: Discipline,
    /// Packets the port may hold.
    pub capacity: usize,
    /// Bucket width is `1 << bucket_shift` ns (10: about 1 µs).
    pub bucket_shift: u32,
    /// Number of buckets (their span is the horizon).
    pub buckets: usize,
    /// Link rate in bits/s; 0: unshaped.
    pub rate_bps: u64,
    /// Deadline given to best-effort packets, from arrival.
    pub best_effort_ns: u64,
    /// Queueing bound per on-time prio (deadline = eligibility + bound).
    pub on_time_bound_ns: [u64; PRIOS],
    /// Wash budget: queued frame bytes above which arriving packets are
    /// washed; 0: no wash.
    pub wash_bytes: u64,
}

impl Default for SchedConfig {
    fn default() -> Self {
        SchedConfig {
            discipline: Discipline::Edf,
            capacity: 16384,
            bucket_shift: 10,
            buckets: 16384,
            rate_bps: 0,
            best_effort_ns: 10_000_000,
            on_time_bound_ns: default_bounds_ns(10_000_000),
            wash_bytes: 0,
        }
    }
}

/// Per-frame overhead on the wire: preamble + SFD (8) + inter-frame gap (12) + FCS (4).
pub const WIRE_OVERHEAD: u64 = 24;

/// A token bucket in bytes with nanosecond refill.
#[derive(Debug, Clone, Copy)]
struct Shaper {
    /// Bytes per second.
    rate: u64,
    /// Tokens in bytes, scaled by 1e9 (so refill is an integer multiply).
    tokens: u128,
    max: u128,
    last_ns: u64,
}

impl Shaper {
    fn new(rate_bps: u64, now: u64) -> Shaper {
        let rate = (rate_bps / 8).max(1);
        // Burst: two full-size frames.
        let max = 2 * (1514 + WIRE_OVERHEAD) as u128 * 1_000_000_000;
        Shaper { rate, tokens: max, max, last_ns: now }
    }

    #[inline]
    fn refill(&mut self, now: u64) {
        if now > self.last_ns {
            let add = (now - self.last_ns) as u128 * self.rate as u128;
            self.tokens = (self.tokens + add).min(self.max);
            self.last_ns = now;
        }
    }

    #[inline]
    fn try_take(&mut self, frame_len: u32) -> bool {
        let cost = (frame_len as u64 + WIRE_OVERHEAD) as u128 * 1_000_000_000;
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }
}

/// One egress port's scheduler.
pub struct PortSched<P> {
    cfg: SchedConfig,
    ready: BucketQueue<P>,
    hold: Hold<P>,
    shaper: Option<Shaper>,
    queued_bytes: u64,
    demoted: u64,
    washed: Washed,
    /// Send due held packets without a trip through the ready queue (see
    /// `release_directly`); the tests turn it off to check it changes nothing.
    direct_release: bool,
}

/// Due packets [`PortSched::dequeue`] sorts on the stack (see `release_directly`).
const DIRECT: usize = 32;

/// Packet wash done by a port, since the last [`PortSched::take_washed`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Washed {
    pub packets: u64,
    pub bytes: u64,
}

impl<P: Schedulable> PortSched<P> {
    /// Everything allocated here, nothing later.
    pub fn new(cfg: SchedConfig, now: u64) -> PortSched<P> {
        let hold_cap = if cfg.discipline == Discipline::Edf { cfg.capacity } else { 1 };
        PortSched {
            cfg,
            ready: BucketQueue::new(cfg.capacity, cfg.buckets, cfg.bucket_shift),
            hold: Hold::new(hold_cap, cfg.buckets, cfg.bucket_shift),
            shaper: (cfg.rate_bps > 0).then(|| Shaper::new(cfg.rate_bps, now)),
            queued_bytes: 0,
            demoted: 0,
            washed: Washed::default(),
            direct_release: true,
        }
    }

    pub fn config(&self) -> &SchedConfig {
        &self.cfg
    }

    /// Packets held or ready.
    pub fn len(&self) -> usize {
        self.ready.len() + self.hold.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.hold.is_empty()
    }

    /// Late packets demoted to best effort since the last call.
    pub fn take_demoted(&mut self) -> u64 {
        std::mem::take(&mut self.demoted)
    }

    /// Packets washed (and their bytes) since the last call.
    pub fn take_washed(&mut self) -> Washed {
        std::mem::take(&mut self.washed)
    }

    /// Frame bytes queued (for packet wash budgets).
    pub fn queued_bytes(&self) -> u64 {
        self.queued_bytes
    }

    /// Is something ready to send at `now`, or a held packet due?
    /// ([`dequeue`](Self::dequeue) would move or send it.)
    #[inline(always)]
    pub fn has_due(&self, now: u64) -> bool {
        // (An empty hold queue's key is u64::MAX: never due.)
        !self.ready.is_empty() || self.hold.peek_key_or_max() <= now
    }

    /// Can `p` skip the queue and go straight to the TX buffer? Only when it
    /// is eligible now, nothing is ready to send, no held packet has become
    /// eligible (the test [`dequeue`](Self::dequeue) uses), and the shaper
    /// (if any) has tokens: then every discipline would send it first anyway.
    /// Packets still held for later do not stop it.
    #[inline(always)]
    pub fn try_bypass(&mut self, p: &P, now: u64) -> bool {
        self.try_bypass_with(p.eligible_ns(), p.frame_len(), now)
    }

    /// [`try_bypass`](Self::try_bypass) from the two numbers it needs.
    #[inline(always)]
    pub fn try_bypass_with(&mut self, eligible_ns: u64, frame_len: u32, now: u64) -> bool {
        if eligible_ns > now || self.has_due(now) {
            return false;
        }
        match &mut self.shaper {
            None => true,
            Some(s) => {
                s.refill(now);
                s.try_take(frame_len)
            }
        }
    }

    fn key(&self, p: &P, now: u64) -> u64 {
        match self.cfg.discipline {
            Discipline::Fifo => now,
            Discipline::Edf => match p.deadline_ns() {
                u64::MAX => now.saturating_add(self.cfg.best_effort_ns),
                d => d,
            },
        }
    }

    /// Queue `p`. When the port is full, one packet is dropped through `drop`:
    /// an already late one if the earliest is late, else the latest deadline
    /// (possibly `p` itself).
    pub fn enqueue(&mut self, mut p: P, now: u64, mut drop: impl FnMut(P, Reason)) {
        if let Some(prio) = p.on_time_prio() {
            let d = p.eligible_ns().max(now).saturating_add(self.cfg.on_time_bound_ns[prio_index(prio)]);
            if d < p.deadline_ns() {
                p.set_deadline_ns(d);
            }
        }
        if self.len() >= self.cfg.capacity {
            match self.make_room(&p, now) {
                Some((victim, r)) => drop(victim, r),
                None => return drop(p, Reason::QueueFull),
            }
        }
        if self.cfg.wash_bytes != 0 {
            self.wash(&mut p);
        }
        let len = p.frame_len() as u64;
        let r = if self.cfg.discipline == Discipline::Edf && p.eligible_ns() > now {
            self.hold.push(p.eligible_ns(), p.deadline_ns(), p, now)
        } else {
            let k = self.key(&p, now);
            self.ready.push(k, p, now)
        };
        match r {
            Ok(()) => self.queued_bytes += len,
            Err(p) => drop(p, Reason::QueueFull),
        }
    }

    /// Wash `p` by what the backlog (queued bytes and `p`) exceeds the budget.
    #[inline(never)]
    fn wash(&mut self, p: &mut P) {
        let backlog = self.queued_bytes + p.frame_len() as u64;
        if backlog > self.cfg.wash_bytes {
            let removed = p.wash(backlog - self.cfg.wash_bytes);
            if removed > 0 {
                self.washed.packets += 1;
                self.washed.bytes += removed;
            }
        }
    }

    /// Free one place for `p`: a late packet, or the latest deadline if `p`'s is earlier.
    fn make_room(&mut self, p: &P, now: u64) -> Option<(P, Reason)> {
        if self.ready.peek_key().is_some_and(|k| k < now) {
            let (_, v) = self.ready.pop(now)?;
            if !v.late_ok() {
                self.queued_bytes -= v.frame_len() as u64;
                return Some((v, Reason::QueueFullLate));
            }
            // A late_ok packet is not a victim: put it back and fall through.
            let k = self.key(&v, now);
            let _ = self.ready.push(k, v, now);
        }
        // Compare with the latest ready deadline; evict it if p is more urgent.
        let pk = self.key(p, now);
        let (lk, victim) = self.ready.pop_latest()?;
        if lk > pk {
            self.queued_bytes -= victim.frame_len() as u64;
            Some((victim, Reason::QueueFull))
        } else {
            let _ = self.ready.push(lk, victim, now);
            None
        }
    }

    /// Release up to `max` packets that may leave now, in order, through `send`;
    /// packets past their deadline (and not late_ok) go to `drop` instead.
    /// Returns how many were sent.
    #[inline]
    pub fn dequeue(&mut self, now: u64, max: usize, mut send: impl FnMut(P), mut drop: impl FnMut(P, Reason)) -> usize {
        let mut sent = 0;
        if self.direct_release && self.shaper.is_none() && self.ready.is_empty() && self.hold.peek_key_or_max() <= now {
            sent = match self.release_in_order(now, max, &mut send) {
                Some(n) => n,
                None => self.release_directly(now, max, &mut send, &mut drop),
            };
        }
        // Held packets whose time has come move to the ready queue.
        while self.hold.peek_key().is_some_and(|k| k <= now) {
            let Some((_, p)) = self.hold.pop(now) else { break };
            let k = self.key(&p, now);
            if let Err(p) = self.ready.push(k, p, now) {
                self.queued_bytes -= p.frame_len() as u64;
                drop(p, Reason::QueueFull);
            }
        }
        if let Some(s) = &mut self.shaper {
            s.refill(now);
        }
        while sent < max {
            // Take the head; if the shaper says wait it goes back in front.
            let Some((key, mut p)) = self.ready.pop(now) else { break };
            if p.deadline_ns() < now {
                if !p.late_ok() {
                    self.queued_bytes -= p.frame_len() as u64;
                    let r = p.late_reason();
                    drop(p, r);
                    continue;
                }
                if self.cfg.discipline == Discipline::Edf {
                    // Demote to best effort: behind everything that can still be on time.
                    let d = now.saturating_add(self.cfg.best_effort_ns);
                    p.set_deadline_ns(d);
                    self.demoted += 1;
                    if let Err(p) = self.ready.push(d, p, now) {
                        self.queued_bytes -= p.frame_len() as u64;
                        drop(p, Reason::QueueFull);
                    }
                    continue;
                }
            }
            if let Some(s) = &mut self.shaper {
                if !s.try_take(p.frame_len()) {
                    // Not yet: back at the head of its bucket order.
                    let _ = self.ready.push_front(key, p, now);
                    break;
                }
            }
            self.queued_bytes -= p.frame_len() as u64;
            send(p);
            sent += 1;
        }
        sent
    }

    /// The commonest case of [`release_directly`](Self::release_directly):
    /// only packets of the hold queue's ring are due, at most `max` (and
    /// [`DIRECT`]) of them, none late, and their ready-queue buckets already
    /// in ring order. Decided from the keys and deadlines the ring keeps
    /// beside its packets, without touching a packet; then they are sent in
    /// that order, which is the order release_directly's stable sort would
    /// give. None: not this case (nothing taken).
    #[inline]
    fn release_in_order(&mut self, now: u64, max: usize, send: &mut impl FnMut(P)) -> Option<usize> {
        if self.cfg.discipline != Discipline::Edf || self.hold.other_key_or_max() <= now {
            return None;
        }
        let limit = max.min(DIRECT);
        let (mut n, mut last) = (0, 0);
        while let Some((eligible, deadline)) = self.hold.ring_at(n) {
            if eligible > now {
                break;
            }
            if n == limit || deadline < now {
                return None;
            }
            let key = if deadline == u64::MAX { now.saturating_add(self.cfg.best_effort_ns) } else { deadline };
            let b = self.ready.bucket_if_empty(key, now);
            if b < last {
                return None;
            }
            (last, n) = (b, n + 1);
        }
        for _ in 0..n {
            let (_, p) = self.hold.pop(now)?;
            self.queued_bytes -= p.frame_len() as u64;
            send(p);
        }
        Some(n)
    }

    /// The common case of [`dequeue`](Self::dequeue): nothing ready, no
    /// shaper, and a few held packets due, none late. The ready queue would
    /// take them and give them back ordered by bucket, FIFO within one:
    /// sort them so here instead (stable, on the stack) and send the first
    /// `max`; only the rest enter the ready queue. Anything else (more due
    /// than fit here, a late one) takes the general path, with the packets
    /// already taken put in the ready queue in the order the general path
    /// would have put them. Returns how many were sent.
    fn release_directly(&mut self, now: u64, max: usize, send: &mut impl FnMut(P), drop: &mut impl FnMut(P, Reason)) -> usize {
        // The loop at the end empties every slot filled here, so there is
        // nothing to drop: ManuallyDrop spares a drop loop over all 32.
        let mut due: ManuallyDrop<[Option<P>; DIRECT]> = ManuallyDrop::new([const { None }; DIRECT]);
        let mut key = [0u64; DIRECT];
        // The ready-queue bucket of each (what the ready queue orders by).
        let mut bucket = [0u64; DIRECT];
        let (mut n, mut late, mut sorted) = (0, false, true);
        while n < DIRECT && self.hold.peek_key_or_max() <= now {
            let Some((_, p)) = self.hold.pop(now) else { break };
            let k = self.key(&p, now);
            let b = self.ready.bucket_if_empty(k, now);
            sorted &= n == 0 || bucket[n - 1] <= b;
            (key[n], bucket[n]) = (k, b);
            late |= p.deadline_ns() < now;
            due[n] = Some(p);
            n += 1;
        }
        let mut order: [u8; DIRECT] = std::array::from_fn(|i| i as u8);
        let take = if late || self.hold.peek_key_or_max() <= now {
            0
        } else {
            if !sorted {
                // Insertion sort by bucket: stable, and n is a handful.
                for i in 1..n {
                    let mut j = i;
                    while j > 0 && bucket[order[j - 1] as usize] > bucket[order[j] as usize] {
                        order.swap(j - 1, j);
                        j -= 1;
                    }
                }
            }
            n.min(max)
        };
        for (rank, &i) in order[..n].iter().enumerate() {
            let Some(p) = due[i as usize].take() else { continue };
            if rank < take {
                self.queued_bytes -= p.frame_len() as u64;
                send(p);
            } else if let Err(p) = self.ready.push(key[i as usize], p, now) {
                self.queued_bytes -= p.frame_len() as u64;
                drop(p, Reason::QueueFull);
            }
        }
        debug_assert!(due.iter().all(Option::is_none), "release_directly left a packet behind");
        take
    }

    /// Empty the scheduler (shutdown): every packet goes to `drop`.
    pub fn drain(&mut self, now: u64, mut drop: impl FnMut(P, Reason)) {
        while let Some((_, p)) = self.hold.pop(now) {
            drop(p, Reason::ShutdownDrained);
        }
        while let Some((_, p)) = self.ready.pop(now) {
            drop(p, Reason::ShutdownDrained);
        }
        self.queued_bytes = 0;
    }

    /// When the next held packet becomes eligible.
    pub fn next_eligible(&self) -> Option<u64> {
        self.hold.peek_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct T {
        id: u32,
        deadline: u64,
        eligible: u64,
        len: u32,
        late_ok: bool,
        prio: Option<u8>,
        /// Bytes this packet could shed by washing.
        washable: u32,
    }

    impl Schedulable for T {
        fn deadline_ns(&self) -> u64 {
            self.deadline
        }
        fn eligible_ns(&self) -> u64 {
            self.eligible
        }
        fn frame_len(&self) -> u32 {
            self.len
        }
        fn late_ok(&self) -> bool {
            self.late_ok
        }
        fn set_deadline_ns(&mut self, d: u64) {
            self.deadline = d;
        }
        fn late_reason(&self) -> Reason {
            if self.prio.is_some() {
                Reason::NewipOnTimeBroken
            } else {
                Reason::NewipLate
            }
        }
        fn on_time_prio(&self) -> Option<u8> {
            self.prio
        }
        fn wash(&mut self, bytes: u64) -> u64 {
            let n = bytes.min(self.washable as u64) as u32;
            self.washable -= n;
            self.len -= n;
            n as u64
        }
    }

    fn t(id: u32, deadline: u64) -> T {
        T { id, deadline, eligible: 0, len: 100, late_ok: false, prio: None, washable: 0 }
    }

    fn cfg(d: Discipline) -> SchedConfig {
        SchedConfig { discipline: d, capacity: 4, bucket_shift: 0, buckets: 4096, rate_bps: 0, best_effort_ns: 3000, ..SchedConfig::default() }
    }

    fn drain_ids(s: &mut PortSched<T>, now: u64) -> (Vec<u32>, Vec<(u32, Reason)>) {
        let (mut sent, mut dropped) = (Vec::new(), Vec::new());
        s.dequeue(now, 64, |p| sent.push(p.id), |p, r| dropped.push((p.id, r)));
        (sent, dropped)
    }

    #[test]
    fn edf_orders_by_deadline_fifo_by_arrival() {
        for (d, want) in [(Discipline::Edf, vec![2, 3, 1, 4]), (Discipline::Fifo, vec![1, 2, 3, 4])] {
            let mut s = PortSched::new(cfg(d), 0);
            for p in [t(1, 500), t(2, 100), t(3, 200), t(4, u64::MAX)] {
                s.enqueue(p, 0, |_, _| panic!("no drop"));
            }
            assert_eq!(drain_ids(&mut s, 0).0, want, "{d:?}");
        }
    }

    #[test]
    fn packets_held_for_later_do_not_stop_a_bypass() {
        let mut s = PortSched::new(cfg(Discipline::Edf), 0);
        s.enqueue(T { eligible: 1000, ..t(1, 2000) }, 0, |_, _| panic!());
        assert!(s.try_bypass(&t(2, 5000), 10), "only a packet held until 1000 is queued");
        assert!(!s.try_bypass(&T { eligible: 20, ..t(3, 5000) }, 10), "not eligible itself");
        // At 1000 the held packet is due: a newcomer must queue behind the
        // scheduler's choice, exactly as dequeue would decide.
        assert!(!s.try_bypass(&t(4, 5000), 1000), "the held packet is due");
        assert_eq!(drain_ids(&mut s, 1000).0, vec![1]);
        s.enqueue(t(5, 3000), 1000, |_, _| panic!());
        assert!(!s.try_bypass(&t(6, 9000), 1000), "a packet is ready");
        // FIFO holds nothing: whatever is queued goes first.
        let mut f = PortSched::new(cfg(Discipline::Fifo), 0);
        f.enqueue(T { eligible: 1000, ..t(1, 2000) }, 0, |_, _| panic!());
        assert!(!f.try_bypass(&t(2, 5000), 10));
    }

    #[test]
    fn hold_until_eligible() {
        let mut s = PortSched::new(cfg(Discipline::Edf), 0);
        s.enqueue(T { eligible: 1000, ..t(1, 2000) }, 0, |_, _| panic!());
        s.enqueue(t(2, 5000), 0, |_, _| panic!());
        assert!(!s.try_bypass(&t(3, 10), 0), "a packet is ready");
        assert_eq!(drain_ids(&mut s, 999).0, vec![2]);
        assert_eq!(drain_ids(&mut s, 999).0, Vec::<u32>::new());
        assert_eq!(drain_ids(&mut s, 1000).0, vec![1]);
        assert!(s.is_empty());
    }

    #[test]
    fn late_at_head_dropped_unless_late_ok() {
        let mut s = PortSched::new(cfg(Discipline::Edf), 0);
        s.enqueue(t(1, 10), 0, |_, _| panic!());
        s.enqueue(T { late_ok: true, ..t(2, 20) }, 0, |_, _| panic!());
        s.enqueue(t(3, 100), 0, |_, _| panic!());
        let (sent, dropped) = drain_ids(&mut s, 50);
        // 2 is late but late_ok: demoted behind 3, which can still be on time.
        assert_eq!(sent, vec![3, 2]);
        assert_eq!(dropped, vec![(1, Reason::NewipLate)]);
        assert_eq!(s.take_demoted(), 1);
    }

    #[test]
    fn capacity_drops_late_first_then_latest() {
        let mut s = PortSched::new(cfg(Discipline::Edf), 0);
        for p in [t(1, 10), t(2, 300), t(3, 200), t(4, 400)] {
            s.enqueue(p, 0, |_, _| panic!());
        }
        let mut dropped = Vec::new();
        // At 50, packet 1 is late: it makes room.
        s.enqueue(t(5, 100), 50, |p, r| dropped.push((p.id, r)));
        assert_eq!(dropped, vec![(1, Reason::QueueFullLate)]);
        // Nothing late now: the latest deadline (4, at 400) goes for a more urgent one.
        s.enqueue(t(6, 150), 50, |p, r| dropped.push((p.id, r)));
        assert_eq!(dropped[1], (4, Reason::QueueFull));
        // A newcomer later than everything is itself refused.
        s.enqueue(t(7, 900), 50, |p, r| dropped.push((p.id, r)));
        assert_eq!(dropped[2], (7, Reason::QueueFull));
        assert_eq!(drain_ids(&mut s, 50).0, vec![5, 6, 3, 2]);
    }

    #[test]
    fn shaper_paces_at_link_rate() {
        // 1 Gb/s: a 100-byte frame costs (100 + 24) * 8 = 992 ns.
        let mut c = cfg(Discipline::Edf);
        c.rate_bps = 1_000_000_000;
        c.capacity = 64;
        let mut s = PortSched::new(c, 0);
        for i in 0..40 {
            s.enqueue(t(i, 1_000_000), 0, |_, _| panic!());
        }
        // The initial burst allowance is two 1514-byte frames: 24 small frames' worth is not there.
        let burst = drain_ids(&mut s, 0).0.len();
        assert_eq!(burst, (2 * (1514 + 24)) / (100 + 24));
        let mut sent = burst;
        let mut now = 0;
        while sent < 40 {
            now += 992;
            let n = drain_ids(&mut s, now).0.len();
            assert_eq!(n, 1, "one frame per 992 ns at {now}");
            sent += n;
        }
        assert_eq!(now, (40 - burst as u64) * 992);
    }

    #[test]
    fn on_time_is_held_then_ordered_by_prio_bound() {
        let mut c = cfg(Discipline::Edf);
        c.on_time_bound_ns = [100, 200, 300, 400, 500, 600, 700, 800];
        let mut s = PortSched::new(c, 0);
        let ot = |id, prio, eligible| T { eligible, prio: Some(prio), ..t(id, u64::MAX) };
        s.enqueue(ot(1, 7, 50), 0, |_, _| panic!());
        s.enqueue(ot(2, 0, 50), 0, |_, _| panic!());
        s.enqueue(ot(3, 3, 0), 0, |_, _| panic!());
        assert_eq!(drain_ids(&mut s, 10).0, vec![3], "1 and 2 are held until 50");
        // Deadlines 50 + 800 and 50 + 100: prio 0 first.
        assert_eq!(drain_ids(&mut s, 50).0, vec![2, 1]);
        // Past eligibility + bound at the head: broken, by name.
        s.enqueue(ot(4, 0, 0), 0, |_, _| panic!());
        s.enqueue(T { late_ok: true, ..ot(5, 0, 0) }, 0, |_, _| panic!());
        let (sent, dropped) = drain_ids(&mut s, 101);
        assert_eq!((sent, dropped), (vec![5], vec![(4, Reason::NewipOnTimeBroken)]));
        assert_eq!(s.take_demoted(), 1);
        // A contract deadline earlier than the bound is kept.
        s.enqueue(T { deadline: 130, ..ot(6, 1, 0) }, 100, |_, _| panic!());
        let (sent, dropped) = drain_ids(&mut s, 131);
        assert_eq!((sent.len(), dropped), (0, vec![(6, Reason::NewipOnTimeBroken)]));
    }

    #[test]
    fn wash_sheds_the_backlog_excess() {
        let mut c = cfg(Discipline::Edf);
        c.wash_bytes = 250;
        c.capacity = 5;
        let mut s = PortSched::new(c, 0);
        let w = |id, washable| T { washable, ..t(id, 1000) };
        s.enqueue(w(1, 50), 0, |_, _| panic!());
        s.enqueue(w(2, 50), 0, |_, _| panic!());
        assert_eq!(s.take_washed(), Washed::default(), "200 bytes: within budget");
        // 300 queued with this one: 50 over.
        s.enqueue(w(3, 80), 0, |_, _| panic!());
        assert_eq!(s.take_washed(), Washed { packets: 1, bytes: 50 });
        assert_eq!(s.queued_bytes(), 250);
        // 350 with the next: 100 over, but it can shed only 30.
        s.enqueue(w(4, 30), 0, |_, _| panic!());
        assert_eq!(s.take_washed(), Washed { packets: 1, bytes: 30 });
        assert_eq!(s.queued_bytes(), 320);
        // Not washable: nothing removed, nothing counted.
        s.enqueue(w(5, 0), 0, |_, _| panic!());
        assert_eq!(s.take_washed(), Washed::default());
        assert_eq!(s.queued_bytes(), 420);
        // The queue is full: a refused newcomer is not washed for nothing.
        let mut dropped = Vec::new();
        s.enqueue(w(6, 60), 0, |p, r| dropped.push((p.id, r, p.len)));
        assert_eq!(s.take_washed(), Washed::default());
        assert_eq!(dropped, vec![(6, Reason::QueueFull, 100)]);
        let (sent, _) = drain_ids(&mut s, 0);
        assert_eq!(sent, vec![1, 2, 3, 4, 5]);
        assert_eq!(s.queued_bytes(), 0);
    }

    #[test]
    fn drain_empties_everything() {
        let mut s = PortSched::new(cfg(Discipline::Edf), 0);
        s.enqueue(T { eligible: 99, ..t(1, 200) }, 0, |_, _| panic!());
        s.enqueue(t(2, 100), 0, |_, _| panic!());
        let mut n = 0;
        s.drain(0, |_, r| {
            assert_eq!(r, Reason::ShutdownDrained);
            n += 1
        });
        assert_eq!((n, s.len(), s.queued_bytes()), (2, 0, 0));
    }

    #[test]
    fn many_due_at_once_leave_by_deadline() {
        // More fall due at once than release_directly sorts on the stack:
        // the latest to become eligible have the earliest deadlines.
        let mut s = PortSched::new(SchedConfig { capacity: 64, ..cfg(Discipline::Edf) }, 0);
        for i in 0..(DIRECT as u32 + 8) {
            s.enqueue(T { eligible: 10 + i as u64, ..t(i, 1000 - i as u64) }, 0, |_, _| panic!("no drop"));
        }
        let mut sent = Vec::new();
        s.dequeue(100, 5, |p| sent.push(p.id), |_, _| panic!("no drop"));
        let last = DIRECT as u32 + 7;
        assert_eq!(sent, (last - 4..=last).rev().collect::<Vec<_>>());
        // And a few due, not late, in mixed order: sorted by deadline.
        let mut s = PortSched::new(SchedConfig { capacity: 64, ..cfg(Discipline::Edf) }, 0);
        for (i, d) in [(0, 500), (1, 300), (2, 400)] {
            s.enqueue(T { eligible: 10 + i as u64, ..t(i, d) }, 0, |_, _| panic!("no drop"));
        }
        let mut sent = Vec::new();
        s.dequeue(100, 2, |p| sent.push(p.id), |_, _| panic!("no drop"));
        assert_eq!((sent, s.len()), (vec![1, 2], 1));
    }

    proptest::proptest! {
        /// Sending due packets straight from the hold queue (sorted on the
        /// stack) gives the same sends and drops, in the same order, as
        /// moving them through the ready queue; so does falling back with
        /// more due than fit there (capacity 80) or late ones.
        #[test]
        fn direct_release_changes_nothing(
            ops in proptest::collection::vec((0u8..5, 0u64..3000, 0u64..3000, proptest::bool::ANY), 1..300),
            shaped in proptest::bool::ANY,
            capacity in proptest::prop_oneof![proptest::strategy::Just(16usize), proptest::strategy::Just(80)],
            bucket_shift in 0u32..8,
        ) {
            let c = SchedConfig { capacity, bucket_shift, rate_bps: if shaped { 800_000_000 } else { 0 }, ..cfg(Discipline::Edf) };
            let mut a = PortSched::new(c, 0);
            let mut b = PortSched::new(c, 0);
            b.direct_release = false;
            let (mut now, mut id) = (0u64, 0u32);
            // Sends (reason None) and drops, in order; shared by two closures.
            let (out_a, out_b) = (std::cell::RefCell::new(Vec::new()), std::cell::RefCell::new(Vec::new()));
            for (op, x, y, late_ok) in ops {
                // Enqueues (0..=2) outnumber dequeues, so sometimes more packets
                // fall due at once than release_directly takes.
                match op {
                    0..=2 => {
                        let p = T { eligible: now + x % 500, late_ok, ..t(id, now + y) };
                        id += 1;
                        a.enqueue(p, now, |p, r| out_a.borrow_mut().push((p.id, Some(r))));
                        b.enqueue(p, now, |p, r| out_b.borrow_mut().push((p.id, Some(r))));
                    }
                    3 => now += x % 400,
                    _ => {
                        let max = (if late_ok { x % 5 } else { x % 50 }) as usize;
                        let na = a.dequeue(now, max, |p| out_a.borrow_mut().push((p.id, None)), |p, r| out_a.borrow_mut().push((p.id, Some(r))));
                        let nb = b.dequeue(now, max, |p| out_b.borrow_mut().push((p.id, None)), |p, r| out_b.borrow_mut().push((p.id, Some(r))));
                        proptest::prop_assert_eq!(na, nb);
                    }
                }
                proptest::prop_assert_eq!(&*out_a.borrow(), &*out_b.borrow());
                proptest::prop_assert_eq!(a.len(), b.len());
                proptest::prop_assert_eq!(a.queued_bytes(), b.queued_bytes());
            }
        }
    }
}
