//! Run to completion: one lcore polls its RX queues, routes, queues by
//! deadline and sends, with no hand-over. The fastest mode per core, and
//! the default.

use super::egress::Egress;
use super::ingress::{Ingress, Polled};
use super::worker::{Limits, LoopConf, LoopMeter, Outcome};
use newipd_dpdk::time::tsc;
use newipd_core::stats::stages::StageClock;
use newipd_core::stats::Counters;
use std::sync::atomic::Ordering::Relaxed;

/// Everything one run-to-completion lcore needs.
pub struct Worker {
    pub ingress: Ingress,
    pub egress: Egress,
    pub conf: LoopConf,
    pub limits: Limits,
}

impl Worker {
    /// Run until a limit or the stop flag ends it. Every received packet is
    /// sent or counted as dropped before this returns.
    pub fn run(mut self) -> Outcome {
        let mut c = Counters::default();
        let mut clk = StageClock::default();
        self.ingress.online();
        let meter = LoopMeter::start();
        let start = meter.start_tsc();
        let (mut last_publish, mut last_rx, mut last_handover) = (start, start, start);
        // A round that sent packets ends with a TSC read just after its TX
        // burst; the next round starts from that reading instead of reading
        // the clock again (a TSC read costs ~30 clocks in a VM, ~1 clock a
        // packet). Packets are still stamped by the read after rx_burst, and
        // idle rounds read the clock, so held packets leave on time.
        let mut carried: Option<u64> = None;
        loop {
            let now = carried.take().unwrap_or_else(tsc);
            clk.start(now);
            let mut now_ns = self.conf.clock.ns(now);
            if self.conf.stop.load(Relaxed) || self.limits.duration_tsc.is_some_and(|d| now.wrapping_sub(start) >= d) {
                break;
            }
            let got = match self.ingress.poll(&mut self.egress, &self.limits, &mut now_ns, &self.conf.clock, &mut c, &mut clk) {
                Polled::Got(n) => n,
                Polled::Spent => break,
            };
            let held = self.egress.service(now_ns, &mut c, &mut clk);
            carried = self.egress.take_sent_tsc();
            c.lcore.held = held;
            self.conf.maybe_publish(now, &mut last_publish, &c);
            self.egress.maybe_hand_over(now, &mut last_handover, self.conf.histo_tsc);
            if got > 0 {
                last_rx = now;
            } else if held == 0 {
                if self.limits.idle_tsc.is_some_and(|idle| now.wrapping_sub(last_rx) >= idle) {
                    break;
                }
                self.conf.idle();
            }
        }
        let queued = self.egress.finish(self.conf.drain_tsc, &mut c, self.ingress.reader());
        c.lcore.held = queued;
        let end = tsc();
        self.conf.stats.publish(&c);
        meter.outcome(end, last_rx, queued)
    }
}
