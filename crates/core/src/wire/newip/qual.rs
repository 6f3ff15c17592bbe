//! Packet wash of a parsed New IP packet: the qualitative contract's wash
//! ([`crate::contract::qualitative::wash`]) at the value and payload the
//! parser found.

use super::header::NewIp;
use crate::contract::qualitative::{self, WashOutcome};

/// Wash the packet `nip` describes by at least `remove_at_least` bytes
/// (see [`qualitative::wash`]). A packet without a qualitative contract is
/// left untouched.
pub fn wash(buf: &mut [u8], nip: &NewIp, remove_at_least: usize) -> WashOutcome {
    match nip.contracts.qualitative_value() {
        Some(val) => qualitative::wash(buf, val, nip.payload_off as usize, remove_at_least),
        None => WashOutcome { reached: remove_at_least == 0, ..WashOutcome::default() },
    }
}
