//! A pipelined egress lcore: takes packets from the rings of every RX lcore,
//! puts them through the deadline queues of the ports it owns and sends
//! them. It stops once every RX lcore has stopped and the rings are empty,
//! then drains its queues.

use super::egress::Egress;
use super::handoff::{arrival_ns, RingSource};
use super::privmeta::load;
use super::worker::{LoopConf, LoopMeter, Outcome};
use newipd_dpdk::spsc::Batch;
use newipd_dpdk::time::tsc;
use newipd_core::stats::stages::{Stage, StageClock};
use newipd_core::kinds::Reason;
use newipd_core::stats::Counters;
use newipd_core::rcu::{Qsbr, QsbrReader};
use std::sync::Arc;

/// Everything one egress lcore needs.
pub struct TxWorker {
    pub rings: RingSource,
    pub egress: Egress,
    pub conf: LoopConf,
    /// This lcore as a QSBR reader (of the FIB's grace periods, which also
    /// gate port pauses: see [`super::link`]); [`TxWorker::reader`] makes one.
    pub reader: Option<QsbrReader>,
}

impl TxWorker {
    /// A reader for a TX lcore from `qsbr`, offline until its loop starts
    /// (a grace period does not wait for start-up), as [`Ingress`](super::ingress::Ingress) does.
    pub fn reader(qsbr: &Arc<Qsbr>) -> Option<QsbrReader> {
        let r = qsbr.register();
        if let Some(r) = &r {
            r.offline();
        }
        r
    }

    pub fn run(mut self) -> Outcome {
        if let Some(r) = &self.reader {
            r.online();
        }
        let mut c = Counters::default();
        let mut clk = StageClock::default();
        let meter = LoopMeter::start();
        let start = meter.start_tsc();
        let (mut last_publish, mut last_handover) = (start, start);
        let mut batch = Batch::new();
        let burst = self.conf.burst;
        loop {
            // The round's quiescent point comes before any send (a paused
            // port is then seen paused: see super::link).
            if let Some(r) = &self.reader {
                r.quiescent();
            }
            let now = tsc();
            clk.start(now);
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
                    let meta = if h.with_meta { load(&h.m) } else { None };
                    let out = h.port as usize;
                    let rx_ns = arrival_ns(h.rx_lo, now_ns);
                    if self.egress.submit(h.m, meta.as_ref(), out, rx_ns, now_ns, &mut c).is_err() {
                        c.drop(out, Reason::NoRoute, 1);
                    }
                }
            }
            clk.lap(&mut c.stages, Stage::Ring, got as u64, tsc);
            let held = self.egress.service(now_ns, &mut c, &mut clk);
            c.lcore.held = held;
            self.conf.maybe_publish(now, &mut last_publish, &c);
            self.egress.maybe_hand_over(now, &mut last_handover, self.conf.histo_tsc);
            if got == 0 && finished {
                break;
            }
            if got == 0 && held == 0 {
                self.conf.idle();
            }
        }
        let queued = self.egress.finish(self.conf.drain_tsc, &mut c, self.reader.as_ref());
        c.lcore.held = queued;
        let end = tsc();
        self.conf.stats.publish(&c);
        meter.outcome(end, 0, queued)
    }
}
