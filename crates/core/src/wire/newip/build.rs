//! Packet builders for the traffic generator and tests. These allocate and
//! are not meant for the forwarding path.

use super::addr::{AddrType, Cast};
use crate::contract::on_time::OnTime;
use crate::contract::precise_lbf::PreciseLbf;
use crate::contract::qualitative::Chunk;

/// An owned address value for building.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// IPv4 (type 0).
    Ipv4([u8; 4]),
    /// IPv6 (type 1).
    Ipv6([u8; 16]),
    /// 8-bit (type 2).
    Bits8(u8),
    /// 16-bit (type 3).
    Bits16(u16),
    /// Flexible length (type 4), 1..=32 bytes.
    Flex(Vec<u8>),
}

impl Address {
    /// The address type.
    pub fn ty(&self) -> AddrType {
        match self {
            Address::Ipv4(_) => AddrType::Ipv4,
            Address::Ipv6(_) => AddrType::Ipv6,
            Address::Bits8(_) => AddrType::Bits8,
            Address::Bits16(_) => AddrType::Bits16,
            Address::Flex(_) => AddrType::Flex,
        }
    }
    /// The address bytes (for Flex, without the length byte).
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Address::Ipv4(a) => a.to_vec(),
            Address::Ipv6(a) => a.to_vec(),
            Address::Bits8(a) => vec![*a],
            Address::Bits16(a) => a.to_be_bytes().to_vec(),
            Address::Flex(a) => a.clone(),
        }
    }
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), BuildError> {
        if let Address::Flex(a) = self {
            if a.is_empty() || a.len() > super::addr::FLEX_MAX_LEN {
                return Err(BuildError::FlexLength);
            }
            out.push(a.len() as u8);
        }
        out.extend_from_slice(&self.bytes());
        Ok(())
    }
}

/// One contract to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractDesc {
    /// Type 1.
    MaxDelay {
        /// ms.
        max_allowed_delay: u16,
        /// ms.
        delay_exp: u16,
    },
    /// Type 2.
    Lbf {
        /// ms.
        min_delay: u16,
        /// ms.
        max_delay: u16,
        /// 0.1 ms.
        experienced_delay: u16,
        /// ms.
        fib_todelay: u16,
        /// hops.
        fib_tohops: u16,
    },
    /// Type 3.
    Ping {
        /// 0 request, 1 response.
        code: u16,
        /// Hops left.
        hops: u16,
        /// µs.
        timestamp: u64,
    },
    /// TLV 0x8001.
    PreciseLbf(PreciseLbf),
    /// TLV 0x8002.
    OnTime(OnTime),
    /// TLV 0x8003 with its chunk list.
    Qualitative(Vec<Chunk>),
    /// Any TLV (type must be >= 0x8000), value bytes as given.
    Tlv {
        /// Type.
        ty: u16,
        /// Value.
        value: Vec<u8>,
    },
}

impl ContractDesc {
    /// Append the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), BuildError> {
        let p16 = |o: &mut Vec<u8>, v: u16| o.extend_from_slice(&v.to_be_bytes());
        match self {
            ContractDesc::MaxDelay {
                max_allowed_delay,
                delay_exp,
            } => {
                for v in [crate::contract::max_delay::TYPE, *max_allowed_delay, *delay_exp] {
                    p16(out, v);
                }
            }
            ContractDesc::Lbf {
                min_delay,
                max_delay,
                experienced_delay,
                fib_todelay,
                fib_tohops,
            } => {
                for v in [
                    crate::contract::lbf::TYPE,
                    *min_delay,
                    *max_delay,
                    *experienced_delay,
                    *fib_todelay,
                    *fib_tohops,
                ] {
                    p16(out, v);
                }
            }
            ContractDesc::Ping {
                code,
                hops,
                timestamp,
            } => {
                for v in [crate::contract::ping::TYPE, *code, *hops] {
                    p16(out, v);
                }
                out.extend_from_slice(&timestamp.to_be_bytes());
            }
            ContractDesc::PreciseLbf(v) => {
                p16(out, crate::contract::precise_lbf::TYPE);
                p16(out, crate::contract::precise_lbf::LEN as u16);
                out.extend_from_slice(&v.to_bytes());
            }
            ContractDesc::OnTime(v) => {
                p16(out, crate::contract::on_time::TYPE);
                p16(out, crate::contract::on_time::LEN as u16);
                out.extend_from_slice(&v.to_bytes());
            }
            ContractDesc::Qualitative(chunks) => {
                if chunks.len() > 255 {
                    return Err(BuildError::TooManyChunks);
                }
                p16(out, crate::contract::qualitative::TYPE);
                p16(
                    out,
                    (crate::contract::qualitative::HDR_LEN + crate::contract::qualitative::CHUNK_ENTRY_LEN * chunks.len()) as u16,
                );
                out.extend_from_slice(&[chunks.len() as u8, 0, 0, 0]);
                for c in chunks {
                    out.extend_from_slice(&c.to_bytes());
                }
            }
            ContractDesc::Tlv { ty, value } => {
                if *ty < crate::contract::tlv::TLV_FLAG {
                    return Err(BuildError::NotTlv);
                }
                let len = u16::try_from(value.len()).map_err(|_| BuildError::TooLong)?;
                p16(out, *ty);
                p16(out, len);
                out.extend_from_slice(value);
            }
        }
        Ok(())
    }
}

