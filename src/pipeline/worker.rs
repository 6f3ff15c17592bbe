//! The poll-mode packet loop of one lcore: for every port, rx_burst, run each
//! packet through the router stage, buffer it per egress port, tx_burst when a
//! buffer is full or the drain timer fires. Counters are plain fields of a
//! local struct, published to the shared copy about every millisecond.

use super::router::{Router, Verdict};
use crate::dpdk::mbuf::Burst;
use crate::dpdk::port::PortId;
use crate::dpdk::time::tsc;
use crate::stats::{Counters, Reason, SharedCounters};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// How far ahead in the burst to prefetch packet data.
const PREFETCH_AHEAD: usize = 3;

/// A port as the worker sees it.
#[derive(Debug, Clone, Copy)]
pub struct WorkerPort {
    /// Index in the pipeline's port list (counter and route index).
    pub index: usize,
    pub id: PortId,
    pub rxq: u16,
    pub txq: u16,
}

/// When the loop stops (besides the stop flag).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Stop after this many TSC ticks.
    pub duration_tsc: Option<u64>,
    /// Stop after receiving exactly this many packets.
    pub packets: Option<u64>,
    /// Stop once no port has delivered a packet for this many TSC ticks.
    pub idle_tsc: Option<u64>,
}

/// Everything one packet lcore needs.
pub struct Worker {
    pub ports: Vec<WorkerPort>,
    pub router: Arc<Router>,
    pub stats: Arc<SharedCounters>,
    pub stop: Arc<AtomicBool>,
    pub burst: usize,
    pub drain_tsc: u64,
    pub publish_tsc: u64,
    pub idle_sleep_us: u64,
    pub limits: Limits,
}

/// What the loop reports when it ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub start_tsc: u64,
    pub end_tsc: u64,
    /// When the last packet arrived (rates of --until-idle runs end here).
    pub last_rx_tsc: u64,
    /// Heap allocations this lcore made inside the loop (None: not counted).
    pub loop_allocations: Option<u64>,
}

/// Send a TX buffer; whatever the queue refuses is dropped as `tx-full`.
#[inline]
fn flush(buf: &mut Burst, port: &WorkerPort, c: &mut Counters) {
    let n = buf.len() as u64;
    if n == 0 {
        return;
    }
    let bytes: u64 = buf.as_slice().iter().map(|m| m.len() as u64).sum();
    let sent = buf.tx(port.id.0, port.txq) as u64;
    if sent == n {
        c.tx(port.index, n, bytes);
    } else {
        let unsent: u64 = buf.as_slice().iter().map(|m| m.len() as u64).sum();
        c.tx(port.index, sent, bytes - unsent);
        c.drop(port.index, Reason::TxFull, n - sent);
        buf.free_all();
    }
}

impl Worker {
    /// Run until a limit or the stop flag ends it. Every received packet is
    /// sent or counted as dropped before this returns.
    pub fn run(self) -> Outcome {
        let mut c = Counters::default();
        let mut rx = Burst::new();
        // One TX buffer per pipeline port, indexed by port index (allocated once).
        let nports = self.ports.iter().map(|p| p.index + 1).max().unwrap_or(0);
        let mut tx: Vec<Burst> = (0..nports).map(|_| Burst::new()).collect();
        let mut by_index: Vec<Option<WorkerPort>> = vec![None; nports];
        for p in &self.ports {
            by_index[p.index] = Some(*p);
        }
        let allocs_before = crate::dpdk::heap::thread_allocations();
        let start = tsc();
        let mut last_drain = start;
        let mut last_publish = start;
        let mut last_rx = start;
        let mut received: u64 = 0;
        let burst = self.burst.min(crate::MAX_BURST);
        'poll: loop {
            let now = tsc();
            if self.stop.load(Relaxed) {
                break;
            }
            if let Some(d) = self.limits.duration_tsc {
                if now.wrapping_sub(start) >= d {
                    break;
                }
            }
            let mut got = 0usize;
            for p in &self.ports {
                let want = match self.limits.packets {
                    Some(max) if received >= max => break 'poll,
                    Some(max) => burst.min((max - received) as usize),
                    None => burst,
                };
                let n = rx.rx(p.id.0, p.rxq, want);
                if n == 0 {
                    continue;
                }
                got += n;
                received += n as u64;
                let mut it = rx.drain();
                while let Some(mut m) = it.next() {
                    if let Some(ahead) = it.peek(PREFETCH_AHEAD) {
                        ahead.prefetch();
                    }
                    c.rx(p.index, m.len());
                    match self.router.process(m.data_mut()) {
                        Verdict::Forward(out) => {
                            let out = out as usize;
                            match (tx.get_mut(out), by_index.get(out).copied().flatten()) {
                                (Some(buf), Some(op)) => {
                                    if buf.len() >= burst {
                                        flush(buf, &op, &mut c);
                                    }
                                    // The buffer has room after a flush; a refused push is dropped.
                                    if buf.push(m).is_err() {
                                        c.drop(op.index, Reason::TxFull, 1);
                                    }
                                }
                                _ => c.drop(p.index, Reason::NoRoute, 1),
                            }
                        }
                        Verdict::Drop(r) => c.drop(p.index, r, 1),
                    }
                }
            }
            let drain_due = now.wrapping_sub(last_drain) >= self.drain_tsc;
            for (i, buf) in tx.iter_mut().enumerate() {
                if !buf.is_empty() && (got == 0 || drain_due || buf.len() >= burst) {
                    if let Some(op) = by_index[i] {
                        flush(buf, &op, &mut c);
                    }
                }
            }
            if drain_due {
                last_drain = now;
            }
            if now.wrapping_sub(last_publish) >= self.publish_tsc {
                self.stats.publish(&c);
                last_publish = now;
            }
            if got > 0 {
                last_rx = now;
            } else {
                if let Some(idle) = self.limits.idle_tsc {
                    if now.wrapping_sub(last_rx) >= idle {
                        break;
                    }
                }
                if self.idle_sleep_us > 0 {
                    std::thread::sleep(std::time::Duration::from_micros(self.idle_sleep_us));
                }
            }
        }
        // Drain: send what is buffered, so nothing received stays unaccounted.
        for (i, buf) in tx.iter_mut().enumerate() {
            if let Some(op) = by_index[i] {
                flush(buf, &op, &mut c);
            }
        }
        let end = tsc();
        self.stats.publish(&c);
        let allocs_after = crate::dpdk::heap::thread_allocations();
        Outcome {
            start_tsc: start,
            end_tsc: end,
            last_rx_tsc: last_rx,
            loop_allocations: allocs_before.zip(allocs_after).map(|(a, b)| b - a),
        }
    }
}
