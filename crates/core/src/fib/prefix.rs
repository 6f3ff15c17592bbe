//! Route prefixes of every address type: parsing, masking, display.

use super::flex;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A route prefix of any New IP address type: IPv4 and IPv6 prefixes (shared
/// by legacy and New IP traffic), 8- and 16-bit addresses (exact), and
/// flexible-length addresses with a bit-prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    V4 { addr: u32, len: u8 },
    V6 { addr: u128, len: u8 },
    Bits8(u8),
    Bits16(u16),
    /// The first `bits` bits of `bytes` (the rest are zero).
    Flex { bytes: [u8; 32], bits: u16 },
}

/// Why a prefix string is not a prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("'{0}' is not ADDRESS/LENGTH (e.g. 10.0.0.0/8 or 2001:db8::/32)")]
    Syntax(String),
    #[error("'{0}' is neither an IPv4 nor an IPv6 address")]
    Address(String),
    #[error("prefix length {len} is longer than {max} bits")]
    Length { len: u32, max: u32 },
    #[error("'{given}' has host bits set after /{len}; did you mean {fixed}?")]
    HostBits { given: String, len: u16, fixed: String },
    #[error("'{0}': {1}")]
    NewIp(String, String),
}

fn parse_uint(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parse hex like `0a0201` into bytes.
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

impl Prefix {
    /// Parse `10.0.0.0/8`, `2001:db8::/32`, `8bit:5`, `16bit:0x1234` or
    /// `flex:0a02/12` (hex bytes, then an optional bit length; default all of them).
    /// A bare IP address is a host route.
    pub fn parse(s: &str) -> Result<Prefix, PrefixError> {
        let bad = |m: &str| PrefixError::NewIp(s.to_string(), m.to_string());
        if let Some(v) = s.strip_prefix("8bit:") {
            return match parse_uint(v.trim()) {
                Some(n) if n <= 0xff => Ok(Prefix::Bits8(n as u8)),
                _ => Err(bad("an 8-bit address is 0..=255 (decimal or 0x hex)")),
            };
        }
        if let Some(v) = s.strip_prefix("16bit:") {
            return match parse_uint(v.trim()) {
                Some(n) if n <= 0xffff => Ok(Prefix::Bits16(n as u16)),
                _ => Err(bad("a 16-bit address is 0..=65535 (decimal or 0x hex)")),
            };
        }
        if let Some(v) = s.strip_prefix("flex:") {
            let (hex, bits) = match v.trim().split_once('/') {
                Some((h, b)) => (h, Some(b)),
                None => (v.trim(), None),
            };
            let bytes = parse_hex(hex).ok_or_else(|| bad("a flexible address is 1 to 32 bytes of hex, e.g. flex:0a0201"))?;
            if bytes.is_empty() || bytes.len() > 32 {
                return Err(bad("a flexible address is 1 to 32 bytes of hex, e.g. flex:0a0201"));
            }
            let max = bytes.len() as u32 * 8;
            let bits = match bits {
                None => max,
                Some(b) => match b.parse::<u32>() {
                    Ok(n) if n <= max => n,
                    Ok(n) => return Err(PrefixError::Length { len: n, max }),
                    Err(_) => return Err(bad("the bit length after '/' must be a number")),
                },
            };
            let mut arr = [0u8; 32];
            arr[..bytes.len()].copy_from_slice(&bytes);
            let p = Prefix::Flex { bytes: arr, bits: bits as u16 };
            if p.masked() != p {
                return Err(PrefixError::HostBits { given: s.into(), len: bits as u16, fixed: p.masked().to_string() });
            }
            return Ok(p);
        }
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a.trim(), Some(l.trim())),
            None => (s.trim(), None),
        };
        let len = |max: u32| -> Result<u8, PrefixError> {
            match l {
                None => Ok(max as u8),
                Some(l) => {
                    let n: u32 = l.parse().map_err(|_| PrefixError::Syntax(s.into()))?;
                    if n > max {
                        Err(PrefixError::Length { len: n, max })
                    } else {
                        Ok(n as u8)
                    }
                }
            }
        };
        let p = if let Ok(v4) = a.parse::<Ipv4Addr>() {
            Prefix::V4 { addr: u32::from(v4), len: len(32)? }
        } else if let Ok(v6) = a.parse::<Ipv6Addr>() {
            Prefix::V6 { addr: u128::from(v6), len: len(128)? }
        } else if a.is_empty() {
            return Err(PrefixError::Syntax(s.into()));
        } else {
            return Err(PrefixError::Address(a.into()));
        };
        let masked = p.masked();
        if masked != p {
            return Err(PrefixError::HostBits { given: s.into(), len: p.len(), fixed: masked.to_string() });
        }
        Ok(p)
    }

    /// Prefix length in bits.
    pub fn len(&self) -> u16 {
        match *self {
            Prefix::V4 { len, .. } | Prefix::V6 { len, .. } => len as u16,
            Prefix::Bits8(_) => 8,
            Prefix::Bits16(_) => 16,
            Prefix::Flex { bits, .. } => bits,
        }
    }

    /// True for a zero-length prefix (a default route).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The prefix with its host bits cleared.
    pub fn masked(&self) -> Prefix {
        match *self {
            Prefix::V4 { addr, len } => Prefix::V4 { addr: addr & mask32(len), len },
            Prefix::V6 { addr, len } => Prefix::V6 { addr: addr & mask128(len), len },
            Prefix::Flex { bytes, bits } => Prefix::Flex { bytes: flex::mask(&bytes, bits), bits },
            p => p,
        }
    }

    /// Does this IPv4 or IPv6 prefix contain `other` (same family, no
    /// longer, same leading bits)? False across families and for New IP
    /// address types.
    pub fn contains(&self, other: &Prefix) -> bool {
        match (*self, *other) {
            (Prefix::V4 { addr, len }, Prefix::V4 { addr: o, len: ol }) => len <= ol && o & mask32(len) == addr,
            (Prefix::V6 { addr, len }, Prefix::V6 { addr: o, len: ol }) => len <= ol && o & mask128(len) == addr,
            _ => false,
        }
    }

    /// Is this a single address (every bit given)?
    pub fn is_host(&self) -> bool {
        match *self {
            Prefix::V4 { len, .. } => len == 32,
            Prefix::V6 { len, .. } => len == 128,
            Prefix::Bits8(_) | Prefix::Bits16(_) => true,
            Prefix::Flex { bits, .. } => bits % 8 == 0,
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Prefix::V4 { addr, len } => write!(f, "{}/{}", Ipv4Addr::from(addr), len),
            Prefix::V6 { addr, len } => write!(f, "{}/{}", Ipv6Addr::from(addr), len),
            Prefix::Bits8(a) => write!(f, "8bit:{a}"),
            Prefix::Bits16(a) => write!(f, "16bit:0x{a:04x}"),
            Prefix::Flex { bytes, bits } => {
                let n = (bits as usize).div_ceil(8).max(1);
                write!(f, "flex:")?;
                for b in &bytes[..n] {
                    write!(f, "{b:02x}")?;
                }
                write!(f, "/{bits}")
            }
        }
    }
}

