//! General traffic descriptions: a set of weighted flows of any kind
//! (UDP over IPv4 or IPv6, New IP with any addresses and contracts, IPv6 with
//! the Hop-by-Hop latency option), a packet count, a rate, and a share of
//! deliberately malformed packets. Mix files ([`super::mixfile`]) and the New
//! IP kinds of [`Mix`](super::Mix) both end up here.
//!
//! # Payload stamp
//! Every well-formed payload of at least [`STAMP_LEN`] bytes starts with the
//! frame's sequence number (u64, big-endian: its 0-based index in the
//! generated list, malformed frames included) and its timestamp (u64,
//! big-endian, ns: the pcap timestamp). The rest is the byte pattern
//! `payload[i] = i as u8`. "Payload" is the UDP payload for UDP kinds and the
//! bytes from the New IP payload offset for New IP. See [`frame_payload`] and
//! [`read_stamp`].

use super::mix::{Generated, Malformation};
use super::newip_mix::NewIpMalformation;
use newipd_core::wire::build::{self as lb, Udp4, Udp6};
use newipd_core::wire::newip::build::{self as nb, Address, ContractDesc, Ipv6HbhDesc, PacketDesc};
use newipd_core::wire::newip::{self as nip, Cast, Chunk, PreciseLbf};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// Source MAC of every generated frame.
pub const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// Length of the payload stamp (sequence number + timestamp).
pub const STAMP_LEN: usize = 16;
/// Bytes each frame costs on the wire beyond its stored bytes, for
/// [`Rate::Bps`]: preamble and start delimiter (8), FCS (4), inter-frame gap (12).
pub const WIRE_OVERHEAD: usize = 24;
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
pub struct FlowSpec {
    /// What to send.
    pub kind: FlowKind,
    /// Relative weight among the flows of a [`Traffic`].
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
    /// First UDP source port; flow `n` uses `sport + n` (wrapping).
    pub sport: u16,
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

impl FlowSpec {
    /// One flow of `kind` from `src` to `dst` with the defaults: share 1,
    /// count 1, unicast, 60-byte frames, DSCP 0, ports 1024 -> 5001, no VLAN,
    /// no contracts, no chunks.
    pub fn new(kind: FlowKind, src: Address, dst: Address) -> Self {
        FlowSpec {
            kind,
            share: 1.0,
            src,
            dst,
            count: 1,
            cast: Cast::Unicast,
            size: (60, 60),
            dscp: 0,
            sport: 1024,
            dport: 5001,
            vlan: None,
            contracts: Vec::new(),
            chunks: Vec::new(),
        }
    }

    /// Check that packets of this flow can be built (address types fit the
    /// kind, header not above 255 bytes, ...). The message does not name the
    /// flow; callers prefix it.
    pub fn validate(&self) -> Result<(), String> {
        let ip_types = |want: nip::AddrType| -> Result<(), String> {
            for (field, a) in [("src", &self.src), ("dst", &self.dst)] {
                if a.ty() != want {
                    return Err(format!(
                        "{field}: a {} flow needs an {} address, not '{a}'",
                        self.kind.name(),
                        want.name()
                    ));
                }
            }
            Ok(())
        };
        if !(self.share.is_finite() && self.share > 0.0) {
            return Err(format!(
                "share: must be a positive number, not {}",
                self.share
            ));
        }
        if self.count == 0 {
            return Err("count: must be at least 1".into());
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
                ip_types(if self.kind == FlowKind::Ipv4 {
                    nip::AddrType::Ipv4
                } else {
                    nip::AddrType::Ipv6
                })?;
                if self.cast != Cast::Unicast {
                    return Err(format!(
                        "cast: only newip flows have a cast, not {}",
                        self.kind.name()
                    ));
                }
                if !self.chunks.is_empty() {
                    return Err(format!(
                        "chunks: only newip flows carry a qualitative payload, not {}",
                        self.kind.name()
                    ));
                }
                match (self.kind, self.contracts.as_slice()) {
                    (FlowKind::Ipv6Hbh, [ContractDesc::PreciseLbf(_)]) => {}
                    (FlowKind::Ipv6Hbh, _) => {
                        return Err(
                            "contracts: an ipv6-hbh flow carries exactly one precise-lbf contract"
                                .into(),
                        )
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
                        return Err(format!(
                            "chunks[{i}].significance: must be 0..=15, not {}",
                            c.significance
                        ));
                    }
                    if c.len == 0 {
                        return Err(format!("chunks[{i}].len: must be at least 1"));
                    }
                }
                let total: usize = self.chunks.iter().map(|c| c.len as usize).sum();
                if total > u16::MAX as usize {
                    return Err(format!("chunks: {total} bytes in all, at most 65535"));
                }
                self.newip_desc(0, 0, Vec::new())
                    .build()
                    .map_err(|e| format!("cannot build a New IP header: {e:?} (the header, addresses and contracts must fit in 255 bytes)"))?;
            }
        }
        Ok(())
    }