/// Description of a New IP packet (header through payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketDesc {
    /// Source address.
    pub src: Address,
    /// Destination address.
    pub dst: Address,
    /// Address cast.
    pub cast: Cast,
    /// Contracts, in wire order.
    pub contracts: Vec<ContractDesc>,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl PacketDesc {
    /// Unicast packet without contracts.
    pub fn new(src: Address, dst: Address) -> Self {
        PacketDesc {
            src,
            dst,
            cast: Cast::Unicast,
            contracts: Vec::new(),
            payload: Vec::new(),
        }
    }
    /// Add a contract (builder style).
    pub fn contract(mut self, c: ContractDesc) -> Self {
        self.contracts.push(c);
        self
    }
    /// Set the payload (builder style).
    pub fn payload(mut self, p: impl Into<Vec<u8>>) -> Self {
        self.payload = p.into();
        self
    }
    /// Set the cast (builder style).
    pub fn cast(mut self, c: Cast) -> Self {
        self.cast = c;
        self
    }
    /// Build the bytes; see [`build`].
    pub fn build(&self) -> Result<Vec<u8>, BuildError> {
        build(self)
    }
}

/// Why a description cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildError {
    /// Header, shipping spec and contracts exceed 255 bytes (the payload
    /// offset is one byte).
    HeaderTooLong,
    /// Flexible address of length 0 or above 32.
    FlexLength,
    /// More than 255 qualitative chunks.
    TooManyChunks,
    /// A raw TLV with a type below 0x8000.
    NotTlv,
    /// A TLV value longer than 65535 bytes.
    TooLong,
}

/// Build header spec + shipping spec + contracts + payload, with
/// `shipping_offset` 3, `contract_offset` 0 when there are no contracts.
pub fn build(d: &PacketDesc) -> Result<Vec<u8>, BuildError> {
    let mut out = vec![3u8, 0, 0, d.src.ty() as u8, d.dst.ty() as u8, d.cast as u8];
    d.src.encode(&mut out)?;
    d.dst.encode(&mut out)?;
    let co = out.len();
    for c in &d.contracts {
        c.encode(&mut out)?;
    }
    let po = u8::try_from(out.len()).map_err(|_| BuildError::HeaderTooLong)?;
    out[1] = if d.contracts.is_empty() { 0 } else { co as u8 };
    out[2] = po;
    out.extend_from_slice(&d.payload);
    Ok(out)
}

/// A 14-byte Ethernet header, or 18 bytes with an 802.1Q tag (`vlan` = TCI).
pub fn ethernet_header(dst: [u8; 6], src: [u8; 6], ethertype: u16, vlan: Option<u16>) -> Vec<u8> {
    let mut h = Vec::with_capacity(18);
    h.extend_from_slice(&dst);
    h.extend_from_slice(&src);
    if let Some(tci) = vlan {
        h.extend_from_slice(&crate::wire::ether::ETHERTYPE_VLAN.to_be_bytes());
        h.extend_from_slice(&tci.to_be_bytes());
    }
    h.extend_from_slice(&ethertype.to_be_bytes());
    h
}

