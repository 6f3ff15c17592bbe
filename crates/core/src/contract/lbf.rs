//! Type 2, Latency Based Forwarding, in the NewIP-Linux reference units:
//! min/max/todelay in ms, experienced in 0.1 ms.
//!
//! ```text
//! 0      2           4           6                  8             10           12
//! | type | min_delay | max_delay | experienced_delay | fib_todelay | fib_tohops |
//! ```
//! Arrival: a per-hop window from what is left of [min, max] after the
//! experienced delay and the path still to go, shared over the hops to go;
//! no hops left (`newip-lbf-no-hops`) or no time left (`newip-early-discard`)
//! drops. Once the packet is to be sent, fib_tohops loses the hop
//! ([`hop_done`]). Transmit: experienced_delay plus the time spent here (to
//! the nearest 0.1 ms). Reported delay: experienced_delay, in 0.1 ms.

use super::budget::{div_nonzero, Budget, Refusal, NS_PER_TENTH_MS};
use super::words::{Words, W_FLAGS, W_OFFSETS};
use crate::bytes::{be, fields_mut, put16, rd16, tagged, wr16};
use crate::kinds::Reason;

/// The contract type.
pub const TYPE: u16 = 2;
/// Its size on the wire, type included.
pub const LEN: usize = 12;
/// Field offsets from the contract's start.
pub const MIN_DELAY: usize = 2;
pub const MAX_DELAY: usize = 4;
pub const EXPERIENCED_DELAY: usize = 6;
pub const FIB_TODELAY: usize = 8;
pub const FIB_TOHOPS: usize = 10;

/// The fields of a whole contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    pub min_delay: u16,
    pub max_delay: u16,
    pub experienced_delay: u16,
    pub fib_todelay: u16,
    pub fib_tohops: u16,
}

impl Fields {
    #[inline(always)]
    pub fn read(f: &[u8; LEN]) -> Fields {
        Fields {
            min_delay: be(f, MIN_DELAY),
            max_delay: be(f, MAX_DELAY),
            experienced_delay: be(f, EXPERIENCED_DELAY),
            fib_todelay: be(f, FIB_TODELAY),
            fib_tohops: be(f, FIB_TOHOPS),
        }
    }

    /// The per-hop budget these fields ask for.
    #[inline(always)]
    pub fn budget(&self) -> Result<Budget, Refusal> {
        budget(self.min_delay, self.max_delay, self.experienced_delay, self.fib_todelay, self.fib_tohops)
    }
}

/// Write `experienced_delay` (0.1 ms) of the contract at `off`; false
/// (nothing written) when no whole type-2 contract is there.
#[inline]
pub fn set_experienced_delay(buf: &mut [u8], off: usize, v: u16) -> bool {
    tagged(buf, off, TYPE, LEN) && wr16(buf, off + EXPERIENCED_DELAY, v)
}

/// Write `fib_todelay` (ms) of the contract at `off`.
#[inline]
pub fn set_fib_todelay(buf: &mut [u8], off: usize, v: u16) -> bool {
    tagged(buf, off, TYPE, LEN) && wr16(buf, off + FIB_TODELAY, v)
}

/// Write `fib_tohops` of the contract at `off`.
#[inline]
pub fn set_fib_tohops(buf: &mut [u8], off: usize, v: u16) -> bool {
    tagged(buf, off, TYPE, LEN) && wr16(buf, off + FIB_TOHOPS, v)
}

/// The budget on arrival. Computed in 0.1 ms with integer division (as the
/// reference router does); a negative difference counts as 0.
#[inline(always)]
pub fn budget(min_ms: u16, max_ms: u16, experienced_01ms: u16, todelay_ms: u16, tohops: u16) -> Result<Budget, Refusal> {
    if tohops == 0 {
        return Err(Refusal::NoHops);
    }
    // Everything fits u32 (at most 65535 * 10 + 65535): 32-bit division is cheap.
    let used = experienced_01ms as u32 + todelay_ms as u32 * 10;
    let hops = tohops as u32;
    if max_ms != 0 && used > max_ms as u32 * 10 {
        return Err(Refusal::EarlyDiscard);
    }
    let lq_min = div_nonzero((min_ms as u32 * 10).saturating_sub(used), hops);
    let deadline = (max_ms != 0).then(|| div_nonzero(max_ms as u32 * 10 - used, hops) as u64 * NS_PER_TENTH_MS);
    Ok(Budget { hold_ns: lq_min as u64 * NS_PER_TENTH_MS, deadline_ns: deadline })
}

