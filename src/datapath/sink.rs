//! Where ingress hands routed packets: the [`Sink`] trait. Each impl sits
//! beside its type: the lcore's own [`Egress`](super::egress::Egress) when
//! it runs to completion, the rings to the egress lcores
//! ([`RingSink`](super::handoff::RingSink)) when pipelined.

use newipd_core::path::TxMeta;
use newipd_core::stats::stages::StageClock;
use newipd_core::stats::Counters;
use newipd_dpdk::mbuf::Mbuf;

/// Where routed packets go.
pub trait Sink {
    /// Take a packet for egress port `out` (`meta`: its contract work, if
    /// any; `now_ns`: the time of its RX burst); give it back if `out`
    /// cannot be served (counted as no-route).
    fn forward(&mut self, m: Mbuf, meta: Option<&TxMeta>, out: usize, now_ns: u64, c: &mut Counters) -> Result<(), Mbuf>;

    /// A burst arrived at `now_ns` and is about to be routed: a sink that
    /// schedules (the lcore's own egress) releases what is due now, before
    /// the burst's packets (`clk` times that as the `queue` stage).
    #[inline(always)]
    fn begin_burst(&mut self, now_ns: u64, c: &mut Counters, clk: &mut StageClock) {
        let _ = (now_ns, c, clk);
    }
}
