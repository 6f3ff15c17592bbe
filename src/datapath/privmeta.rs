//! A packet's [`TxMeta`] kept in its mbuf's private area, as five words.
//!
//! Two users: the hand-over between lcores (the ring entry stays 16 bytes,
//! see [`super::handoff`]) and the deadline queues, whose items are then
//! just the mbuf: 8 bytes to move through the queue instead of 48, and the
//! few fields the scheduler asks about (deadline, eligibility, late_ok,
//! on-time prio, washable) are read and changed in place. Only packets
//! that wait in a queue or cross a ring pay the extra cache line.

use newipd_core::contract::on_time;
use newipd_core::contract::qualitative;
use newipd_core::contract::words::{Words as MetaWords, LATE_OK_SHIFT, WORDS as META_WORDS, W_DEADLINE, W_ELIGIBLE, W_FLAGS, W_OFFSETS};
use newipd_core::path::TxMeta;
use newipd_dpdk::mbuf::Mbuf;

/// Bytes of mbuf private area newipd asks of its pool: the metadata
/// rounded up to a whole cache line, so the packet data after it starts on
/// a line boundary as it does without a private area (40 bytes would split
/// every 64-byte frame over two lines).
pub const META_PRIV_SIZE: u16 = (META_WORDS * 8).next_multiple_of(64) as u16;

/// [`TxMeta`] as plain words (the layout is the contracts',
/// [`newipd_core::contract::words`]).
#[inline(always)]
pub fn encode(m: &TxMeta) -> MetaWords {
    m.to_words()
}

/// The inverse of [`encode`].
#[inline(always)]
pub fn decode(w: &MetaWords) -> TxMeta {
    TxMeta::from_words(w)
}

/// Store the metadata in the mbuf's private area; false if its pool has
/// no private area for it.
#[inline(always)]
pub fn store(m: &mut Mbuf, meta: &TxMeta) -> bool {
    m.write_priv(&encode(meta))
}

/// Read back what [`store`] stored (stale bytes if nothing was); the area
/// is left as it is.
#[inline(always)]
pub fn load(m: &Mbuf) -> Option<TxMeta> {
    m.read_priv::<META_WORDS>().map(|w| decode(&w))
}

/// Where the words live: an mbuf's private area, or (tests) an array.
pub trait Words {
    fn word(&self, i: usize) -> Option<u64>;
    fn set_word(&mut self, i: usize, v: u64);
}

impl Words for Mbuf {
    #[inline(always)]
    fn word(&self, i: usize) -> Option<u64> {
        self.priv_word(i)
    }
    #[inline(always)]
    fn set_word(&mut self, i: usize, v: u64) {
        self.set_priv_word(i, v);
    }
}

#[cfg(test)]
impl Words for MetaWords {
    fn word(&self, i: usize) -> Option<u64> {
        self.get(i).copied()
    }
    fn set_word(&mut self, i: usize, v: u64) {
        self[i] = v;
    }
}

/// Single fields of what [`store`] stored, for the scheduler. Without the
/// area they read as a best-effort packet's (never reached: newipd's pool
/// always has it, and [`store`] is checked).
#[inline(always)]
pub fn deadline_ns(m: &impl Words) -> u64 {
    m.word(W_DEADLINE).unwrap_or(u64::MAX)
}

#[inline(always)]
pub fn set_deadline_ns(m: &mut impl Words, d: u64) {
    m.set_word(W_DEADLINE, d);
}

#[inline(always)]
pub fn eligible_ns(m: &impl Words) -> u64 {
    m.word(W_ELIGIBLE).unwrap_or(0)
}

#[inline(always)]
fn flags(m: &impl Words) -> u64 {
    m.word(W_FLAGS).unwrap_or(1 << LATE_OK_SHIFT)
}

#[inline(always)]
pub fn late_ok(m: &impl Words) -> bool {
    (flags(m) >> LATE_OK_SHIFT) & 1 == 1
}

/// The on-time contract's prio, if the packet has one.
#[inline(always)]
pub fn on_time_prio(m: &impl Words) -> Option<u8> {
    on_time::Meta::prio_in(flags(m))
}

/// Where its New IP header starts, if it carries a washable payload.
#[inline(always)]
pub fn washable_l3(m: &impl Words) -> Option<usize> {
    let qual = qualitative::Meta::in_flags(flags(m));
    qual.then(|| m.word(W_OFFSETS).map_or(0, |o| o as u16 as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use newipd_core::contract::{lbf, max_delay, precise_lbf};
    use proptest::prelude::*;

    fn meta(rx: u64, d: u64, e: u64, f: [u16; 6], b: [bool; 2], cp: [u8; 2]) -> TxMeta {
        TxMeta {
            rx_ns: rx,
            deadline_ns: d,
            eligible_ns: e,
            l3: f[0],
            max_delay: max_delay::Meta { off: f[1] },
            lbf: lbf::Meta { off: f[2], exp: f[5] },
            plbf: precise_lbf::Meta { val: f[3] },
            on_time: on_time::Meta { val: f[4], prio: cp[1] },
            late_ok: b[0],
            class: cp[0],
            qual: qualitative::Meta { washable: b[1] },
        }
    }

    proptest! {
        #[test]
        fn meta_words_round_trip(rx in any::<u64>(), d in any::<u64>(), e in any::<u64>(), f in any::<[u16; 6]>(), b in any::<[bool; 2]>(), cp in any::<[u8; 2]>()) {
            let m = meta(rx, d, e, f, b, cp);
            prop_assert_eq!(decode(&encode(&m)), m);
        }

        #[test]
        fn single_fields_read_and_write_in_place(rx in any::<u64>(), d in any::<u64>(), e in any::<u64>(), f in any::<[u16; 6]>(), b in any::<[bool; 2]>(), cp in any::<[u8; 2]>(), nd in any::<u64>()) {
            let m = meta(rx, d, e, f, b, cp);
            let mut w = encode(&m);
            prop_assert_eq!(deadline_ns(&w), d);
            prop_assert_eq!(eligible_ns(&w), e);
            prop_assert_eq!(late_ok(&w), b[0]);
            prop_assert_eq!(on_time_prio(&w), (f[4] != 0).then_some(cp[1]));
            prop_assert_eq!(washable_l3(&w), b[1].then_some(f[0] as usize));
            set_deadline_ns(&mut w, nd);
            prop_assert_eq!(decode(&w), TxMeta { deadline_ns: nd, ..m });
        }
    }

    #[test]
    fn area_size() {
        assert_eq!(META_PRIV_SIZE % 8, 0, "DPDK wants the private area 8-byte aligned");
        assert_eq!(META_PRIV_SIZE % 64, 0, "packet data stays cache-line aligned");
        assert!(META_PRIV_SIZE as usize >= META_WORDS * 8, "the metadata fits");
    }
}
