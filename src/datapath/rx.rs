//! The pipelined RX lcore: [`ingress`](super::ingress) into the rings of
//! [`handoff`](super::handoff), towards the egress lcores ([`tx`](super::tx)).

use super::handoff::RingSink;
use super::ingress::{Ingress, Polled};
use super::worker::{Limits, LoopConf, LoopMeter, Outcome};
use newipd_dpdk::time::tsc;
use newipd_core::stats::stages::StageClock;
use newipd_core::stats::Counters;
use std::sync::atomic::Ordering::Relaxed;

/// A pipelined RX lcore: ingress into rings towards the egress lcores.
pub struct RxWorker {
    pub ingress: Ingress,
    pub rings: RingSink,
    pub conf: LoopConf,
    pub limits: Limits,
}

impl RxWorker {
    /// Run until a limit or the stop flag; then close the rings (the egress
    /// lcores drain them and stop). Every received packet is on a ring or
    /// counted as dropped when this returns.
    pub fn run(mut self) -> Outcome {
        let mut c = Counters::default();
        let mut clk = StageClock::default();
        self.ingress.online();
        let meter = LoopMeter::start();
        let start = meter.start_tsc();
        let (mut last_publish, mut last_rx) = (start, start);
        loop {
            let now = tsc();
            clk.start(now);
            if self.conf.stop.load(Relaxed) || self.limits.duration_tsc.is_some_and(|d| now.wrapping_sub(start) >= d) {
                break;
            }
            let mut now_ns = self.conf.clock.ns(now);
            let polled = self.ingress.poll(&mut self.rings, &self.limits, &mut now_ns, &self.conf.clock, &mut c, &mut clk);
            self.rings.publish();
            self.conf.maybe_publish(now, &mut last_publish, &c);
            match polled {
                Polled::Spent => break,
                Polled::Got(0) => {
                    if self.limits.idle_tsc.is_some_and(|idle| now.wrapping_sub(last_rx) >= idle) {
                        break;
                    }
                    self.conf.idle();
                }
                Polled::Got(_) => last_rx = now,
            }
        }
        let end = tsc();
        // Dropping the producers closes the rings: the egress lcores finish them.
        drop(self.rings);
        self.conf.stats.publish(&c);
        meter.outcome(end, last_rx, 0)
    }
}
