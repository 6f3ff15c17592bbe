//! The hand-over from an RX lcore to the lcore that owns an egress port.
//!
//! A ring entry is 16 bytes: the mbuf, the egress port, whether the
//! packet carries contract metadata, and the low 32 bits of its arrival
//! time (for latency statistics of packets without metadata). The metadata itself ([`TxMeta`], 40
//! bytes) travels in the mbuf's private area ([`super::privmeta`]), written
//! only for packets with contracts: plain IPv4/IPv6 traffic moves 16 bytes per packet through the
//! ring and touches no extra cache line, and the ring stays small enough to
//! live in cache. (Carrying the metadata in every entry would make each
//! entry a whole cache line.)
//!
//! One Rust SPSC ring ([`newipd_dpdk::spsc`]) joins each RX lcore to each
//! egress lcore: single producer, single consumer, no atomics RMW, batch
//! publish. It beat DPDK's rte_ring in `benches/ring.rs` (numbers in
//! docs/pipeline.md).

use super::privmeta::store;
use newipd_core::path::TxMeta;
use super::sink::Sink;
use newipd_dpdk::mbuf::Mbuf;
use newipd_dpdk::spsc::{Consumer, Producer};
use newipd_core::kinds::{Reason, MAX_PORTS};
use newipd_core::stats::Counters;

/// One packet on its way to an egress lcore.
pub struct Handoff {
    pub m: Mbuf,
    /// Egress port index.
    pub port: u16,
    /// The mbuf's private area holds this packet's [`TxMeta`].
    pub with_meta: bool,
    /// Arrival time (ns), low 32 bits: see [`arrival_ns`].
    pub rx_lo: u32,
}

/// A full arrival time from its low 32 bits `rx_lo`, given a later time
/// `now_ns` less than 4.29 s after it.
#[inline(always)]
pub fn arrival_ns(rx_lo: u32, now_ns: u64) -> u64 {
    now_ns.wrapping_sub((now_ns as u32).wrapping_sub(rx_lo) as u64)
}

const NO_RING: u8 = u8::MAX;

/// An RX lcore's producers, one per egress lcore, and which ring serves each port.
pub struct RingSink {
    rings: Vec<Producer<Handoff>>,
    by_port: [u8; MAX_PORTS],
}

impl RingSink {
    /// `rings[i]` goes to egress lcore `i`; `owner[port]` is the index of the
    /// egress lcore that owns `port`.
    pub fn new(rings: Vec<Producer<Handoff>>, owner: &[usize]) -> RingSink {
        let mut by_port = [NO_RING; MAX_PORTS];
        for (p, &o) in owner.iter().enumerate().take(MAX_PORTS) {
            by_port[p] = o as u8;
        }
        RingSink { rings, by_port }
    }

    /// Make this round's entries visible to the egress lcores.
    #[inline(always)]
    pub fn publish(&mut self) {
        for r in &mut self.rings {
            r.publish();
        }
    }
}

impl Sink for RingSink {
    #[inline(always)]
    fn forward(&mut self, mut m: Mbuf, meta: Option<&TxMeta>, out: usize, now_ns: u64, c: &mut Counters) -> Result<(), Mbuf> {
        let Some(ring) = self.by_port.get(out).and_then(|&r| self.rings.get_mut(r as usize)) else { return Err(m) };
        let with_meta = match meta {
            Some(meta) if store(&mut m, meta) => true,
            Some(_) => {
                // The pool has no private area: cannot happen with run.rs's pool.
                c.drop(out, Reason::NoMbuf, 1);
                return Ok(());
            }
            None => false,
        };
        match ring.push(Handoff { m, port: out as u16, with_meta, rx_lo: now_ns as u32 }) {
            Ok(()) => c.lcore.ring_enqueued += 1,
            Err(_) => c.drop(out, Reason::RingFull, 1),
        }
        Ok(())
    }
}

/// An egress lcore's consumers, one per RX lcore.
pub struct RingSource {
    pub rings: Vec<Consumer<Handoff>>,
}

impl RingSource {
    /// Every producer is gone and every ring is empty.
    pub fn is_finished(&self) -> bool {
        self.rings.iter().all(|r| r.is_finished())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arrival_time_comes_back_from_its_low_bits(rx in any::<u64>(), later in 0u64..u32::MAX as u64) {
            prop_assert_eq!(arrival_ns(rx as u32, rx.wrapping_add(later)), rx);
        }
    }

    #[test]
    fn entry_is_two_words() {
        assert_eq!(std::mem::size_of::<Handoff>(), 16);
    }
}