    fn newip_desc(&self, flow: u32, ts: u64, payload: Vec<u8>) -> PacketDesc {
        let mut contracts: Vec<ContractDesc> = self
            .contracts
            .iter()
            .map(|c| match c {
                ContractDesc::Ping { code, hops, .. } => ContractDesc::Ping {
                    code: *code,
                    hops: *hops,
                    timestamp: ts / 1000,
                },
                other => other.clone(),
            })
            .collect();
        if !self.chunks.is_empty() {
            let mut off = 0u16;
            let chunks = self
                .chunks
                .iter()
                .map(|c| {
                    let ch = Chunk {
                        offset: off,
                        length: c.len,
                        significance: c.significance,
                        flags: 0,
                    };
                    off = off.wrapping_add(c.len);
                    ch
                })
                .collect();
            contracts.push(ContractDesc::Qualitative(chunks));
        }
        PacketDesc {
            src: self.src.clone(),
            dst: self.dst.wrapping_add(flow as u64),
            cast: self.cast,
            contracts,
            payload,
        }
    }

    /// Build the frame of flow `flow` (0-based, below `count`) of `size`
    /// bytes with the payload stamp `seq`, `ts`. The flow must have passed
    /// [`FlowSpec::validate`].
    pub fn frame(&self, dst_mac: [u8; 6], flow: u32, size: usize, seq: u64, ts: u64) -> Vec<u8> {
        let eth = if self.vlan.is_some() { 18 } else { 14 };
        let tos = self.dscp << 2;
        let sport = self.sport.wrapping_add(flow as u16);
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
                    _ => PreciseLbf {
                        max_ns: 5_000_000,
                        ..Default::default()
                    },
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
                let mut l3 = self
                    .newip_desc(flow, ts, Vec::new())
                    .build()
                    .expect("validated newip flow");
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

/// A payload of `len` bytes: the stamp (when `len >= 16`) then the pattern
/// `i as u8`.
pub fn payload(len: usize, seq: u64, ts: u64) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(|i| i as u8).collect();
    if len >= STAMP_LEN {
        p[..8].copy_from_slice(&seq.to_be_bytes());
        p[8..16].copy_from_slice(&ts.to_be_bytes());
    }
    p
}

/// `(sequence number, timestamp ns)` from the first 16 payload bytes.
pub fn read_stamp(payload: &[u8]) -> Option<(u64, u64)> {
    let s: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    let t: [u8; 8] = payload.get(8..16)?.try_into().ok()?;
    Some((u64::from_be_bytes(s), u64::from_be_bytes(t)))
}

/// The payload of a generated frame (UDP payload for UDP over IPv4/IPv6,
/// also behind the Hop-by-Hop header; the bytes from the payload offset for
/// New IP), or `None` for anything else or a malformed frame.
pub fn frame_payload(frame: &[u8]) -> Option<&[u8]> {
    let (et, off) = nip::ethernet_payload(frame)?;
    let l3 = frame.get(off..)?;
    match et {
        nip::ETHERTYPE_NEWIP => {
            let h = nip::parse(l3).ok()?;
            Some(h.payload(l3))
        }
        0x0800 => {
            let ihl = (*l3.first()? & 0x0F) as usize * 4;
            (*l3.get(9)? == 17).then_some(())?;
            l3.get(ihl + 8..)
        }
        nip::ETHERTYPE_IPV6 => {
            let mut nh = *l3.get(6)?;
            let mut pos = 40;
            if nh == newipd_core::contract::ipv6_option::NH_HOP_BY_HOP {
                nh = *l3.get(pos)?;
                pos += (*l3.get(pos + 1)? as usize + 1) * 8;
            }
            (nh == 17).then_some(())?;
            l3.get(pos + 8..)
        }
        _ => None,
    }
}

/// How the pcap timestamps are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Packets per second: packet `i` at `i * 1e9 / pps` ns.
    Pps(u64),
    /// Bits per second on the wire: each packet starts when the previous
    /// ones (each `len + 24` bytes: preamble, FCS, gap) have been sent.
    Bps(u64),
}