/// A whole Ethernet frame carrying `l3` (e.g. the output of [`build`]).
pub fn ethernet_frame(
    dst: [u8; 6],
    src: [u8; 6],
    ethertype: u16,
    vlan: Option<u16>,
    l3: &[u8],
) -> Vec<u8> {
    let mut f = ethernet_header(dst, src, ethertype, vlan);
    f.extend_from_slice(l3);
    f
}

/// Description of an IPv6/UDP packet carrying the Hop-by-Hop option 0x3E.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6HbhDesc {
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits used).
    pub flow_label: u32,
    /// Hop limit.
    pub hop_limit: u8,
    /// The option value.
    pub plbf: PreciseLbf,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
    /// UDP payload.
    pub payload: Vec<u8>,
}

/// Offset of the option 0x3E value in packets from [`build_ipv6_hbh`]
/// (40 IPv6 + 2 HBH header + 2 option type/length).
pub const IPV6_HBH_PLBF_VALUE_OFF: usize = 44;

/// Build IPv6 header + Hop-by-Hop header (option 0x3E first, then a PadN to
/// 24 bytes) + UDP (checksum computed). Fails with `TooLong` if the UDP
/// datagram would exceed 65535 bytes.
pub fn build_ipv6_hbh(d: &Ipv6HbhDesc) -> Result<Vec<u8>, BuildError> {
    let udp_len = u16::try_from(8 + d.payload.len()).map_err(|_| BuildError::TooLong)?;
    let hbh_len = 24usize;
    let plen = u16::try_from(hbh_len + udp_len as usize).map_err(|_| BuildError::TooLong)?;
    let mut p = Vec::with_capacity(40 + plen as usize);
    let vtf: u32 = (6u32 << 28) | ((d.traffic_class as u32) << 20) | (d.flow_label & 0xF_FFFF);
    p.extend_from_slice(&vtf.to_be_bytes());
    p.extend_from_slice(&plen.to_be_bytes());
    p.push(crate::contract::ipv6_option::NH_HOP_BY_HOP);
    p.push(d.hop_limit);
    p.extend_from_slice(&d.src);
    p.extend_from_slice(&d.dst);
    // Hop-by-Hop: next header UDP, length 2 (= 24 bytes).
    p.extend_from_slice(&[17, (hbh_len / 8 - 1) as u8, crate::contract::ipv6_option::OPT_PLBF, 16]);
    p.extend_from_slice(&d.plbf.to_bytes());
    p.extend_from_slice(&[crate::contract::ipv6_option::OPT_PADN, 2, 0, 0]);
    // UDP.
    let u0 = p.len();
    p.extend_from_slice(&d.sport.to_be_bytes());
    p.extend_from_slice(&d.dport.to_be_bytes());
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&d.payload);
    let ck = udp6_checksum(&d.src, &d.dst, &p[u0..]);
    p[u0 + 6..u0 + 8].copy_from_slice(&ck.to_be_bytes());
    Ok(p)
}

/// UDP-over-IPv6 checksum of `udp` (its checksum field must be zero); 0 is
/// sent as 0xFFFF.
pub fn udp6_checksum(src: &[u8; 16], dst: &[u8; 16], udp: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = match c {
                [a, b] => u16::from_be_bytes([*a, *b]),
                [a] => u16::from_be_bytes([*a, 0]),
                _ => 0,
            };
            sum += w as u64;
        }
    };
    add(src);
    add(dst);
    add(&(udp.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 17]);
    add(udp);
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    let ck = !(sum as u16);
    if ck == 0 {
        0xFFFF
    } else {
        ck
    }
}

