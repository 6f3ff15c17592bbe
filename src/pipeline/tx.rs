//! A pipelined egress lcore: takes packets from the rings of every RX lcore,
//! puts them through the deadline queues of the ports it owns and sends
//! them. It stops once every RX lcore has stopped and the rings are empty,
//! then drains its queues.

use super::egress::Egress;
use super::handoff::{detach, RingSource};
use super::worker::{allocations, LoopConf, Outcome};
use crate::dpdk::spsc::Batch;
use crate::dpdk::time::tsc;
use crate::stats::{Counters, Reason};

/// Everything one egress lcore needs.
pub struct TxWorker {
    pub rings: RingSource,
    pub egress: Egress,
    pub conf: LoopConf,
}

impl TxWorker {
    pub fn run(mut self) -> Outcome {
        let mut c = Counters::default();
        let allocs_before = allocations();
        let start = tsc();
        let (mut last_drain, mut last_publish) = (start, start);
        let mut batch = Batch::new();
        let burst = self.conf.burst;
        loop {
            let now = tsc();
            let now_ns = self.conf.clock.ns(now);
            // Checked before taking: a ring seen finished here has nothing left.
            let finished = self.rings.is_finished();
            let mut got = 0;
            for ring in &mut self.rings.rings {
                let n = ring.pop_batch(&mut batch, burst);
                if n == 0 {
                    continue;
                }
                got += n;
                c.lcore.ring_dequeued += n as u64;
                // The RX lcore wrote these headers last: fetch them all at once.
                for h in batch.as_slice() {
                    h.m.prefetch_header();
                }
                for h in batch.drain() {
                    let meta = if h.with_meta { detach(&h.m) } else { None };
                    let out = h.port as usize;
                    if self.egress.submit(h.m, meta.as_ref(), out, now_ns, &mut c).is_err() {
                        c.drop(out, Reason::NoRoute, 1);
                    }
                }
            }
            let drain_due = now.wrapping_sub(last_drain) >= self.conf.tx_drain_tsc;
            let held = self.egress.service(now_ns, got == 0 || drain_due, &mut c);
            if drain_due {
                last_drain = now;
            }
            c.lcore.held = held;
            self.conf.maybe_publish(now, &mut last_publish, &c);
            if got == 0 && finished {
                break;
            }
            if got == 0 && held == 0 {
                self.conf.idle();
            }
        }
        let queued = self.egress.finish(&self.conf.clock, self.conf.drain_tsc, &mut c);
        c.lcore.held = queued;
        let end = tsc();
        self.conf.stats.publish(&c);
        Outcome { start_tsc: start, end_tsc: end, last_rx_tsc: 0, loop_allocations: allocs_before.zip(allocations()).map(|(a, b)| b - a), queued }
    }
}
