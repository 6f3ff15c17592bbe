//! What the ingress stage hands to transmit for one packet: its times, its
//! class and each contract's part ([`TxMeta`]), and the small per-packet
//! records around it ([`PacketCtx`], [`Verdict`]). [`TxMeta::to_words`]
//! and [`TxMeta::from_words`] are its form in the mbuf private area, each
//! contract packing its own bits.

use crate::class;
use crate::contract::budget::Budget;
use crate::contract::words::{Words, CLASS_SHIFT, L3_SHIFT, LATE_OK_SHIFT, W_DEADLINE, W_ELIGIBLE, W_FLAGS, W_OFFSETS, W_RX, WORDS};
use crate::contract::{lbf, max_delay, on_time, precise_lbf, qualitative};
use crate::kinds::Reason;

/// Per-packet context from the lcore: the burst's arrival time and port.
#[derive(Debug, Clone, Copy, Default)]
pub struct PacketCtx {
    pub now_ns: u64,
    /// Index of the ingress port in the pipeline.
    pub in_port: u16,
}

/// Contract fields to update when the packet is sent, and its timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxMeta {
    /// Arrival time (ns).
    pub rx_ns: u64,
    /// Latest useful send time (ns); `u64::MAX`: best effort.
    pub deadline_ns: u64,
    /// Earliest send time (ns); 0: now.
    pub eligible_ns: u64,
    /// Offset of the New IP or IPv6 header in the frame.
    pub l3: u16,
    /// Deliver late rather than drop.
    pub late_ok: bool,
    /// Traffic class ([`class::BEST_EFFORT`], [`class::CONTRACT`] or a
    /// configured one): for per-class statistics and late-drop names. A
    /// verdict without `with_meta` means class [`class::BEST_EFFORT`].
    pub class: u8,
    /// Each contract's part (offsets from `l3`; 0: the packet has none).
    pub max_delay: max_delay::Meta,
    pub lbf: lbf::Meta,
    /// A precise-LBF contract or the IPv6 latency option.
    pub plbf: precise_lbf::Meta,
    pub on_time: on_time::Meta,
    pub qual: qualitative::Meta,
}

impl TxMeta {
    /// A packet with no contract (legacy traffic, best effort).
    pub const NONE: TxMeta = TxMeta {
        rx_ns: 0,
        deadline_ns: u64::MAX,
        eligible_ns: 0,
        l3: 0,
        late_ok: false,
        class: class::BEST_EFFORT,
        max_delay: max_delay::Meta { off: 0 },
        lbf: lbf::Meta { off: 0, exp: 0 },
        plbf: precise_lbf::Meta { val: 0 },
        on_time: on_time::Meta { val: 0, prio: 0 },
        qual: qualitative::Meta { washable: false },
    };

    /// Does anything need writing at transmit time?
    #[inline(always)]
    pub fn has_updates(&self) -> bool {
        (self.max_delay.off | self.lbf.off | self.plbf.val | self.on_time.val) != 0
    }

    /// The drop reason of this packet when it misses its deadline.
    pub fn late_reason(&self) -> Reason {
        if self.class >= class::FIRST_CONFIGURED {
            Reason::ClassLate
        } else if self.on_time.val != 0 {
            Reason::NewipOnTimeBroken
        } else {
            Reason::NewipLate
        }
    }

    /// The class of a packet whose contracts were applied: scheduled by a
    /// contract, or best effort.
    #[inline(always)]
    pub fn set_contract_class(&mut self) {
        self.class = if self.deadline_ns != u64::MAX || self.on_time.val != 0 { class::CONTRACT } else { class::BEST_EFFORT };
    }

    /// Apply a contract's budget for a packet that arrived at `rx_ns`: the
    /// latest hold and the earliest deadline win.
    #[inline(always)]
    pub fn apply(&mut self, rx_ns: u64, b: Budget) {
        self.eligible_ns = self.eligible_ns.max(rx_ns.saturating_add(b.hold_ns));
        if let Some(d) = b.deadline_ns {
            self.deadline_ns = self.deadline_ns.min(rx_ns.saturating_add(d));
        }
    }

    /// As words for the mbuf private area ([`crate::contract::words`]).
    #[inline(always)]
    pub fn to_words(&self) -> Words {
        let mut w = [0u64; WORDS];
        w[W_RX] = self.rx_ns;
        w[W_DEADLINE] = self.deadline_ns;
        w[W_ELIGIBLE] = self.eligible_ns;
        w[W_OFFSETS] = (self.l3 as u64) << L3_SHIFT;
        w[W_FLAGS] = (self.late_ok as u64) << LATE_OK_SHIFT | (self.class as u64) << CLASS_SHIFT;
        self.max_delay.pack(&mut w);
        self.lbf.pack(&mut w);
        self.plbf.pack(&mut w);
        self.on_time.pack(&mut w);
        self.qual.pack(&mut w);
        w
    }

    /// The inverse of [`to_words`](Self::to_words).
    #[inline(always)]
    pub fn from_words(w: &Words) -> TxMeta {
        TxMeta {
            rx_ns: w[W_RX],
            deadline_ns: w[W_DEADLINE],
            eligible_ns: w[W_ELIGIBLE],
            l3: (w[W_OFFSETS] >> L3_SHIFT) as u16,
            late_ok: (w[W_FLAGS] >> LATE_OK_SHIFT) & 1 == 1,
            class: (w[W_FLAGS] >> CLASS_SHIFT) as u8,
            max_delay: max_delay::Meta::unpack(w),
            lbf: lbf::Meta::unpack(w),
            plbf: precise_lbf::Meta::unpack(w),
            on_time: on_time::Meta::unpack(w),
            qual: qualitative::Meta::unpack(w),
        }
    }
}

/// What to do with a packet. Small on purpose (it travels in registers):
/// the transmit-time work of a packet with contracts goes to the caller's
/// [`TxMeta`], and `with_meta` says it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send on this port (index into the pipeline's port list).
    Forward { port: u16, with_meta: bool },
    /// A broadcast: send a copy on every port except the ingress one, with the
    /// broadcast MAC as destination and each port's MAC as source.
    Flood { with_meta: bool },
    /// Drop and count under this reason.
    Drop(Reason),
    /// IPv4 (without DF) longer than the egress port's `mtu`, rewritten
    /// for `port` as a forward is: send it as fragments.
    Fragment { port: u16, mtu: u16 },
}

impl Verdict {
    /// The egress port of a plain forward (tests and tools).
    pub fn port(&self) -> Option<u16> {
        match self {
            Verdict::Forward { port, .. } => Some(*port),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every field survives the words, and no contract's bits overlap another's.
        #[test]
        fn words_round_trip(rx in any::<u64>(), dl in any::<u64>(), el in any::<u64>(), l3 in any::<u16>(), md in any::<u16>(),
                            lo in any::<u16>(), le in any::<u16>(), pv in any::<u16>(), ov in any::<u16>(), op in any::<u8>(),
                            late in any::<bool>(), class in any::<u8>(), q in any::<bool>()) {
            let m = TxMeta {
                rx_ns: rx, deadline_ns: dl, eligible_ns: el, l3, late_ok: late, class,
                max_delay: max_delay::Meta { off: md }, lbf: lbf::Meta { off: lo, exp: le }, plbf: precise_lbf::Meta { val: pv },
                on_time: on_time::Meta { val: ov, prio: op }, qual: qualitative::Meta { washable: q },
            };
            prop_assert_eq!(TxMeta::from_words(&m.to_words()), m);
        }
    }
}