/// Network mask of `len` bits.
pub fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

/// Network mask of `len` bits.
pub fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment_is_by_family_length_and_leading_bits() {
        let p = |s: &str| Prefix::parse(s).unwrap();
        assert!(p("10.0.0.0/8").contains(&p("10.9.0.0/16")));
        assert!(p("10.0.0.0/8").contains(&p("10.0.0.0/8")));
        assert!(!p("10.9.0.0/16").contains(&p("10.0.0.0/8")));
        assert!(!p("10.0.0.0/8").contains(&p("11.0.0.0/16")));
        assert!(p("0.0.0.0/0").contains(&p("192.0.2.1/32")));
        assert!(!p("0.0.0.0/0").contains(&p("::/0")), "across families");
        assert!(p("2001:db8::/32").contains(&p("2001:db8:5::/48")));
        assert!(!p("2001:db8::/32").contains(&p("2001:db9::/48")));
    }

    #[test]
    fn prefixes_parse_and_explain_errors() {
        assert_eq!(Prefix::parse("10.0.0.0/8"), Ok(Prefix::V4 { addr: 0x0a00_0000, len: 8 }));
        assert_eq!(Prefix::parse("10.1.2.3"), Ok(Prefix::V4 { addr: 0x0a01_0203, len: 32 }));
        assert_eq!(Prefix::parse("0.0.0.0/0"), Ok(Prefix::V4 { addr: 0, len: 0 }));
        assert_eq!(Prefix::parse("2001:db8::/32").unwrap().to_string(), "2001:db8::/32");
        assert_eq!(Prefix::parse("10.0.0.0/33"), Err(PrefixError::Length { len: 33, max: 32 }));
        assert!(matches!(Prefix::parse("10.0.0.1/8"), Err(PrefixError::HostBits { .. })));
        let e = Prefix::parse("10.0.0.1/8").unwrap_err().to_string();
        assert!(e.contains("10.0.0.0/8"), "{e}");
        assert!(matches!(Prefix::parse("10.0.0/8"), Err(PrefixError::Address(_))));
        assert!(matches!(Prefix::parse("10.0.0.0/x"), Err(PrefixError::Syntax(_))));
        assert!(matches!(Prefix::parse("2001:db8::/129"), Err(PrefixError::Length { .. })));
    }

    #[test]
    fn newip_prefixes() {
        assert_eq!(Prefix::parse("8bit:5"), Ok(Prefix::Bits8(5)));
        assert_eq!(Prefix::parse("8bit:0xff"), Ok(Prefix::Bits8(255)));
        assert_eq!(Prefix::parse("16bit:0x1234"), Ok(Prefix::Bits16(0x1234)));
        assert!(Prefix::parse("8bit:256").is_err());
        assert!(Prefix::parse("16bit:x").is_err());
        let p = Prefix::parse("flex:0a20/12").unwrap();
        assert_eq!(p.len(), 12);
        assert_eq!(p.to_string(), "flex:0a20/12");
        assert!(matches!(Prefix::parse("flex:0a02/12"), Err(PrefixError::HostBits { .. })));
        assert!(matches!(Prefix::parse("flex:0a0f/12"), Err(PrefixError::HostBits { .. })), "0x0a0f has bits after 12");
        assert_eq!(Prefix::parse("flex:0a0201").unwrap().len(), 24);
        assert!(Prefix::parse("flex:").is_err());
        assert!(Prefix::parse("flex:0a0").is_err());
        assert!(matches!(Prefix::parse("flex:0a/9"), Err(PrefixError::Length { .. })));
    }
}