/// experienced_delay plus the time spent here (rounded to the nearest
/// 0.1 ms, saturating), and fib_tohops minus one.
#[inline]
pub fn on_transmit_values(experienced_01ms: u16, tohops: u16, local_ns: u64) -> (u16, u16) {
    let add = (local_ns + NS_PER_TENTH_MS / 2) / NS_PER_TENTH_MS;
    let exp = (experienced_01ms as u64 + add).min(u16::MAX as u64) as u16;
    (exp, tohops.saturating_sub(1))
}

/// Arrival of the whole contract `f`, found at `off` (validated by the
/// parser): its budget and its metadata.
#[inline(always)]
pub fn arrive(f: &[u8; LEN], off: usize) -> Result<(Budget, Meta), Reason> {
    let b = Fields::read(f).budget().map_err(Refusal::reason)?;
    Ok((b, Meta { off: off as u16, exp: be(f, EXPERIENCED_DELAY) }))
}

/// A forwarded packet's contract (at `m.off`): fib_tohops minus one,
/// written once the verdict is to send it. The part of the transmit update
/// that does not depend on the send time, done while the field is in
/// cache; [`transmit`] adds the time spent here. (The budget refused
/// fib_tohops 0, so it does not wrap.)
#[inline(always)]
pub fn hop_done(buf: &mut [u8], m: Meta) {
    if m.off != 0 {
        let off = m.off as usize;
        if let Some(f) = buf.get_mut(off + FIB_TOHOPS..off + FIB_TOHOPS + 2) {
            let h = u16::from_be_bytes([f[0], f[1]]).saturating_sub(1);
            f.copy_from_slice(&h.to_be_bytes());
        }
    }
}

/// Transmit: experienced_delay plus `local_ns` spent here (fib_tohops was
/// taken down by [`hop_done`]).
#[inline]
pub fn transmit(buf: &mut [u8], off: usize, local_ns: u64) {
    if let Some(f) = fields_mut::<LEN>(buf, off) {
        let (e, _) = on_transmit_values(be(f, EXPERIENCED_DELAY), be(f, FIB_TOHOPS), local_ns);
        put16(f, EXPERIENCED_DELAY, e);
    }
}

/// Sent within `local_ns` of arrival, the experienced delay rounds to
/// unchanged: [`transmit`] would write the same value.
#[inline(always)]
pub fn unchanged_after(local_ns: u64) -> bool {
    local_ns < NS_PER_TENTH_MS / 2
}

/// The end-to-end delay the contract at `off` reports (ns).
#[inline(always)]
pub fn reported_ns(buf: &[u8], off: usize) -> Option<u64> {
    rd16(buf, off + EXPERIENCED_DELAY).map(|v| v as u64 * NS_PER_TENTH_MS)
}

/// The delay a packet whose experienced delay arrived as `exp` (0.1 ms)
/// reports when [`unchanged_after`] holds.
#[inline(always)]
pub fn reported_unchanged_ns(exp: u16) -> u64 {
    exp as u64 * NS_PER_TENTH_MS
}

/// Its part of the transmit metadata: the contract's offset from the
/// network header (0: none) and its experienced delay as it arrived (0.1 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    pub off: u16,
    pub exp: u16,
}

impl Meta {
    /// `off`: bits 32..48 of [`W_OFFSETS`].
    pub const OFF_SHIFT: u32 = 32;
    /// `exp`: bits 48..64 of [`W_FLAGS`].
    pub const EXP_SHIFT: u32 = 48;

    #[inline(always)]
    pub fn pack(self, w: &mut Words) {
        w[W_OFFSETS] |= (self.off as u64) << Self::OFF_SHIFT;
        w[W_FLAGS] |= (self.exp as u64) << Self::EXP_SHIFT;
    }

