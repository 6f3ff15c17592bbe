//! TLV 0x8001, precise LBF, in ns; the same 16-byte value is the IPv6
//! hop-by-hop latency option's ([`ipv6_option`](super::ipv6_option)).
//! A TLV contract is addressed by the offset of its value (contract + 4).
//!
//! ```text
//! value: 0        4        8               12     14      16
//!        | min_ns | max_ns | experienced_ns | hops | flags |
//! ```
//! Arrival: with the route's `to_hops` and `to_delay_ns`, hold until the
//! earliest share of [min, max] and send by the latest; an infeasible
//! contract is dropped (`newip-infeasible`) unless late_ok, which sends it
//! as best effort (counted `late-ok-demoted`). Transmit: experienced_ns plus
//! the time spent here and the egress link delay (saturating), hops plus
//! one. Reported delay: experienced_ns.

use super::budget::{div_nonzero, Budget, Refusal};
use super::words::{Words, W_OFFSETS};
use crate::bytes::{arr, be, be32, fields_mut, put16, put32, rd32, wr16, wr32};
use crate::kinds::Reason;

/// The TLV type.
pub const TYPE: u16 = 0x8001;
/// Length of the value.
pub const LEN: usize = 16;
/// Field offsets from the value's start.
pub const MIN_NS: usize = 0;
pub const MAX_NS: usize = 4;
pub const EXPERIENCED_NS: usize = 8;
pub const HOPS: usize = 12;
pub const FLAGS: usize = 14;

/// Decoded precise-LBF value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PreciseLbf {
    /// Earliest end-to-end delivery, ns after sending (0 = none).
    pub min_ns: u32,
    /// Latest end-to-end delivery, ns after sending (0 = best effort).
    pub max_ns: u32,
    /// Delay accumulated along the path so far, ns.
    pub experienced_ns: u32,
    /// Routers traversed so far.
    pub hops: u16,
    /// Flags; bit 0 = [`PreciseLbf::LATE_OK`].
    pub flags: u16,
}

impl PreciseLbf {
    /// Flag: deliver late (as best effort) rather than drop.
    pub const LATE_OK: u16 = 1;

    /// Decode the 16-byte value at `val`.
    #[inline]
    pub fn read(buf: &[u8], val: usize) -> Option<Self> {
        let a = arr::<LEN>(buf, val)?;
        Some(Self {
            min_ns: be32(&a, MIN_NS),
            max_ns: be32(&a, MAX_NS),
            experienced_ns: be32(&a, EXPERIENCED_NS),
            hops: be(&a, HOPS),
            flags: be(&a, FLAGS),
        })
    }

    /// Encode as the 16-byte value.
    pub fn to_bytes(&self) -> [u8; LEN] {
        let mut o = [0u8; LEN];
        put32(&mut o, MIN_NS, self.min_ns);
        put32(&mut o, MAX_NS, self.max_ns);
        put32(&mut o, EXPERIENCED_NS, self.experienced_ns);
        put16(&mut o, HOPS, self.hops);
        put16(&mut o, FLAGS, self.flags);
        o
    }

    /// Whether `late_ok` is set.
    #[inline]
    pub fn late_ok(&self) -> bool {
        self.flags & Self::LATE_OK != 0
    }
}

/// Write `experienced_ns` of the value at `val`; false when out of bounds.
#[inline]
pub fn set_experienced_ns(buf: &mut [u8], val: usize, v: u32) -> bool {
    wr32(buf, val.saturating_add(EXPERIENCED_NS), v)
}

/// Write `hops` of the value at `val`.
#[inline]
pub fn set_hops(buf: &mut [u8], val: usize, v: u16) -> bool {
    wr16(buf, val.saturating_add(HOPS), v)
}

/// Write `flags` of the value at `val`.
#[inline]
pub fn set_flags(buf: &mut [u8], val: usize, v: u16) -> bool {
    wr16(buf, val.saturating_add(FLAGS), v)
}

