//! TLV 0x8002, on-time delivery: the damper (after draft-ietf-detnet-glbf).
//! A TLV contract is addressed by the offset of its value (contract + 4).
//!
//! ```text
//! value: 0           4      5       6          8
//!        | damper_ns | prio | flags | reserved |
//! ```
//!
//! On arrival a packet is held for the `damper_ns` its previous hop wrote
//! (its eligibility time), then scheduled by its `prio`: its deadline here is
//! eligibility + the port's bound for that prio (`on_time_bound_us`). On
//! transmit newipd writes for the next hop
//!
//! ```text
//! damper_ns = max_queue_delay(port, prio) - queued
//! ```
//!
//! where `queued` is the time from eligibility to transmit here and
//! `max_queue_delay` is the largest `queued` this port has seen for that
//! prio (tracked by the lcore that owns the port, never above the bound).
//! So every packet of a prio leaves the next hop's damper after the same
//! total delay. `queued` above the bound breaks it: the packet is dropped
//! (`newip-on-time-broken`), or, with Di set, marked Ds, given damper 0 and
//! sent as best effort. A packet that arrives with Ds set is best effort:
//! no hold, no rewrite.

use super::words::{Words, W_FLAGS};
use crate::bytes::{arr, be32, rd32, wr32, wr_bytes};
use crate::kinds::Reason;

/// The TLV type.
pub const TYPE: u16 = 0x8002;
/// Length of the value.
pub const LEN: usize = 8;
/// Field offsets from the value's start.
pub const DAMPER_NS: usize = 0;
pub const PRIO: usize = 4;
pub const FLAGS: usize = 5;

/// Decoded on-time (damper) value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct OnTime {
    /// How long the next router holds the packet before scheduling it, ns.
    pub damper_ns: u32,
    /// Priority 0-7.
    pub prio: u8,
    /// Flags: bit 0 [`OnTime::DI`], bit 1 [`OnTime::DS`].
    pub flags: u8,
}

impl OnTime {
    /// Flag: downgrade intent (send late packets as best effort instead of
    /// dropping them).
    pub const DI: u8 = 1;
    /// Flag: downgrade status (the bound was broken somewhere).
    pub const DS: u8 = 2;

    /// Decode the 8-byte value at `val` (the reserved bytes are ignored).
    #[inline]
    pub fn read(buf: &[u8], val: usize) -> Option<Self> {
        let a = arr::<LEN>(buf, val)?;
        Some(Self { damper_ns: be32(&a, DAMPER_NS), prio: a[PRIO], flags: a[FLAGS] })
    }

    /// Encode as the 8-byte value (reserved bytes zero).
    pub fn to_bytes(&self) -> [u8; LEN] {
        let d = self.damper_ns.to_be_bytes();
        [d[0], d[1], d[2], d[3], self.prio, self.flags, 0, 0]
    }
}

/// Write `damper_ns` of the value at `val`; false when out of bounds.
#[inline]
pub fn set_damper_ns(buf: &mut [u8], val: usize, v: u32) -> bool {
    wr32(buf, val.saturating_add(DAMPER_NS), v)
}

/// Write `flags` (bit 0 Di, bit 1 Ds) of the value at `val`.
#[inline]
pub fn set_flags(buf: &mut [u8], val: usize, v: u8) -> bool {
    wr_bytes(buf, val.saturating_add(FLAGS), &[v])
}

/// `damper_ns` of the value at `val`.
#[inline]
pub fn damper_ns(buf: &[u8], val: usize) -> Option<u32> {
    rd32(buf, val.saturating_add(DAMPER_NS))
}

/// What arrival decided: hold until `eligible_ns`, schedule by the port's
/// bound for the prio in `meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub eligible_ns: u64,
    /// Di: best effort rather than a drop when the bound breaks.
    pub late_ok: bool,
    pub meta: Meta,
}

/// Arrival at `now_ns` of the value at `val`: hold for `damper_ns`,
/// schedule by prio. None for a value not whole in `buf`, or already marked
/// Ds (best effort: no hold, no rewrite).
#[inline]
pub fn arrive(buf: &[u8], val: usize, now_ns: u64) -> Option<Arrival> {
    let v = OnTime::read(buf, val)?;
    if v.flags & OnTime::DS != 0 {
        return None;
    }
    Some(Arrival {
        eligible_ns: now_ns.saturating_add(v.damper_ns as u64),
        late_ok: v.flags & OnTime::DI != 0,
        meta: Meta { val: val as u16, prio: v.prio },
    })
}

/// Its part of the transmit metadata: the value's offset from the network
/// header (0: none) and its prio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    pub val: u16,
    pub prio: u8,
}

