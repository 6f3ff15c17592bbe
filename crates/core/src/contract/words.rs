//! Where a packet's transmit metadata ([`TxMeta`](crate::path::meta::TxMeta))
//! sits in its mbuf's private area: five 64-bit words. Three hold times, two
//! are shared bit fields; each contract module says which bits of them are
//! its own ([`max_delay::Meta`](super::max_delay::Meta) and the others),
//! next to its other rules.

/// Words of metadata.
pub const WORDS: usize = 5;

/// Arrival time (ns).
pub const W_RX: usize = 0;
/// Latest useful send time (ns).
pub const W_DEADLINE: usize = 1;
/// Earliest send time (ns).
pub const W_ELIGIBLE: usize = 2;
/// Offsets, 16 bits each: the network header at bit 0, then the contracts'.
pub const W_OFFSETS: usize = 3;
/// Flags and small fields: the class and late_ok here, the rest the contracts'.
pub const W_FLAGS: usize = 4;

/// In [`W_OFFSETS`]: the network header's offset in the frame (bits 0..16).
pub const L3_SHIFT: u32 = 0;
/// In [`W_FLAGS`]: deliver late rather than drop (bit 16).
pub const LATE_OK_SHIFT: u32 = 16;
/// In [`W_FLAGS`]: the traffic class (bits 24..32).
pub const CLASS_SHIFT: u32 = 24;

/// The metadata as plain words.
pub type Words = [u64; WORDS];