/// The budget on arrival with the route's `to_hops` (>= 1) and
/// `to_delay_ns`. `max_ns == 0` is best effort; `min_ns == 0` means no
/// earliest time.
#[inline(always)]
pub fn budget(min_ns: u32, max_ns: u32, experienced_ns: u32, to_delay_ns: u32, to_hops: u16) -> Result<Budget, Refusal> {
    let hops = to_hops.max(1) as u64;
    let used = experienced_ns as u64 + to_delay_ns as u64;
    let hold = if min_ns == 0 { 0 } else { div_nonzero((min_ns as u64).saturating_sub(used).min(u32::MAX as u64) as u32, hops as u32) as u64 };
    let deadline = if max_ns == 0 {
        None
    } else {
        let Some(fq_max) = (max_ns as u64).checked_sub(used) else {
            return Err(Refusal::Infeasible);
        };
        // fq_max <= u32::MAX: divide in 32 bits.
        Some(div_nonzero(fq_max as u32, hops as u32) as u64)
    };
    Ok(Budget { hold_ns: hold, deadline_ns: deadline })
}

/// What arrival decided for a value that is whole in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// The budget to apply; None: infeasible but late_ok, sent as best
    /// effort (the caller counts `late-ok-demoted`).
    pub budget: Option<Budget>,
    /// The packet may be late.
    pub late_ok: bool,
    pub meta: Meta,
}

/// Arrival of the value at `val` over a route with `to_delay_ns` and
/// `to_hops` to go; None when the value is not whole in `buf`.
#[inline]
pub fn arrive(buf: &[u8], val: usize, to_delay_ns: u32, to_hops: u16) -> Result<Option<Arrival>, Reason> {
    let Some(p) = PreciseLbf::read(buf, val) else { return Ok(None) };
    let budget = match budget(p.min_ns, p.max_ns, p.experienced_ns, to_delay_ns, to_hops) {
        Ok(b) => Some(b),
        Err(_) if p.late_ok() => None,
        Err(_) => return Err(Reason::NewipInfeasible),
    };
    Ok(Some(Arrival { budget, late_ok: p.late_ok(), meta: Meta { val: val as u16 } }))
}

/// Transmit on a whole value: experienced_ns plus `add_ns` (saturating),
/// hops plus one (wrapping); returns the new experienced_ns.
#[inline(always)]
pub fn add_delay_and_hop(v: &mut [u8; LEN], add_ns: u32) -> u32 {
    let exp = be32(v, EXPERIENCED_NS).saturating_add(add_ns);
    let hops = be(v, HOPS).wrapping_add(1);
    put32(v, EXPERIENCED_NS, exp);
    put16(v, HOPS, hops);
    exp
}

/// Transmit on the value at `val`: [`add_delay_and_hop`]. Returns the new
/// value, or `None` (nothing written) if `val` is out of bounds.
#[inline]
pub fn on_transmit(buf: &mut [u8], val: usize, delta_ns: u32) -> Option<PreciseLbf> {
    add_delay_and_hop(fields_mut::<LEN>(buf, val)?, delta_ns);
    PreciseLbf::read(buf, val)
}

/// The end-to-end delay the value at `val` reports (ns).
#[inline(always)]
pub fn reported_ns(buf: &[u8], val: usize) -> Option<u64> {
    rd32(buf, val.checked_add(EXPERIENCED_NS)?).map(|v| v as u64)
}

/// Its part of the transmit metadata: the value's offset from the network
/// header (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    pub val: u16,
}

impl Meta {
    /// Bits 48..64 of [`W_OFFSETS`].
    pub const SHIFT: u32 = 48;

    #[inline(always)]
    pub fn pack(self, w: &mut Words) {
        w[W_OFFSETS] |= (self.val as u64) << Self::SHIFT;
    }

