//! Flow sets: flows of one kind that differ only in their destination (and
//! UDP source port), and how one of their frames is built.

use super::contracts::check_forwardable;
use super::payload::payload;
use newipd_core::wire::build::{self as lb, Udp4, Udp6};
use newipd_core::wire::newip::build::{self as nb, Address, ContractDesc, Ipv6HbhDesc, PacketDesc};
use newipd_core::wire::newip::{self as nip, Cast, Chunk, PreciseLbf};

/// Source MAC of every generated frame.
pub const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// Source address of generated IPv4 and New IP traffic (IPv4 type).
pub const SRC4: Address = Address::Ipv4([192, 168, 0, 1]);
/// Source address of generated IPv6 traffic (`2001:db8::1`).
pub const SRC6: Address = Address::Ipv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
/// Smallest and largest frame size (bytes without FCS) a flow may ask for.
pub const SIZE_RANGE: (usize, usize) = (60, 9000);

/// What a flow sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// UDP over IPv4.
    Ipv4,
    /// UDP over IPv6.
    Ipv6,
    /// New IP (EtherType 0x88B6), any address types, any contracts.
    Newip,
    /// UDP over IPv6 with the Hop-by-Hop option 0x3E (precise LBF).
    Ipv6Hbh,
}

impl FlowKind {
    /// The name used in mix files (`ipv4`, `ipv6`, `newip`, `ipv6-hbh`).
    pub const fn name(self) -> &'static str {
        match self {
            FlowKind::Ipv4 => "ipv4",
            FlowKind::Ipv6 => "ipv6",
            FlowKind::Newip => "newip",
            FlowKind::Ipv6Hbh => "ipv6-hbh",
        }
    }

    /// Whether its frames carry UDP (so a payload patch must keep the UDP
    /// checksum right).
    pub const fn is_udp(self) -> bool {
        !matches!(self, FlowKind::Newip)
    }
}

/// One chunk of a qualitative payload; chunks are laid out back to back from
/// the start of the payload, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkSpec {
    /// Length in bytes.
    pub len: u16,
    /// 0 = essential, 1..=15 less and less important.
    pub significance: u8,
}

/// A set of flows that differ only in their destination (and source port).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSet {
    /// What to send.
    pub kind: FlowKind,
    /// Relative weight among the flow sets of a [`Traffic`](super::engine::Traffic).
    pub share: f64,
    /// Source address (IPv4 for `ipv4`, IPv6 for `ipv6` and `ipv6-hbh`).
    pub src: Address,
    /// First destination; flow `n` (0-based) sends to `dst.wrapping_add(n)`.
    pub dst: Address,
    /// Number of flows (distinct destinations), at least 1.
    pub count: u32,
    /// New IP address cast.
    pub cast: Cast,
    /// Frame size range in bytes without FCS, inclusive; each packet draws
    /// one. Frames are never shorter than their headers (plus qualitative
    /// chunks).
    pub size: (usize, usize),
    /// DSCP (IPv4 TOS / IPv6 traffic class upper 6 bits).
    pub dscp: u8,
    /// First UDP source port; flow `n` uses `sport + n % sports` (wrapping).
    pub sport: u16,
    /// Distinct UDP source ports the flows cycle through (1..=65536).
    pub sports: u32,
    /// UDP destination port.
    pub dport: u16,
    /// Optional 802.1Q tag (TCI).
    pub vlan: Option<u16>,
    /// New IP contracts in wire order (a Ping's timestamp is replaced by the
    /// packet's timestamp in µs); for `ipv6-hbh`, exactly one `PreciseLbf`.
    pub contracts: Vec<ContractDesc>,
    /// Qualitative payload chunks (New IP only): a 0x8003 contract is
    /// appended after `contracts`.
    pub chunks: Vec<ChunkSpec>,
}

