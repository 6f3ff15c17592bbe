//! Address types, address cast and borrowed address values of the shipping
//! spec.

/// Longest flexible-length address, in bytes.
pub const FLEX_MAX_LEN: usize = 32;

/// Type of a New IP address (shipping spec bytes 0 and 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AddrType {
    /// IPv4 address, 4 bytes.
    Ipv4 = 0,
    /// IPv6 address, 16 bytes.
    Ipv6 = 1,
    /// 8-bit address, 1 byte.
    Bits8 = 2,
    /// 16-bit address, 2 bytes.
    Bits16 = 3,
    /// Flexible-length address (newipd extension): a length byte L (1..=32)
    /// then L bytes.
    Flex = 4,
}

impl AddrType {
    /// Decode the type byte; `None` for values above 4.
    #[inline]
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Ipv4),
            1 => Some(Self::Ipv6),
            2 => Some(Self::Bits8),
            3 => Some(Self::Bits16),
            4 => Some(Self::Flex),
            _ => None,
        }
    }

    /// Width of the address bytes for the fixed types; `None` for [`Flex`](Self::Flex).
    #[inline]
    pub const fn fixed_len(self) -> Option<usize> {
        match self {
            Self::Ipv4 => Some(4),
            Self::Ipv6 => Some(16),
            Self::Bits8 => Some(1),
            Self::Bits16 => Some(2),
            Self::Flex => None,
        }
    }

    /// Short lowercase name (`ipv4`, `ipv6`, `8bit`, `16bit`, `flex`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Bits8 => "8bit",
            Self::Bits16 => "16bit",
            Self::Flex => "flex",
        }
    }
}

/// Address cast (shipping spec byte 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cast {
    /// One destination.
    Unicast = 0,
    /// Coordinate-based cast.
    Coordcast = 1,
    /// Multicast.
    Multicast = 2,
    /// Broadcast.
    Broadcast = 3,
    /// Groupcast.
    Groupcast = 4,
}

impl Cast {
    /// Decode the cast byte; `None` for values above 4.
    #[inline]
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Unicast),
            1 => Some(Self::Coordcast),
            2 => Some(Self::Multicast),
            3 => Some(Self::Broadcast),
            4 => Some(Self::Groupcast),
            _ => None,
        }
    }
}

/// Where an address lies in the packet: its type, the offset of its first
/// address byte (for [`AddrType::Flex`], the byte after the length byte) and
/// its length in bytes (for Flex, L).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRef {
    /// Address type.
    pub ty: AddrType,
    /// Offset of the first address byte from the start of the New IP header.
    pub off: u16,
    /// Number of address bytes (excluding the Flex length byte).
    pub len: u8,
}

impl AddrRef {
    /// The address bytes in `buf` (empty if `buf` is not the parsed buffer
    /// and is too short).
    #[inline]
    pub fn bytes<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let s = self.off as usize;
        buf.get(s..s + self.len as usize).unwrap_or(&[])
    }

    /// Borrowed address value.
    #[inline]
    pub fn addr<'a>(&self, buf: &'a [u8]) -> Addr<'a> {
        Addr {
            ty: self.ty,
            bytes: self.bytes(buf),
        }
    }

    /// Bytes the address occupies on the wire (including the Flex length
    /// byte).
    #[inline]
    pub const fn wire_len(&self) -> usize {
        match self.ty {
            AddrType::Flex => 1 + self.len as usize,
            _ => self.len as usize,
        }
    }

    /// Offset of the first wire byte (the Flex length byte for Flex).
    #[inline]
    pub const fn wire_off(&self) -> usize {
        match self.ty {
            AddrType::Flex => (self.off as usize).saturating_sub(1),
            _ => self.off as usize,
        }
    }
}

/// A borrowed address value: its type and its bytes (for Flex, the L bytes
/// after the length byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Addr<'a> {
    /// Address type.
    pub ty: AddrType,
    /// Address bytes in network order.
    pub bytes: &'a [u8],
}

impl<'a> Addr<'a> {
    /// The IPv4 address, if this is one.
    #[inline]
    pub fn ipv4(&self) -> Option<[u8; 4]> {
        match self.ty {
            AddrType::Ipv4 => self.bytes.try_into().ok(),
            _ => None,
        }
    }
    /// The IPv6 address, if this is one.
    #[inline]
    pub fn ipv6(&self) -> Option<[u8; 16]> {
        match self.ty {
            AddrType::Ipv6 => self.bytes.try_into().ok(),
            _ => None,
        }
    }
    /// The 8-bit address, if this is one.
    #[inline]
    pub fn bits8(&self) -> Option<u8> {
        match (self.ty, self.bytes) {
            (AddrType::Bits8, [b]) => Some(*b),
            _ => None,
        }
    }
    /// The 16-bit address, if this is one.
    #[inline]
    pub fn bits16(&self) -> Option<u16> {
        match (self.ty, self.bytes) {
            (AddrType::Bits16, [a, b]) => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }
}
