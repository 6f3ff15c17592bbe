//! The egress side of an lcore: for each port it owns, the deadline queue
//! (PortSched) and a TX buffer. Packets arrive through [`Egress::submit`]
//! (straight from the router on a run-to-completion lcore, from rings on a
//! pipelined TX lcore); [`Egress::service`] releases what may leave now and
//! sends; [`Egress::finish`] drains at shutdown.

use super::router::{on_transmit, TxMeta};
use super::worker::{Clock, WorkerPort};
use crate::dpdk::mbuf::{Burst, Mbuf};
use crate::dpdk::time::tsc;
use crate::sched::damper::OnTimePort;
use crate::sched::port::{PortSched, SchedConfig, Schedulable};
use crate::stats::{Counters, Event, Reason};
use crate::MAX_BURST;

/// A packet waiting in a port scheduler.
struct Queued {
    m: Mbuf,
    meta: TxMeta,
}

impl Schedulable for Queued {
    #[inline(always)]
    fn deadline_ns(&self) -> u64 {
        self.meta.deadline_ns
    }
    #[inline(always)]
    fn eligible_ns(&self) -> u64 {
        self.meta.eligible_ns
    }
    #[inline(always)]
    fn frame_len(&self) -> u32 {
        self.m.len() as u32
    }
    #[inline(always)]
    fn late_ok(&self) -> bool {
        self.meta.late_ok
    }
    #[inline(always)]
    fn set_deadline_ns(&mut self, d: u64) {
        self.meta.deadline_ns = d;
    }
    fn late_reason(&self) -> Reason {
        self.meta.late_reason()
    }
    #[inline(always)]
    fn on_time_prio(&self) -> Option<u8> {
        (self.meta.on_time != 0).then_some(self.meta.prio)
    }
    fn wash(&mut self, bytes: u64) -> u64 {
        if !self.meta.qual {
            return 0;
        }
        let n = crate::sched::wash::wash_frame(self.m.data_mut(), self.meta.l3 as usize, bytes);
        if n > 0 && !self.m.trim(n as u16) {
            return 0;
        }
        n as u64
    }
}

/// One egress port's TX buffer: packets and what to write into each at send time.
struct TxBuf {
    burst: Burst,
    meta: [TxMeta; MAX_BURST],
    /// Some packet has transmit-time updates (else the fast path skips them).
    updates: bool,
    /// The port's on-time (damper) state.
    on_time: OnTimePort,
}

impl TxBuf {
    fn new(sched: &SchedConfig) -> TxBuf {
        TxBuf { burst: Burst::new(), meta: [TxMeta::NONE; MAX_BURST], updates: false, on_time: OnTimePort::new(sched.on_time_bound_ns) }
    }

    /// Queue a packet; `meta` is its transmit-time work, if it has any.
    /// Metadata slots are only written once some packet in the burst needs
    /// one, so contract-free traffic never touches them.
    #[inline(always)]
    fn push(&mut self, m: Mbuf, meta: Option<&TxMeta>) -> Result<(), Mbuf> {
        let i = self.burst.len();
        self.burst.push(m)?;
        match meta {
            Some(meta) => {
                if !self.updates {
                    self.meta[..i].fill(TxMeta::NONE);
                    self.updates = true;
                }
                self.meta[i] = *meta;
            }
            None if self.updates => self.meta[i] = TxMeta::NONE,
            None => {}
        }
        Ok(())
    }

    /// Apply transmit-time updates, send; whatever the queue refuses is `tx-full`.
    #[inline]
    fn flush(&mut self, port: &WorkerPort, now_ns: u64, c: &mut Counters) {
        if self.burst.is_empty() {
            return;
        }
        if self.updates {
            let meta = &self.meta;
            let on_time = &mut self.on_time;
            self.burst.retain_mut(|i, m| match on_transmit(m.data_mut(), &meta[i], now_ns, port.link_delay_ns, on_time) {
                Ok(()) => true,
                Err(r) => {
                    c.drop(port.index, r, 1);
                    false
                }
            });
            self.updates = false;
            c.event(port.index, Event::OnTimeDowngraded, self.on_time.take_downgraded());
        }
        let n = self.burst.len() as u64;
        if n == 0 {
            return;
        }
        let bytes: u64 = self.burst.as_slice().iter().map(|m| m.len() as u64).sum();
        let sent = self.burst.tx(port.id.0, port.txq) as u64;
        if sent == n {
            c.tx(port.index, n, bytes);
        } else {
            let unsent: u64 = self.burst.as_slice().iter().map(|m| m.len() as u64).sum();
            c.tx(port.index, sent, bytes - unsent);
            c.drop(port.index, Reason::TxFull, n - sent);
            self.burst.free_all();
        }
    }
}

/// One owned egress port.
struct Out {
    op: WorkerPort,
    buf: TxBuf,
    sched: PortSched<Queued>,
}

