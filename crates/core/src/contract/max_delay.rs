//! Type 1, Max Delay Forwarding: a deadline for the whole path in ms, and
//! the delay experienced so far in ms.
//!
//! ```text
//! 0      2                  4           6
//! | type | max_allowed_delay | delay_exp |
//! ```
//! Arrival: the whole remaining budget is this hop's deadline; a packet that
//! arrives already past it is dropped (`newip-max-delay-exceeded`).
//! Transmit: delay_exp plus the time spent here (to the nearest ms), or a
//! drop if that passes max_allowed_delay (unless late_ok). Reported delay:
//! delay_exp, in ms.

use super::budget::{Budget, Refusal, NS_PER_MS};
use super::words::{Words, W_OFFSETS};
use crate::bytes::{be, rd16, tagged, wr16};
use crate::kinds::Reason;

/// The contract type.
pub const TYPE: u16 = 1;
/// Its size on the wire, type included.
pub const LEN: usize = 6;
/// Field offsets from the contract's start.
pub const MAX_ALLOWED_DELAY: usize = 2;
pub const DELAY_EXP: usize = 4;

/// `max_allowed_delay` (ms) of a whole contract.
#[inline(always)]
pub fn max_allowed_delay(f: &[u8; LEN]) -> u16 {
    be(f, MAX_ALLOWED_DELAY)
}

/// `delay_exp` (ms) of a whole contract.
#[inline(always)]
pub fn delay_exp(f: &[u8; LEN]) -> u16 {
    be(f, DELAY_EXP)
}

/// Write `delay_exp` (ms) of the contract at `off`; false (nothing written)
/// when no whole type-1 contract is there.
#[inline]
pub fn set_delay_exp(buf: &mut [u8], off: usize, v: u16) -> bool {
    tagged(buf, off, TYPE, LEN) && wr16(buf, off + DELAY_EXP, v)
}

/// The budget on arrival: the whole remaining budget is this hop's.
#[inline(always)]
pub fn budget(max_allowed_ms: u16, delay_exp_ms: u16) -> Result<Budget, Refusal> {
    if delay_exp_ms > max_allowed_ms {
        return Err(Refusal::MaxDelayExceeded);
    }
    Ok(Budget { hold_ns: 0, deadline_ns: Some((max_allowed_ms - delay_exp_ms) as u64 * NS_PER_MS) })
}

/// The new delay_exp after `local_ns` here, or a refusal if it passes
/// max_allowed_delay. Local delay is rounded to the nearest ms.
#[inline]
pub fn delay_exp_on_transmit(max_allowed_ms: u16, delay_exp_ms: u16, local_ns: u64) -> Result<u16, Refusal> {
    let local_ms = (local_ns + NS_PER_MS / 2) / NS_PER_MS;
    let total = delay_exp_ms as u64 + local_ms;
    if total > max_allowed_ms as u64 {
        return Err(Refusal::MaxDelayExceeded);
    }
    Ok(total as u16)
}

/// Arrival of the whole contract `f` (validated by the parser): its budget.
#[inline(always)]
pub fn arrive(f: &[u8; LEN]) -> Result<Budget, Reason> {
    budget(max_allowed_delay(f), delay_exp(f)).map_err(Refusal::reason)
}

/// Transmit, the check: the delay_exp to write after `local_ns` here (None:
/// nothing to write), or the drop when the deadline passed and the packet
/// may not be late.
#[inline]
pub fn transmit_check(buf: &[u8], off: usize, local_ns: u64, late_ok: bool) -> Result<Option<u16>, Reason> {
    let (Some(max), Some(exp)) = (rd16(buf, off + MAX_ALLOWED_DELAY), rd16(buf, off + DELAY_EXP)) else { return Ok(None) };
    match delay_exp_on_transmit(max, exp, local_ns) {
        Ok(v) => Ok(Some(v)),
        Err(_) if late_ok => Ok(None),
        Err(_) => Err(Reason::NewipMaxDelayExceeded),
    }
}

/// The end-to-end delay the contract at `off` reports (ns).
#[inline(always)]
pub fn reported_ns(buf: &[u8], off: usize) -> Option<u64> {
    rd16(buf, off + DELAY_EXP).map(|v| v as u64 * NS_PER_MS)
}

/// Its part of the transmit metadata: the contract's offset from the
/// network header (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    pub off: u16,
}

impl Meta {
    /// Bits 16..32 of [`W_OFFSETS`].
    pub const SHIFT: u32 = 16;

    #[inline(always)]
    pub fn pack(self, w: &mut Words) {
        w[W_OFFSETS] |= (self.off as u64) << Self::SHIFT;
    }

    #[inline(always)]
    pub fn unpack(w: &Words) -> Meta {
        Meta { off: (w[W_OFFSETS] >> Self::SHIFT) as u16 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::fields;

    #[test]
    fn budget_and_transmit() {
        assert_eq!(budget(10, 4), Ok(Budget { hold_ns: 0, deadline_ns: Some(6_000_000) }));
        assert_eq!(budget(10, 10), Ok(Budget { hold_ns: 0, deadline_ns: Some(0) }));
        assert_eq!(budget(10, 11), Err(Refusal::MaxDelayExceeded));
        assert_eq!(delay_exp_on_transmit(10, 4, 1_400_000), Ok(5));
        assert_eq!(delay_exp_on_transmit(10, 4, 1_600_000), Ok(6));
        assert_eq!(delay_exp_on_transmit(10, 10, 400_000), Ok(10));
        assert_eq!(delay_exp_on_transmit(10, 10, 600_000), Err(Refusal::MaxDelayExceeded));
        assert_eq!(delay_exp_on_transmit(u16::MAX, u16::MAX, u64::MAX / 2), Err(Refusal::MaxDelayExceeded));
    }

    #[test]
    fn fields_at_their_offsets() {
        let mut b = [0, 1, 0, 10, 0, 4, 0xee];
        let f = fields::<LEN>(&b, 0).expect("whole");
        assert_eq!((max_allowed_delay(f), delay_exp(f)), (10, 4));
        assert_eq!(arrive(f), Ok(Budget { hold_ns: 0, deadline_ns: Some(6_000_000) }));
        assert!(set_delay_exp(&mut b, 0, 7));
        assert_eq!(reported_ns(&b, 0), Some(7_000_000));
        assert!(!set_delay_exp(&mut b, 1, 7), "no type-1 contract at 1");
        assert_eq!(transmit_check(&b, 0, 3_600_000, false), Err(Reason::NewipMaxDelayExceeded));
        assert_eq!(transmit_check(&b, 0, 2_600_000, false), Ok(Some(10)));
        assert_eq!(transmit_check(&b, 0, 3_600_000, true), Ok(None));
        let mut w = [0u64; 5];
        Meta { off: 0x1234 }.pack(&mut w);
        assert_eq!(Meta::unpack(&w), Meta { off: 0x1234 });
    }
}