impl Meta {
    /// `val`: bits 0..16 of [`W_FLAGS`].
    pub const VAL_SHIFT: u32 = 0;
    /// `prio`: bits 32..40 of [`W_FLAGS`].
    pub const PRIO_SHIFT: u32 = 32;

    #[inline(always)]
    pub fn pack(self, w: &mut Words) {
        w[W_FLAGS] |= (self.val as u64) << Self::VAL_SHIFT | (self.prio as u64) << Self::PRIO_SHIFT;
    }

    #[inline(always)]
    pub fn unpack(w: &Words) -> Meta {
        Meta { val: (w[W_FLAGS] >> Self::VAL_SHIFT) as u16, prio: (w[W_FLAGS] >> Self::PRIO_SHIFT) as u8 }
    }

    /// The prio of a packet with the contract, read from the words alone.
    #[inline(always)]
    pub fn prio_in(flags_word: u64) -> Option<u8> {
        ((flags_word >> Self::VAL_SHIFT) as u16 != 0).then_some((flags_word >> Self::PRIO_SHIFT) as u8)
    }
}

/// Priorities of the on-time contract.
pub const PRIOS: usize = 8;

/// One egress port's on-time state (owned by the lcore that transmits on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnTimePort {
    bound_ns: [u64; PRIOS],
    max_ns: [u64; PRIOS],
    downgraded: u64,
}

impl Default for OnTimePort {
    fn default() -> Self {
        OnTimePort::new(default_bounds_ns(10_000_000))
    }
}

/// The default per-prio bounds: prio `p` gets `(p + 1) / 8` of the port's
/// best-effort deadline (prio 0 is the most urgent).
pub fn default_bounds_ns(best_effort_ns: u64) -> [u64; PRIOS] {
    std::array::from_fn(|p| best_effort_ns * (p as u64 + 1) / PRIOS as u64)
}

/// The prio a contract asks for (values above 7 count as 7).
#[inline(always)]
pub fn prio_index(prio: u8) -> usize {
    (prio as usize).min(PRIOS - 1)
}

impl OnTimePort {
    pub fn new(bound_ns: [u64; PRIOS]) -> OnTimePort {
        OnTimePort { bound_ns, max_ns: [0; PRIOS], downgraded: 0 }
    }

    /// The queueing bound of `prio` at this port.
    #[inline(always)]
    pub fn bound_ns(&self, prio: u8) -> u64 {
        self.bound_ns[prio_index(prio)]
    }

    /// Largest queueing delay seen so far for `prio`.
    pub fn max_queue_ns(&self, prio: u8) -> u64 {
        self.max_ns[prio_index(prio)]
    }

    /// A packet of `prio` leaves after `queued_ns` in the queue: the damper
    /// for the next hop, or `None` when the bound is broken (the maximum is
    /// then left as it was). Saturates at `u32::MAX`.
    #[inline]
    pub fn damper_for(&mut self, prio: u8, queued_ns: u64) -> Option<u32> {
        let p = prio_index(prio);
        if queued_ns > self.bound_ns[p] {
            return None;
        }
        let m = self.max_ns[p].max(queued_ns);
        self.max_ns[p] = m;
        Some((m - queued_ns).min(u32::MAX as u64) as u32)
    }

    /// Rewrite the on-time value at `val` in `buf` for a packet that became
    /// eligible at `eligible_ns` and leaves at `now_ns`. A broken bound
    /// refuses the packet, or (Di) marks Ds with damper 0.
    #[inline]
    pub fn on_transmit(&mut self, buf: &mut [u8], val: usize, eligible_ns: u64, now_ns: u64) -> Result<(), Reason> {
        let Some(v) = OnTime::read(buf, val) else { return Ok(()) };
        match self.damper_for(v.prio, now_ns.saturating_sub(eligible_ns)) {
            Some(d) => {
                set_damper_ns(buf, val, d);
            }
            None if v.flags & OnTime::DI != 0 => {
                set_damper_ns(buf, val, 0);
                set_flags(buf, val, v.flags | OnTime::DS);
                self.downgraded += 1;
            }
            None => return Err(Reason::NewipOnTimeBroken),
        }
        Ok(())
    }

