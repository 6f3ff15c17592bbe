//! Type 3, Ping: a request newipd answers when it is addressed to one of its
//! own New IP addresses, and a hop count every router takes one off.
//!
//! ```text
//! 0      2      4      6                 14
//! | type | code | hops | timestamp (µs)  |
//! ```
//! Arrival (forwarded): hops minus one; a packet with no hops left is
//! dropped (`newip-ping-hops-expired`). Addressed to newipd: a request
//! (code 0) is answered with code 1, addresses swapped, timestamp kept.
//! No transmit rule, no metadata, no reported delay.

use crate::bytes::{rd16, tagged, wr16, wr_bytes};
use crate::kinds::Reason;

/// The contract type.
pub const TYPE: u16 = 3;
/// Its size on the wire, type included.
pub const LEN: usize = 14;
/// Field offsets from the contract's start.
pub const CODE: usize = 2;
pub const HOPS: usize = 4;
pub const TIMESTAMP: usize = 6;

/// `code` of a request and of the answer.
pub const REQUEST: u16 = 0;
pub const REPLY: u16 = 1;

/// Write `code` of the contract at `off`; false (nothing written) when no
/// whole type-3 contract is there.
#[inline]
pub fn set_code(buf: &mut [u8], off: usize, v: u16) -> bool {
    tagged(buf, off, TYPE, LEN) && wr16(buf, off + CODE, v)
}

/// Write `hops` of the contract at `off`.
#[inline]
pub fn set_hops(buf: &mut [u8], off: usize, v: u16) -> bool {
    tagged(buf, off, TYPE, LEN) && wr16(buf, off + HOPS, v)
}

/// Write `timestamp` (µs) of the contract at `off`.
#[inline]
pub fn set_timestamp(buf: &mut [u8], off: usize, v: u64) -> bool {
    tagged(buf, off, TYPE, LEN) && wr_bytes(buf, off + TIMESTAMP, &v.to_be_bytes())
}

/// Arrival of a ping that is forwarded: one hop less, or the drop when
/// none is left.
#[inline]
pub fn arrive(buf: &mut [u8], off: usize) -> Result<(), Reason> {
    if let Some(hops) = rd16(buf, off + HOPS) {
        if hops == 0 {
            return Err(Reason::NewipPingHopsExpired);
        }
        set_hops(buf, off, hops - 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_count_down_to_a_drop() {
        let mut b = [0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9];
        assert_eq!(arrive(&mut b, 0), Ok(()));
        assert_eq!(rd16(&b, HOPS), Some(0));
        assert_eq!(arrive(&mut b, 0), Err(Reason::NewipPingHopsExpired));
        assert!(set_code(&mut b, 0, REPLY) && set_timestamp(&mut b, 0, 7));
        assert_eq!((rd16(&b, CODE), b[LEN - 1]), (Some(REPLY), 7));
        assert!(!set_code(&mut b[..LEN - 1], 0, REPLY), "not whole");
    }
}
