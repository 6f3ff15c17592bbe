//! Route tables: destination address -> next hop (egress port and MACs).
//!
//! * [`lpm4`]: IPv4 longest prefix match, DIR-24-8 (one or two memory reads).
//! * [`lpm6`]: IPv6 longest prefix match, one hash table per prefix length in use.

pub mod lpm4;
pub mod lpm6;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Index into the next-hop table.
pub type NhIndex = u32;

/// Where a route sends a packet: the egress port and the 12 bytes of
/// Ethernet addresses to write (next hop's MAC, then the port's own MAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// Index of the egress port in the pipeline's port list.
    pub port: u16,
    pub macs: [u8; 12],
}

impl NextHop {
    pub fn new(port: u16, next_hop_mac: [u8; 6], port_mac: [u8; 6]) -> NextHop {
        let mut macs = [0u8; 12];
        macs[..6].copy_from_slice(&next_hop_mac);
        macs[6..].copy_from_slice(&port_mac);
        NextHop { port, macs }
    }
}

/// An IPv4 or IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    V4 { addr: u32, len: u8 },
    V6 { addr: u128, len: u8 },
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
    HostBits { given: String, len: u8, fixed: String },
}

impl Prefix {
    /// Parse `10.0.0.0/8` or `2001:db8::/32`. A bare address is a host route.
    pub fn parse(s: &str) -> Result<Prefix, PrefixError> {
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

    pub fn len(&self) -> u8 {
        match *self {
            Prefix::V4 { len, .. } | Prefix::V6 { len, .. } => len,
        }
    }

    /// The prefix with its host bits cleared.
    pub fn masked(&self) -> Prefix {
        match *self {
            Prefix::V4 { addr, len } => Prefix::V4 { addr: addr & mask32(len), len },
            Prefix::V6 { addr, len } => Prefix::V6 { addr: addr & mask128(len), len },
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Prefix::V4 { addr, len } => write!(f, "{}/{}", Ipv4Addr::from(addr), len),
            Prefix::V6 { addr, len } => write!(f, "{}/{}", Ipv6Addr::from(addr), len),
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
}