    #[inline(always)]
    pub fn unpack(w: &Words) -> Meta {
        Meta { val: (w[W_OFFSETS] >> Self::SHIFT) as u16 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        assert_eq!(budget(0, 2_000_000, 500_000, 300_000, 2), Ok(Budget { hold_ns: 0, deadline_ns: Some(600_000) }));
        assert_eq!(budget(1_000_000, 0, 100_000, 100_000, 1), Ok(Budget { hold_ns: 800_000, deadline_ns: None }));
        assert_eq!(budget(0, 1_000, 1_000, 1, 1), Err(Refusal::Infeasible));
        assert_eq!(budget(0, 1_000, 1_000, 0, 1), Ok(Budget { hold_ns: 0, deadline_ns: Some(0) }));
        assert_eq!(budget(0, 1_000, 0, 0, 0), Ok(Budget { hold_ns: 0, deadline_ns: Some(1_000) }), "to_hops 0 is treated as 1");
        assert_eq!(budget(u32::MAX, u32::MAX, u32::MAX, u32::MAX, 1), Err(Refusal::Infeasible));
        assert_eq!(budget(u32::MAX, u32::MAX, 0, 0, 1), Ok(Budget { hold_ns: u32::MAX as u64, deadline_ns: Some(u32::MAX as u64) }));
    }

    #[test]
    fn arrival_demotes_only_with_late_ok() {
        let mut v = PreciseLbf { min_ns: 0, max_ns: 1_000, experienced_ns: 2_000, hops: 1, flags: 0 }.to_bytes();
        assert_eq!(arrive(&v, 0, 0, 1), Err(Reason::NewipInfeasible));
        v[FLAGS + 1] = PreciseLbf::LATE_OK as u8;
        assert_eq!(arrive(&v, 0, 0, 1), Ok(Some(Arrival { budget: None, late_ok: true, meta: Meta { val: 0 } })));
        assert_eq!(arrive(&v, 1, 0, 1), Ok(None));
    }

    proptest! {
        /// The spec's formulas, evaluated in i128 with no shortcuts.
        #[test]
        fn budget_matches_formula(min in any::<u32>(), max in any::<u32>(), exp in any::<u32>(), td in any::<u32>(), hops in 1u16..) {
            let (min_i, max_i, exp_i, td_i, h) = (min as i128, max as i128, exp as i128, td as i128, hops as i128);
            let fq_min = if min == 0 { 0 } else { (min_i - exp_i - td_i).max(0) };
            let r = budget(min, max, exp, td, hops);
            if max != 0 && max_i - exp_i - td_i < 0 {
                prop_assert_eq!(r, Err(Refusal::Infeasible));
            } else {
                let b = r.unwrap();
                prop_assert_eq!(b.hold_ns as i128, fq_min / h);
                prop_assert_eq!(b.deadline_ns.map(|d| d as i128), (max != 0).then(|| (max_i - exp_i - td_i) / h));
                if let Some(d) = b.deadline_ns { prop_assert!(b.hold_ns <= d || min > max); }
            }
        }

        #[test]
        fn value_round_trips_and_transmit_adds(min in any::<u32>(), max in any::<u32>(), exp in any::<u32>(), hops in any::<u16>(), flags in any::<u16>(), add in any::<u32>()) {
            let p = PreciseLbf { min_ns: min, max_ns: max, experienced_ns: exp, hops, flags };
            let mut b = p.to_bytes();
            prop_assert_eq!(PreciseLbf::read(&b, 0), Some(p));
            let after = on_transmit(&mut b, 0, add).expect("whole");
            prop_assert_eq!(after, PreciseLbf { experienced_ns: exp.saturating_add(add), hops: hops.wrapping_add(1), ..p });
            prop_assert_eq!(reported_ns(&b, 0), Some(exp.saturating_add(add) as u64));
            let mut w = [0u64; 5];
            Meta { val: hops }.pack(&mut w);
            prop_assert_eq!(Meta::unpack(&w), Meta { val: hops });
        }
    }
}