    #[inline(always)]
    pub fn unpack(w: &Words) -> Meta {
        Meta { off: (w[W_OFFSETS] >> Self::OFF_SHIFT) as u16, exp: (w[W_FLAGS] >> Self::EXP_SHIFT) as u16 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::fields;
    use proptest::prelude::*;

    #[test]
    fn reference_units() {
        // min 10 ms, max 50 ms, 5 ms experienced, 20 ms to go over 3 hops:
        // lq_min = (100 - 50 - 200).max(0)/3 = 0; lq_max = (500 - 50 - 200)/3 = 83 (x0.1 ms).
        assert_eq!(budget(10, 50, 50, 20, 3), Ok(Budget { hold_ns: 0, deadline_ns: Some(83 * 100_000) }));
        // An on-time window: min 30 ms with nothing left to go on one hop -> hold 30 ms.
        assert_eq!(budget(30, 40, 0, 0, 1), Ok(Budget { hold_ns: 30_000_000, deadline_ns: Some(40_000_000) }));
        assert_eq!(budget(0, 0, 9999, 100, 2), Ok(Budget { hold_ns: 0, deadline_ns: None }), "max 0 = best effort, no early discard");
        assert_eq!(budget(0, 10, 0, 0, 0), Err(Refusal::NoHops));
        assert_eq!(budget(0, 10, 51, 5, 1), Err(Refusal::EarlyDiscard));
        assert_eq!(budget(0, 10, 50, 5, 1), Ok(Budget { hold_ns: 0, deadline_ns: Some(0) }));
        assert_eq!(budget(u16::MAX, u16::MAX, 0, 0, 1).unwrap().hold_ns, u16::MAX as u64 * 10 * 100_000);
        assert_eq!(on_transmit_values(10, 3, 260_000), (13, 2));
        assert_eq!(on_transmit_values(u16::MAX - 1, 0, 10_000_000), (u16::MAX, 0));
    }

    #[test]
    fn arrival_hop_and_transmit_at_their_offsets() {
        // At offset 2 of the buffer: min 0, max 10 ms, experienced 1.0 ms, todelay 2 ms, 3 hops.
        let mut b = [0xaa, 0xbb, 0, 2, 0, 0, 0, 10, 0, 10, 0, 2, 0, 3];
        let (bud, m) = arrive(fields::<LEN>(&b, 2).expect("whole"), 2).expect("feasible");
        assert_eq!(m, Meta { off: 2, exp: 10 });
        assert_eq!(bud, budget(0, 10, 10, 2, 3).expect("feasible"));
        hop_done(&mut b, m);
        assert_eq!(be(fields::<LEN>(&b, 2).expect("whole"), FIB_TOHOPS), 2);
        transmit(&mut b, 2, 260_000);
        assert_eq!(reported_ns(&b, 2), Some(1_300_000));
        assert!(set_fib_tohops(&mut b, 2, 9) && !set_fib_tohops(&mut b, 3, 9));
        assert!(unchanged_after(49_999) && !unchanged_after(50_000));
        let mut w = [0u64; 5];
        Meta { off: 0xabcd, exp: 0x1234 }.pack(&mut w);
        assert_eq!(Meta::unpack(&w), Meta { off: 0xabcd, exp: 0x1234 });
    }

    proptest! {
        #[test]
        fn budget_matches_formula(min in any::<u16>(), max in any::<u16>(), exp in any::<u16>(), td in any::<u16>(), hops in any::<u16>()) {
            let r = budget(min, max, exp, td, hops);
            let (mn, mx, e, t, h) = (min as i64 * 10, max as i64 * 10, exp as i64, td as i64 * 10, hops as i64);
            if hops == 0 { prop_assert_eq!(r, Err(Refusal::NoHops)); }
            else if max != 0 && e + t > mx { prop_assert_eq!(r, Err(Refusal::EarlyDiscard)); }
            else {
                let b = r.unwrap();
                prop_assert_eq!(b.hold_ns as i64, (mn - e - t).max(0) / h * 100_000);
                prop_assert_eq!(b.deadline_ns.map(|d| d as i64), (max != 0).then(|| (mx - e - t) / h * 100_000));
            }
        }

        /// The shortcut's promise: within half a unit of arrival, transmit writes nothing new.
        #[test]
        fn unchanged_after_means_transmit_writes_the_same(exp in any::<u16>(), local in 0u64..200_000) {
            let (e, _) = on_transmit_values(exp, 1, local);
            if unchanged_after(local) {
                prop_assert_eq!(e, exp);
            } else {
                prop_assert!(e > exp || exp == u16::MAX);
            }
        }
    }
}
