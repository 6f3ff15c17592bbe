//! Every way a New IP header can be inconsistent, each with its own drop
//! counter.

use crate::kinds::Reason;

/// Every way a New IP header can be inconsistent. Each reason has its own
/// drop counter, named by [`Malformed::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Malformed {
    /// The frame ends before the 3-byte header spec or the 3 fixed bytes of
    /// the shipping spec.
    Truncated = 0,
    /// `shipping_offset < 3`, offsets out of order
    /// (`shipping < contract < payload` violated), payload offset past the
    /// end of the frame, or no room for the shipping spec before the
    /// contract/payload offset.
    Offsets = 1,
    /// Source or destination address type above 4.
    AddrType = 2,
    /// An address runs past the contract offset (or the payload offset when
    /// there is no contract).
    AddrLength = 3,
    /// A flexible-length address with length 0 or above 32.
    FlexLength = 4,
    /// Address cast above 4.
    Cast = 5,
    /// A contract's type, fixed body or TLV header runs past the payload
    /// offset.
    ContractTruncated = 6,
    /// A contract type below 0x8000 other than 1, 2 or 3 (its size cannot be
    /// known, so nothing after it can be read).
    ContractUnknown = 7,
    /// A TLV value runs past the contract area, or a known TLV has the wrong
    /// length.
    TlvLength = 8,
    /// Qualitative chunk list with overlapping or unsorted chunks, or a chunk
    /// outside the payload.
    Chunks = 9,
}

impl Malformed {
    /// All reasons, in discriminant order (`ALL[m as usize] == m`), so the
    /// counters can be enumerated.
    pub const ALL: [Malformed; 10] = [
        Malformed::Truncated,
        Malformed::Offsets,
        Malformed::AddrType,
        Malformed::AddrLength,
        Malformed::FlexLength,
        Malformed::Cast,
        Malformed::ContractTruncated,
        Malformed::ContractUnknown,
        Malformed::TlvLength,
        Malformed::Chunks,
    ];

    /// Kebab-case counter name, `malformed-newip-...`.
    pub const fn name(self) -> &'static str {
        match self {
            Malformed::Truncated => "malformed-newip-truncated",
            Malformed::Offsets => "malformed-newip-offsets",
            Malformed::AddrType => "malformed-newip-addr-type",
            Malformed::AddrLength => "malformed-newip-addr-length",
            Malformed::FlexLength => "malformed-newip-flex-length",
            Malformed::Cast => "malformed-newip-cast",
            Malformed::ContractTruncated => "malformed-newip-contract-truncated",
            Malformed::ContractUnknown => "malformed-newip-contract-unknown",
            Malformed::TlvLength => "malformed-newip-tlv-length",
            Malformed::Chunks => "malformed-newip-chunks",
        }
    }
}

impl core::fmt::Display for Malformed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Summary of the contract spec, from one walk over all contracts.
///

impl From<Malformed> for Reason {
    fn from(m: Malformed) -> Reason {
        use Malformed as M;
        match m {
            M::Truncated => Reason::MalformedNewipTruncated,
            M::Offsets => Reason::MalformedNewipOffsets,
            M::AddrType => Reason::MalformedNewipAddrType,
            M::AddrLength => Reason::MalformedNewipAddrLength,
            M::FlexLength => Reason::MalformedNewipFlexLength,
            M::Cast => Reason::MalformedNewipCast,
            M::ContractTruncated => Reason::MalformedNewipContractTruncated,
            M::ContractUnknown => Reason::MalformedNewipContractUnknown,
            M::TlvLength => Reason::MalformedNewipTlvLength,
            M::Chunks => Reason::MalformedNewipChunks,
        }
    }
}
