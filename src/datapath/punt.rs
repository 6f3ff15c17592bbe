//! The exception path on the lcore side: packets the kernel should take
//! (ARP, ND, link-local, to newipd's own addresses, next hop not yet
//! resolved: [`Reason::punts`]) go, per port, through a token bucket and
//! onto a ring to the host-interface thread
//! ([`crate::control::hostif`]), which writes them to the port's TAP. No
//! system call here: the lcore only pushes an mbuf pointer.
//!
//! The reverse way (the kernel's frames out of the port) is a ring per
//! port that the lcore owning the port's egress drains
//! ([`Egress::with_inject`](super::egress::Egress::with_inject)).

use newipd_core::kinds::{Event, Reason, MAX_PORTS};
use newipd_core::path::icmp::Limiter;
use newipd_core::stats::Counters;
use newipd_dpdk::mbuf::Mbuf;
use newipd_dpdk::spsc::Producer;

/// One lcore's side of the punt path: its ring to the host-interface
/// thread and a policer per port that has a host interface.
pub struct Punt {
    ring: Producer<Mbuf>,
    /// By port index: None for a port without a host interface.
    police: [Option<Limiter>; MAX_PORTS],
}

impl Punt {
    /// `rates[port]`: the port's (packets a second, burst), None without a
    /// host interface. Each lcore polices its own share: a port polled by
    /// `share` lcores gives each 1/share of its rate.
    pub fn new(ring: Producer<Mbuf>, rates: &[Option<(u64, u64)>], share: &[u64]) -> Punt {
        let mut police = [None; MAX_PORTS];
        for (i, r) in rates.iter().enumerate().take(MAX_PORTS) {
            if let Some((pps, burst)) = r {
                let n = share.get(i).copied().unwrap_or(1).max(1);
                police[i] = Some(Limiter::new((pps / n).max(1), (burst / n).max(1)));
            }
        }
        Punt { ring, police }
    }

    /// Hand `m`, which arrived on `port` and was dropped for `r` (a reason
    /// that [punts](Reason::punts)), to the kernel: counted `punted`, or
    /// dropped as `punt-policed` / `punt-queue-full`. Gives it back when
    /// the port has no host interface (an ordinary drop for the caller).
    #[cold]
    #[inline(never)]
    pub fn offer(&mut self, m: Mbuf, port: usize, now_ns: u64, c: &mut Counters) -> Result<(), Mbuf> {
        let Some(Some(lim)) = self.police.get_mut(port) else { return Err(m) };
        if !lim.take(now_ns) {
            c.drop(port, Reason::PuntPoliced, 1);
            return Ok(());
        }
        match self.ring.push(m) {
            Ok(()) => {
                self.ring.publish();
                c.event(port, Event::Punted, 1);
            }
            Err(m) => {
                drop(m);
                c.drop(port, Reason::PuntQueueFull, 1);
            }
        }
        Ok(())
    }
}