/// Parse the address syntax shared by the traffic generator's mix files and
/// pipeline files:
///
/// | syntax | type |
/// |---|---|
/// | `10.0.0.1` | 0, IPv4 |
/// | `2001:db8::1` | 1, IPv6 |
/// | `8bit:5`, `8bit:0x05` | 2, 8-bit |
/// | `16bit:4660`, `16bit:0x1234` | 3, 16-bit |
/// | `flex:0a0201` | 4, flexible length, 1..=32 bytes in hex |
///
/// [`Display`](std::fmt::Display) writes the same syntax (decimal for the
/// 8/16-bit types, lowercase hex for flex), so `to_string` round-trips.
impl std::str::FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("empty address".into());
        }
        if let Some(v) = strip_prefix_ci(t, "8bit:") {
            let n = parse_uint(v).map_err(|e| format!("'{s}': 8-bit address {e}"))?;
            let b = u8::try_from(n)
                .map_err(|_| format!("'{s}': 8-bit address {n} is above 255"))?;
            return Ok(Address::Bits8(b));
        }
        if let Some(v) = strip_prefix_ci(t, "16bit:") {
            let n = parse_uint(v).map_err(|e| format!("'{s}': 16-bit address {e}"))?;
            let b = u16::try_from(n)
                .map_err(|_| format!("'{s}': 16-bit address {n} is above 65535"))?;
            return Ok(Address::Bits16(b));
        }
        if let Some(v) = strip_prefix_ci(t, "flex:") {
            let bytes = parse_hex(v).map_err(|e| format!("'{s}': flex address {e}"))?;
            if bytes.is_empty() || bytes.len() > super::addr::FLEX_MAX_LEN {
                return Err(format!(
                    "'{s}': flex address must have 1 to {} bytes, not {}",
                    super::addr::FLEX_MAX_LEN,
                    bytes.len()
                ));
            }
            return Ok(Address::Flex(bytes));
        }
        if t.contains(':') {
            return t
                .parse::<std::net::Ipv6Addr>()
                .map(|a| Address::Ipv6(a.octets()))
                .map_err(|_| format!("'{s}' is not an IPv6 address"));
        }
        if t.contains('.') {
            return t
                .parse::<std::net::Ipv4Addr>()
                .map(|a| Address::Ipv4(a.octets()))
                .map_err(|_| format!("'{s}' is not an IPv4 address"));
        }
        Err(format!(
            "'{s}' is not an address: use 10.0.0.1, 2001:db8::1, 8bit:5, 16bit:0x1234 or flex:0a0201"
        ))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Ipv4(a) => write!(f, "{}", std::net::Ipv4Addr::from(*a)),
            Address::Ipv6(a) => write!(f, "{}", std::net::Ipv6Addr::from(*a)),
            Address::Bits8(a) => write!(f, "8bit:{a}"),
            Address::Bits16(a) => write!(f, "16bit:{a}"),
            Address::Flex(a) => {
                f.write_str("flex:")?;
                for b in a {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl Address {
    /// This address plus `n`, wrapping within the width of its type (32 bits
    /// for IPv4, 128 for IPv6, 8, 16, or 8 × L bits for a flex address of L
    /// bytes, big-endian). The type and (for flex) the length never change.
    pub fn wrapping_add(&self, n: u64) -> Address {
        match self {
            Address::Ipv4(a) => {
                Address::Ipv4(u32::from_be_bytes(*a).wrapping_add(n as u32).to_be_bytes())
            }
            Address::Ipv6(a) => {
                Address::Ipv6(u128::from_be_bytes(*a).wrapping_add(n as u128).to_be_bytes())
            }
            Address::Bits8(a) => Address::Bits8(a.wrapping_add(n as u8)),
            Address::Bits16(a) => Address::Bits16(a.wrapping_add(n as u16)),
            Address::Flex(a) => {
                let mut out = a.clone();
                let mut carry = n as u128;
                for b in out.iter_mut().rev() {
                    if carry == 0 {
                        break;
                    }
                    let s = *b as u128 + (carry & 0xFF);
                    *b = s as u8;
                    carry = (carry >> 8) + (s >> 8);
                }
                Address::Flex(out)
            }
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// Decimal or `0x` hexadecimal unsigned number.
fn parse_uint(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let r = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse::<u64>(),
    };
    r.map_err(|_| format!("'{v}' is not a number (decimal or 0x hex)"))
}

/// Hex digits (an even number of them, optionally `0x`-prefixed) to bytes.
fn parse_hex(v: &str) -> Result<Vec<u8>, String> {
    let v = v.trim();
    let h = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")).unwrap_or(v);
    if !h.len().is_multiple_of(2) {
        return Err(format!("'{v}' has an odd number of hex digits"));
    }
    (0..h.len())
        .step_by(2)
        .map(|i| {
            h.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("'{v}' is not hex"))
        })
        .collect()
}

#[cfg(test)]
mod address_text_tests {
    use super::Address;

    #[test]
    fn parses_every_type() {
        assert_eq!("10.0.0.1".parse::<Address>(), Ok(Address::Ipv4([10, 0, 0, 1])));
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6[15] = 1;
        assert_eq!("2001:db8::1".parse::<Address>(), Ok(Address::Ipv6(v6)));
        assert_eq!("8bit:5".parse::<Address>(), Ok(Address::Bits8(5)));
        assert_eq!("8bit:0x05".parse::<Address>(), Ok(Address::Bits8(5)));
        assert_eq!("8bit:255".parse::<Address>(), Ok(Address::Bits8(255)));
        assert_eq!("16bit:4660".parse::<Address>(), Ok(Address::Bits16(0x1234)));
        assert_eq!("16bit:0x1234".parse::<Address>(), Ok(Address::Bits16(0x1234)));
        assert_eq!("flex:0a0201".parse::<Address>(), Ok(Address::Flex(vec![0x0a, 2, 1])));
        assert_eq!("flex:AB".parse::<Address>(), Ok(Address::Flex(vec![0xab])));
        assert_eq!(" 10.0.0.1 ".parse::<Address>(), Ok(Address::Ipv4([10, 0, 0, 1])));
        let long = format!("flex:{}", "ff".repeat(32));
        assert_eq!(long.parse::<Address>(), Ok(Address::Flex(vec![0xff; 32])));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |s: &str| s.parse::<Address>().unwrap_err();
        assert!(e("8bit:256").contains("above 255"), "{}", e("8bit:256"));
        assert!(e("8bit:x").contains("not a number"));
        assert!(e("16bit:65536").contains("above 65535"));
        assert!(e("16bit:0x1g").contains("not a number"));
        assert!(e("flex:").contains("1 to 32 bytes"));
        assert!(e(&format!("flex:{}", "00".repeat(33))).contains("not 33"));
        assert!(e("flex:abc").contains("odd number"));
        assert!(e("flex:zz").contains("not hex"));
        assert!(e("10.0.0.256").contains("not an IPv4 address"));
        assert!(e("2001:db8::g").contains("not an IPv6 address"));
        assert!(e("router1").contains("not an address"));
        assert!(e("").contains("empty"));
    }

    #[test]
    fn display_round_trips() {
        for s in ["10.0.0.1", "2001:db8::1", "8bit:5", "16bit:4660", "flex:0a0201", "::"] {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
            assert_eq!(a.to_string().parse::<Address>(), Ok(a));
        }
        assert_eq!("8bit:0x05".parse::<Address>().unwrap().to_string(), "8bit:5");
        assert_eq!("16bit:0x1234".parse::<Address>().unwrap().to_string(), "16bit:4660");
    }

    #[test]
    fn wrapping_add_stays_in_width() {
        let a = |s: &str| s.parse::<Address>().unwrap();
        assert_eq!(a("10.0.0.255").wrapping_add(1), a("10.0.1.0"));
        assert_eq!(a("255.255.255.255").wrapping_add(2), a("0.0.0.1"));
        assert_eq!(a("2001:db8::ffff").wrapping_add(1), a("2001:db8::1:0"));
        assert_eq!(a("8bit:255").wrapping_add(1), a("8bit:0"));
        assert_eq!(a("8bit:5").wrapping_add(256 + 3), a("8bit:8"));
        assert_eq!(a("16bit:0xffff").wrapping_add(2), a("16bit:1"));
        assert_eq!(a("flex:0a02ff").wrapping_add(1), a("flex:0a0300"));
        assert_eq!(a("flex:ffff").wrapping_add(1), a("flex:0000"));
        assert_eq!(a("flex:01").wrapping_add(0x1ff), a("flex:00"));
    }
}
