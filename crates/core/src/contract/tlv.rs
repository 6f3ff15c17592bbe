//! What all TLV contracts (types 0x8000 and up) share: a type and a length
//! before the value. A TLV contract is addressed by the offset of its value.

/// Contract types at or above this value are TLVs (type, length, value).
pub const TLV_FLAG: u16 = 0x8000;
/// Size of a TLV contract's type + length fields; the value starts this many
/// bytes after the contract's offset.
pub const HDR_LEN: usize = 4;