/// A complete traffic description: flows, count, rate, malformed share.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// Random seed; the same description and seed give the same bytes.
    pub seed: u64,
    /// Number of packets.
    pub packets: usize,
    /// Timestamp spacing.
    pub rate: Rate,
    /// Share of packets made malformed on purpose (0.0..=1.0).
    pub malformed: f64,
    /// Destination MAC of every frame.
    pub dst_mac: [u8; 6],
    /// The flows; packets are spread over them by `share` (smooth weighted
    /// round robin, so the proportions are exact to within one packet).
    pub flows: Vec<FlowSpec>,
}

/// One way a generated packet is broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// A legacy (Ethernet/IPv4/IPv6) malformation.
    Legacy(Malformation),
    /// A New IP header or IPv6 Hop-by-Hop malformation.
    NewIp(NewIpMalformation),
}

impl Bad {
    /// The counter name the packet is counted under.
    pub fn name(self) -> &'static str {
        match self {
            Bad::Legacy(m) => m.reason().name(),
            Bad::NewIp(m) => m.name(),
        }
    }
}

impl Traffic {
    /// Whether any flow sends New IP or the IPv6 Hop-by-Hop option.
    pub fn has_newip(&self) -> bool {
        self.flows
            .iter()
            .any(|f| matches!(f.kind, FlowKind::Newip | FlowKind::Ipv6Hbh))
    }

    /// The malformations used, in the round-robin order: the New IP and
    /// Hop-by-Hop ones first (when the traffic has New IP), then the legacy ones.
    pub fn malformations(&self) -> Vec<Bad> {
        let mut v = Vec::new();
        if self.has_newip() {
            v.extend(NewIpMalformation::ALL.iter().map(|m| Bad::NewIp(*m)));
        }
        v.extend(Malformation::ALL.iter().map(|m| Bad::Legacy(*m)));
        v
    }