    /// Packets marked Ds (bound broken, Di set) since the last call.
    pub fn take_downgraded(&mut self) -> u64 {
        std::mem::take(&mut self.downgraded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value(damper: u32, prio: u8, flags: u8) -> Vec<u8> {
        let mut b = vec![0xaa; 3];
        b.extend(OnTime { damper_ns: damper, prio, flags }.to_bytes());
        b
    }

    #[test]
    fn arrival_holds_unless_ds() {
        let b = value(1_000, 3, OnTime::DI);
        assert_eq!(arrive(&b, 3, 10), Some(Arrival { eligible_ns: 1_010, late_ok: true, meta: Meta { val: 3, prio: 3 } }));
        assert_eq!(arrive(&value(1_000, 3, OnTime::DS), 3, 10), None);
        assert_eq!(arrive(&b, 4, 10), None, "not whole");
        let mut w = [0u64; 5];
        Meta { val: 0x0102, prio: 7 }.pack(&mut w);
        assert_eq!(Meta::unpack(&w), Meta { val: 0x0102, prio: 7 });
        assert_eq!(Meta::prio_in(w[W_FLAGS]), Some(7));
        assert_eq!(Meta::prio_in(0), None);
    }

    #[test]
    fn damper_is_the_max_minus_queued() {
        let mut s = OnTimePort::new([1000, 2000, 0, 0, 0, 0, 0, 5000]);
        assert_eq!(s.damper_for(0, 300), Some(0), "first packet sets the max");
        assert_eq!(s.damper_for(0, 100), Some(200));
        assert_eq!(s.damper_for(0, 800), Some(0));
        assert_eq!(s.damper_for(0, 0), Some(800));
        assert_eq!(s.max_queue_ns(0), 800);
        assert_eq!(s.damper_for(0, 1000), Some(0), "the bound itself is kept");
        assert_eq!(s.damper_for(0, 1001), None, "above the bound");
        assert_eq!(s.max_queue_ns(0), 1000, "a broken packet leaves the max alone");
        // Priorities are separate; above 7 counts as 7.
        assert_eq!(s.damper_for(1, 50), Some(0));
        assert_eq!(s.damper_for(200, 4000), Some(0));
        assert_eq!(s.damper_for(7, 1000), Some(3000));
        assert_eq!(s.bound_ns(9), 5000);
    }

    #[test]
    fn saturates_at_u32() {
        let mut s = OnTimePort::new([u64::MAX; PRIOS]);
        assert_eq!(s.damper_for(3, 10_000_000_000), Some(0));
        assert_eq!(s.damper_for(3, 0), Some(u32::MAX));
    }

    #[test]
    fn default_bounds_scale_with_best_effort() {
        assert_eq!(default_bounds_ns(8000), [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000]);
    }

    #[test]
    fn transmit_rewrites_marks_ds_or_refuses() {
        let mut s = OnTimePort::new([1000; PRIOS]);
        let mut b = value(777, 2, 0);
        assert_eq!(s.on_transmit(&mut b, 3, 5000, 5400), Ok(()));
        assert_eq!(OnTime::read(&b, 3), Some(OnTime { damper_ns: 0, prio: 2, flags: 0 }));
        assert_eq!(s.on_transmit(&mut b, 3, 5000, 5100), Ok(()));
        assert_eq!(OnTime::read(&b, 3).unwrap().damper_ns, 300);
        // Broken without Di: refused, frame untouched.
        let mut b = value(777, 2, 0);
        let before = b.clone();
        assert_eq!(s.on_transmit(&mut b, 3, 0, 1001), Err(Reason::NewipOnTimeBroken));
        assert_eq!(b, before);
        // Broken with Di: Ds set, damper 0, reserved bytes kept zero.
        let mut b = value(777, 2, OnTime::DI);
        assert_eq!(s.on_transmit(&mut b, 3, 0, 5000), Ok(()));
        assert_eq!(OnTime::read(&b, 3), Some(OnTime { damper_ns: 0, prio: 2, flags: OnTime::DI | OnTime::DS }));
        assert_eq!(&b[3 + 6..], &[0, 0]);
        assert_eq!(s.take_downgraded(), 1);
        assert_eq!(s.take_downgraded(), 0);
        // Out of bounds: nothing happens.
        assert_eq!(s.on_transmit(&mut b, 100, 0, 0), Ok(()));
    }

    proptest! {
        /// Against a reference model: the damper equals the running maximum
        /// (of unbroken delays) minus this delay; every unbroken packet
        /// leaves the next hop's damper `max` after becoming eligible here.
        #[test]
        fn model(delays in proptest::collection::vec((0u8..10, 0u64..3000), 1..100)) {
            let bounds: [u64; PRIOS] = std::array::from_fn(|p| 500 + 250 * p as u64);
            let mut s = OnTimePort::new(bounds);
            let mut max = [0u64; PRIOS];
            for (prio, q) in delays {
                let p = (prio as usize).min(7);
                let got = s.damper_for(prio, q);
                if q > bounds[p] {
                    prop_assert_eq!(got, None);
                } else {
                    max[p] = max[p].max(q);
                    prop_assert_eq!(got, Some((max[p] - q) as u32));
                    prop_assert_eq!(q + got.unwrap() as u64, s.max_queue_ns(prio));
                }
            }
        }
    }
}