impl FlowSet {
    /// One flow of `kind` from `src` to `dst` with the defaults: share 1,
    /// count 1, unicast, 60-byte frames, DSCP 0, ports 1024 -> 5001 (every
    /// source port), no VLAN, no contracts, no chunks.
    pub fn new(kind: FlowKind, src: Address, dst: Address) -> Self {
        FlowSet {
            kind,
            share: 1.0,
            src,
            dst,
            count: 1,
            cast: Cast::Unicast,
            size: (60, 60),
            dscp: 0,
            sport: 1024,
            sports: 1 << 16,
            dport: 5001,
            vlan: None,
            contracts: Vec::new(),
            chunks: Vec::new(),
        }
    }

    /// Check that packets of this flow set can be built (address types fit
    /// the kind, header not above 255 bytes, ...) and that routers forward
    /// them (no contract every router drops). The message does not name the
    /// flow set; callers prefix it.
    pub fn validate(&self) -> Result<(), String> {
        let ip_types = |want: nip::AddrType| -> Result<(), String> {
            for (field, a) in [("src", &self.src), ("dst", &self.dst)] {
                if a.ty() != want {
                    return Err(format!("{field}: a {} flow needs an {} address, not '{a}'", self.kind.name(), want.name()));
                }
            }
            Ok(())
        };
        if !(self.share.is_finite() && self.share > 0.0) {
            return Err(format!("share: must be a positive number, not {}", self.share));
        }
        if self.count == 0 {
            return Err("count: must be at least 1".into());
        }
        if !(1..=1 << 16).contains(&self.sports) {
            return Err(format!("sports: must be 1..=65536, not {}", self.sports));
        }
        let (lo, hi) = self.size;
        if lo > hi || lo < SIZE_RANGE.0 || hi > SIZE_RANGE.1 {
            return Err(format!(
                "size: must lie within {}..={} bytes with min <= max, not [{lo}, {hi}]",
                SIZE_RANGE.0, SIZE_RANGE.1
            ));
        }
        if self.dscp > 63 {
            return Err(format!("dscp: must be 0..=63, not {}", self.dscp));
        }
        match self.kind {
            FlowKind::Ipv4 | FlowKind::Ipv6 | FlowKind::Ipv6Hbh => {
                ip_types(if self.kind == FlowKind::Ipv4 { nip::AddrType::Ipv4 } else { nip::AddrType::Ipv6 })?;
                if self.cast != Cast::Unicast {
                    return Err(format!("cast: only newip flows have a cast, not {}", self.kind.name()));
                }
                if !self.chunks.is_empty() {
                    return Err(format!("chunks: only newip flows carry a qualitative payload, not {}", self.kind.name()));
                }
                match (self.kind, self.contracts.as_slice()) {
                    (FlowKind::Ipv6Hbh, [ContractDesc::PreciseLbf(_)]) => {}
                    (FlowKind::Ipv6Hbh, _) => {
                        return Err("contracts: an ipv6-hbh flow carries exactly one precise-lbf contract".into())
                    }
                    (_, []) => {}
                    _ => {
                        return Err(format!(
                            "contracts: a {} flow carries no contracts (use newip or ipv6-hbh)",
                            self.kind.name()
                        ))
                    }
                }
            }
            FlowKind::Newip => {
                if self.chunks.len() > 255 {
                    return Err("chunks: at most 255".into());
                }
                for (i, c) in self.chunks.iter().enumerate() {
                    if c.significance > 15 {
                        return Err(format!("chunks[{i}].significance: must be 0..=15, not {}", c.significance));
                    }
                    if c.len == 0 {
                        return Err(format!("chunks[{i}].len: must be at least 1"));
                    }
                }
                let total: usize = self.chunks.iter().map(|c| c.len as usize).sum();
                if total > u16::MAX as usize {
                    return Err(format!("chunks: {total} bytes in all, at most 65535"));
                }
                self.newip_desc(0, 0, Vec::new()).build().map_err(|e| {
                    format!("cannot build a New IP header: {e:?} (the header, addresses and contracts must fit in 255 bytes)")
                })?;
            }
        }
        check_forwardable(&self.contracts)
    }