    /// Check every flow and the top-level values; messages name the field
    /// (`flow[2].src: ...`).
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.malformed) {
            return Err(format!(
                "malformed: must be between 0.0 and 1.0, not {}",
                self.malformed
            ));
        }
        match self.rate {
            Rate::Pps(0) => return Err("rate_pps: must be at least 1".into()),
            Rate::Bps(0) => return Err("rate_bps: must be at least 1".into()),
            _ => {}
        }
        if self.flows.is_empty() && self.packets > 0 {
            return Err("flow: no flows to send".into());
        }
        for (i, f) in self.flows.iter().enumerate() {
            f.validate().map_err(|e| format!("flow[{i}].{e}"))?;
        }
        Ok(())
    }

    /// Generate the frames. Panics if the description does not
    /// [`validate`](Traffic::validate).
    pub fn generate(&self) -> Generated {
        self.generate_labeled().0
    }

    /// [`generate`](Traffic::generate), plus for each frame the
    /// malformation it carries (`None` for a well-formed frame).
    pub fn generate_labeled(&self) -> (Generated, Vec<Option<Bad>>) {
        let (g, labels, _) = self.generate_detailed();
        (g, labels)
    }

    /// [`generate_labeled`](Traffic::generate_labeled), plus for each frame
    /// the flow set it came from (its index in `flows`) and its flow number
    /// within that set (the live generator's classes and streams).
    pub fn generate_detailed(&self) -> (Generated, Vec<Option<Bad>>, Vec<(usize, u32)>) {
        if let Err(e) = self.validate() {
            panic!("invalid traffic description: {e}");
        }
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed);
        let mut out = Generated {
            malformed: Malformation::ALL.iter().map(|m| (*m, 0)).collect(),
            ..Default::default()
        };
        out.frames.reserve(self.packets);
        let mut labels = Vec::with_capacity(self.packets);
        let mut origins = Vec::with_capacity(self.packets);
        let bad = self.malformations();
        let mut next_bad = 0usize;
        let v4 = Udp4 {
            dst_mac: self.dst_mac,
            ..Default::default()
        };
        let v6 = Udp6 {
            dst_mac: self.dst_mac,
            ..Default::default()
        };
        let total: f64 = self.flows.iter().map(|f| f.share).sum();
        let mut current = vec![0.0f64; self.flows.len()];
        let mut bits: u128 = 0;
        let p_bad = self.malformed.clamp(0.0, 1.0);
        for i in 0..self.packets {
            let ts = match self.rate {
                Rate::Pps(pps) => (i as u128 * 1_000_000_000 / pps.max(1) as u128) as u64,
                Rate::Bps(bps) => (bits * 1_000_000_000 / bps.max(1) as u128) as u64,
            };
            // Smooth weighted round robin.
            let mut pick = 0;
            for (j, f) in self.flows.iter().enumerate() {
                current[j] += f.share;
                if current[j] > current[pick] {
                    pick = j;
                }
            }
            current[pick] -= total;
            let f = &self.flows[pick];
            let flow = if f.count > 1 {
                rng.gen_range(0..f.count)
            } else {
                0
            };
            let size = if f.size.0 == f.size.1 {
                f.size.0
            } else {
                rng.gen_range(f.size.0..=f.size.1)
            };
            let (frame, label) = if p_bad > 0.0 && rng.gen_bool(p_bad) {
                let b = bad[next_bad % bad.len()];
                next_bad += 1;
                *out.by_reason.entry(b.name()).or_insert(0) += 1;
                let frame = match b {
                    Bad::Legacy(m) => {
                        if let Some(e) = out.malformed.iter_mut().find(|e| e.0 == m) {
                            e.1 += 1;
                        }
                        m.make(&v4, &v6)
                    }
                    Bad::NewIp(m) => m.make(self.dst_mac),
                };
                (frame, Some(b))
            } else {
                out.good += 1;
                (f.frame(self.dst_mac, flow, size, i as u64, ts), None)
            };
            bits += ((frame.len().max(60) + WIRE_OVERHEAD) * 8) as u128;
            out.frames.push((ts, frame));
            labels.push(label);
            origins.push((pick, flow));
        }
        (out, labels, origins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn every_kind_builds_at_its_size_with_a_stamp() {
        let mut nf = FlowSpec::new(FlowKind::Newip, a("8bit:1"), a("flex:0a0201"));
        nf.contracts = vec![ContractDesc::Ping {
            code: 0,
            hops: 255,
            timestamp: 0,
        }];
        nf.chunks = vec![
            ChunkSpec {
                len: 20,
                significance: 0,
            },
            ChunkSpec {
                len: 10,
                significance: 4,
            },
        ];
        let mut hf = FlowSpec::new(FlowKind::Ipv6Hbh, a("2001:db8::1"), a("2001:db8:1::1"));
        hf.contracts = vec![ContractDesc::PreciseLbf(PreciseLbf {
            max_ns: 1000,
            ..Default::default()
        })];
        let flows = [
            FlowSpec::new(FlowKind::Ipv4, a("192.168.0.1"), a("10.0.0.1")),
            FlowSpec::new(FlowKind::Ipv6, a("2001:db8::1"), a("2001:db8:1::1")),
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
    fn validation_names_the_field() {
        let mut f = FlowSpec::new(FlowKind::Ipv4, a("8bit:1"), a("10.0.0.1"));
        assert!(f.validate().unwrap_err().starts_with("src:"));
        f.src = a("1.2.3.4");
        f.size = (100, 80);
        assert!(f.validate().unwrap_err().starts_with("size:"));
        f.size = (60, 60);
        f.contracts = vec![ContractDesc::Ping {
            code: 0,
            hops: 1,
            timestamp: 0,
        }];
        assert!(f.validate().unwrap_err().starts_with("contracts:"));
        let mut n = FlowSpec::new(FlowKind::Newip, a("flex:01"), a("flex:02"));
        n.contracts = vec![ContractDesc::Tlv {
            ty: 0x8100,
            value: vec![0; 250],
        }];
        assert!(n.validate().unwrap_err().contains("255 bytes"));
        let t = Traffic {
            seed: 1,
            packets: 1,
            rate: Rate::Pps(1),
            malformed: 0.0,
            dst_mac: [0; 6],
            flows: vec![FlowSpec { count: 0, ..n }],
        };
        assert!(t.validate().unwrap_err().starts_with("flow[0].count:"));
    }

    #[test]
    fn shares_are_exact_and_rate_bps_spaces_by_size() {
        let mut f1 = FlowSpec::new(FlowKind::Ipv4, a("1.1.1.1"), a("10.0.0.1"));
        f1.share = 3.0;
        let mut f2 = FlowSpec::new(FlowKind::Ipv6, a("::1"), a("::2"));
        f2.size = (100, 100);
        let t = Traffic {
            seed: 3,
            packets: 400,
            rate: Rate::Bps(1_000_000_000),
            malformed: 0.0,
            dst_mac: [2, 0, 0, 0, 0, 1],
            flows: vec![f1, f2],
        };
        let g = t.generate();
        let n4 = g.frames.iter().filter(|f| f.1.len() == 60).count();
        assert_eq!(n4, 300);
        assert_eq!(g.frames.len() - n4, 100);
        for w in g.frames.windows(2) {
            // (len + 24) bytes at 1 Gb/s = 8 ns per byte.
            assert_eq!(w[1].0 - w[0].0, ((w[0].1.len() + 24) * 8) as u64);
        }
        assert_eq!(g, t.generate());
    }
}