impl Out {
    /// Move what the scheduler releases now into the TX buffer (flushing when
    /// it fills); drops (late at the head, ...) are counted on the port.
    #[inline]
    fn release(&mut self, now_ns: u64, burst: usize, c: &mut Counters) {
        let Out { op, buf, sched } = self;
        loop {
            let room = burst.saturating_sub(buf.burst.len());
            if room == 0 {
                buf.flush(op, now_ns, c);
                continue;
            }
            // `room` places are free, so a refused push cannot happen; if it ever
            // did, the packet is still counted (and freed) as tx-full.
            let mut refused = 0;
            let n = sched.dequeue(
                now_ns,
                room,
                |q| {
                    let meta = q.meta;
                    if buf.push(q.m, meta.has_updates().then_some(&meta)).is_err() {
                        refused += 1;
                    }
                },
                |_, r| c.drop(op.index, r, 1),
            );
            c.drop(op.index, Reason::TxFull, refused);
            if n < room {
                break;
            }
            buf.flush(op, now_ns, c);
        }
    }
}

/// The egress ports one lcore owns, indexed by pipeline port index.
pub struct Egress {
    ports: Vec<Option<Out>>,
    burst: usize,
}

impl Egress {
    /// Own `ports` (allocates every queue now, nothing later).
    pub fn new(ports: &[WorkerPort], burst: usize, now_ns: u64) -> Egress {
        let n = ports.iter().map(|p| p.index + 1).max().unwrap_or(0);
        let mut v: Vec<Option<Out>> = (0..n).map(|_| None).collect();
        for p in ports {
            v[p.index] = Some(Out { op: *p, buf: TxBuf::new(&p.sched), sched: PortSched::new(p.sched, now_ns) });
        }
        Egress { ports: v, burst: burst.min(MAX_BURST) }
    }

    /// Hand a routed packet to egress port `out`: straight into the TX buffer
    /// when the scheduler would send it first anyway, else into the deadline
    /// queue. `meta`: the packet's contract work, if it has any. Gives the
    /// packet back if this lcore does not own `out`.
    #[inline(always)]
    pub fn submit(&mut self, m: Mbuf, meta: Option<&TxMeta>, out: usize, now_ns: u64, c: &mut Counters) -> Result<(), Mbuf> {
        let Some(Some(o)) = self.ports.get_mut(out) else { return Err(m) };
        let len = m.len() as u32;
        let eligible = meta.map_or(0, |m| m.eligible_ns);
        if o.sched.try_bypass_with(eligible, len, now_ns) {
            if o.buf.burst.len() >= self.burst {
                o.buf.flush(&o.op, now_ns, c);
            }
            // The buffer has room after a flush; a refused push is dropped.
            // (A verdict may carry metadata with nothing to write at send
            // time, e.g. a washable payload: the buffer needs none of it.)
            if o.buf.push(m, meta.filter(|m| m.has_updates())).is_err() {
                c.drop(out, Reason::TxFull, 1);
            }
        } else {
            // No contract: best effort, never dropped for lateness.
            let meta = meta.copied().unwrap_or(TxMeta { rx_ns: now_ns, late_ok: true, ..TxMeta::NONE });
            o.sched.enqueue(Queued { m, meta }, now_ns, |_, r| c.drop(out, r, 1));
        }
        Ok(())
    }

    /// Release what the schedulers allow now and send TX buffers that are
    /// full, or all of them when `flush_all` (nothing arrived this round, or
    /// the drain timer fired). Returns the packets still held (queued or buffered).
    #[inline]
    pub fn service(&mut self, now_ns: u64, flush_all: bool, c: &mut Counters) -> u64 {
        let mut held = 0;
        for o in self.ports.iter_mut().flatten() {
            if !o.sched.is_empty() {
                o.release(now_ns, self.burst, c);
                held += o.sched.len() as u64;
                c.event(o.op.index, Event::LateOkDemoted, o.sched.take_demoted());
                let w = o.sched.take_washed();
                c.event(o.op.index, Event::WashedPackets, w.packets);
                c.event(o.op.index, Event::WashedBytes, w.bytes);
            }
            if !o.buf.burst.is_empty() && (flush_all || o.buf.burst.len() >= self.burst) {
                o.buf.flush(&o.op, now_ns, c);
            }
            held += o.buf.burst.len() as u64;
        }
        held
    }

    /// Shutdown: keep sending what the schedulers hold for at most
    /// `drain_tsc`, then drop the rest as `shutdown-drained`; send what is
    /// buffered. Returns what is left queued (0).
    pub fn finish(&mut self, clock: &Clock, drain_tsc: u64, c: &mut Counters) -> u64 {
        let stop_at = tsc();
        loop {
            let now = tsc();
            let now_ns = clock.ns(now);
            let mut left = 0;
            for o in self.ports.iter_mut().flatten() {
                if !o.sched.is_empty() {
                    if now.wrapping_sub(stop_at) >= drain_tsc {
                        o.sched.drain(now_ns, |_, r| c.drop(o.op.index, r, 1));
                    } else {
                        o.release(now_ns, self.burst, c);
                    }
                }
                o.buf.flush(&o.op, now_ns, c);
                left += o.sched.len();
            }
            if left == 0 {
                break;
            }
        }
        self.ports.iter().flatten().map(|o| o.sched.len() as u64).sum()
    }
}