    fn newip_desc(&self, flow: u32, ts: u64, payload: Vec<u8>) -> PacketDesc {
        let mut contracts: Vec<ContractDesc> = self
            .contracts
            .iter()
            .map(|c| match c {
                ContractDesc::Ping { code, hops, .. } => ContractDesc::Ping { code: *code, hops: *hops, timestamp: ts / 1000 },
                other => other.clone(),
            })
            .collect();
        if !self.chunks.is_empty() {
            let mut off = 0u16;
            let chunks = self
                .chunks
                .iter()
                .map(|c| {
                    let ch = Chunk { offset: off, length: c.len, significance: c.significance, flags: 0 };
                    off = off.wrapping_add(c.len);
                    ch
                })
                .collect();
            contracts.push(ContractDesc::Qualitative(chunks));
        }
        PacketDesc { src: self.src.clone(), dst: self.dst.wrapping_add(flow as u64), cast: self.cast, contracts, payload }
    }

    /// The UDP source port of flow `flow`.
    pub fn sport_of(&self, flow: u32) -> u16 {
        self.sport.wrapping_add((flow % self.sports.max(1)) as u16)
    }

    /// Build the frame of flow `flow` (0-based, below `count`) of `size`
    /// bytes with the payload stamp `seq`, `ts`. The flow set must have
    /// passed [`FlowSet::validate`].
    pub fn frame(&self, dst_mac: [u8; 6], flow: u32, size: usize, seq: u64, ts: u64) -> Vec<u8> {
        let eth = if self.vlan.is_some() { 18 } else { 14 };
        let tos = self.dscp << 2;
        let sport = self.sport_of(flow);
        match self.kind {
            FlowKind::Ipv4 => {
                let plen = size.saturating_sub(eth + 28);
                lb::udp4(Udp4 {
                    dst_mac,
                    src_mac: SRC_MAC,
                    vlan: self.vlan,
                    src: u32::from_be_bytes(v4(&self.src)),
                    dst: u32::from_be_bytes(v4(&self.dst.wrapping_add(flow as u64))),
                    sport,
                    dport: self.dport,
                    ttl: 64,
                    tos,
                    ident: seq as u16,
                    frame_len: size,
                    payload: payload(plen, seq, ts),
                })
            }
            FlowKind::Ipv6 => {
                let plen = size.saturating_sub(eth + 48);
                lb::udp6(Udp6 {
                    dst_mac,
                    src_mac: SRC_MAC,
                    vlan: self.vlan,
                    src: u128::from_be_bytes(v6(&self.src)),
                    dst: u128::from_be_bytes(v6(&self.dst.wrapping_add(flow as u64))),
                    sport,
                    dport: self.dport,
                    hop_limit: 64,
                    traffic_class: tos,
                    frame_len: size,
                    payload: payload(plen, seq, ts),
                })
            }
            FlowKind::Ipv6Hbh => {
                let plbf = match self.contracts.first() {
                    Some(ContractDesc::PreciseLbf(p)) => *p,
                    _ => PreciseLbf { max_ns: 5_000_000, ..Default::default() },
                };
                let plen = size.saturating_sub(eth + 40 + 24 + 8);
                let l3 = nb::build_ipv6_hbh(&Ipv6HbhDesc {
                    src: v6(&self.src),
                    dst: v6(&self.dst.wrapping_add(flow as u64)),
                    traffic_class: tos,
                    flow_label: flow & 0xF_FFFF,
                    hop_limit: 64,
                    plbf,
                    sport,
                    dport: self.dport,
                    payload: payload(plen, seq, ts),
                })
                .expect("validated ipv6-hbh flow");
                nb::ethernet_frame(dst_mac, SRC_MAC, nip::ETHERTYPE_IPV6, self.vlan, &l3)
            }
            FlowKind::Newip => {
                let mut l3 = self.newip_desc(flow, ts, Vec::new()).build().expect("validated newip flow");
                let chunk_total: usize = self.chunks.iter().map(|c| c.len as usize).sum();
                let plen = size.saturating_sub(eth + l3.len()).max(chunk_total);
                l3.extend_from_slice(&payload(plen, seq, ts));
                nb::ethernet_frame(dst_mac, SRC_MAC, nip::ETHERTYPE_NEWIP, self.vlan, &l3)
            }
        }
    }
}

fn v4(a: &Address) -> [u8; 4] {
    match a {
        Address::Ipv4(b) => *b,
        _ => [0; 4],
    }
}

fn v6(a: &Address) -> [u8; 16] {
    match a {
        Address::Ipv6(b) => *b,
        _ => [0; 16],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::payload::{frame_payload, read_stamp};

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn every_kind_builds_at_its_size_with_a_stamp() {
        let mut nf = FlowSet::new(FlowKind::Newip, a("8bit:1"), a("flex:0a0201"));
        nf.contracts = vec![ContractDesc::Ping { code: 0, hops: 255, timestamp: 0 }];
        nf.chunks = vec![ChunkSpec { len: 20, significance: 0 }, ChunkSpec { len: 10, significance: 4 }];
        let mut hf = FlowSet::new(FlowKind::Ipv6Hbh, a("2001:db8::1"), a("2001:db8:1::1"));
        hf.contracts = vec![ContractDesc::PreciseLbf(PreciseLbf { max_ns: 1000, ..Default::default() })];
        let flows = [
            FlowSet::new(FlowKind::Ipv4, a("192.168.0.1"), a("10.0.0.1")),
            FlowSet::new(FlowKind::Ipv6, a("2001:db8::1"), a("2001:db8:1::1")),
            nf,
            hf,
        ];
        for f in &flows {
            f.validate().unwrap();
            let fr = f.frame([2, 0, 0, 0, 0, 1], 3, 200, 77, 123_456);
            assert_eq!(fr.len(), 200, "{:?}", f.kind);
            let p = frame_payload(&fr).unwrap_or_else(|| panic!("{:?}", f.kind));
            assert_eq!(read_stamp(p), Some((77, 123_456)), "{:?}", f.kind);
            assert_eq!(p[16], 16);
        }
        // The New IP one: dst incremented in its own type, ping timestamp in µs.
        let fr = flows[2].frame([2, 0, 0, 0, 0, 1], 3, 60, 1, 9_000);
        let h = nip::parse(&fr[14..]).unwrap();
        assert_eq!(h.dst.bytes(&fr[14..]), &[0x0a, 2, 4]);
        assert!(h.payload_len(fr.len() - 14) >= 30);
        match nip::contracts(&fr[14..], &h).next() {
            Some(Ok(nip::ContractRef::Ping { timestamp, .. })) => assert_eq!(timestamp, 9),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn source_ports_cycle_through_sports() {
        let mut f = FlowSet::new(FlowKind::Ipv4, a("192.168.0.1"), a("10.0.0.1"));
        assert_eq!((f.sport_of(0), f.sport_of(64_511), f.sport_of(64_512)), (1024, u16::MAX, 0));
        f.sports = 50_000;
        assert_eq!((f.sport_of(49_999), f.sport_of(50_000)), (1024 + 49_999, 1024));
        let fr = f.frame([0; 6], 50_001, 60, 0, 0);
        assert_eq!(&fr[34..36], &1025u16.to_be_bytes());
    }

    #[test]
    fn validation_names_the_field() {
        let mut f = FlowSet::new(FlowKind::Ipv4, a("8bit:1"), a("10.0.0.1"));
        assert!(f.validate().unwrap_err().starts_with("src:"));
        f.src = a("1.2.3.4");
        f.size = (100, 80);
        assert!(f.validate().unwrap_err().starts_with("size:"));
        f.size = (60, 60);
        f.contracts = vec![ContractDesc::Ping { code: 0, hops: 1, timestamp: 0 }];
        assert!(f.validate().unwrap_err().starts_with("contracts:"));
        let mut n = FlowSet::new(FlowKind::Newip, a("flex:01"), a("flex:02"));
        n.contracts = vec![ContractDesc::Tlv { ty: 0x8100, value: vec![0; 250] }];
        assert!(n.validate().unwrap_err().contains("255 bytes"));
        n.contracts = vec![ContractDesc::Lbf { min_delay: 0, max_delay: 10, experienced_delay: 0, fib_todelay: 0, fib_tohops: 0 }];
        assert!(n.validate().unwrap_err().starts_with("contracts[0].tohops:"));
        n.sports = 0;
        n.contracts.clear();
        assert!(n.validate().unwrap_err().starts_with("sports:"));
    }
}
