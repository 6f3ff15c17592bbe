//! The command-line kinds (`newipd gen --kind ipv4`, `newip-lbf`, ...):
//! each is a preset of the [engine](super::engine), a set of flow sets
//! built from the flags ([`Mix`]). A mix file without `[[flow]]` tables
//! sends the same preset.

use super::contracts::{BENCH_LBF, BENCH_PLBF};
use super::engine::{Generated, Order, Rate, Traffic, Uniform};
use super::flow::{ChunkSpec, FlowKind, FlowSet, SRC4, SRC6};
use newipd_core::wire::newip::build::{Address, ContractDesc};
use newipd_core::wire::newip::{Cast, OnTime, PreciseLbf};

/// The kinds of traffic the command line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// UDP over IPv4 (what pktgen sends).
    Ipv4,
    /// UDP over IPv6.
    Ipv6,
    /// Half IPv4, half IPv6, some with an 802.1Q tag.
    Mix,
    /// New IP benchmark traffic: IPv4-type addresses (192.168.0.1 to
    /// dst4 + flow), one LBF contract (max 50 ms), frames of exactly --size.
    NewipLbf,
    /// As newip-lbf with a 0x8001 precise LBF contract (max 5 ms).
    NewipPlbf,
    /// Every New IP address type (also asymmetric), every contract kind,
    /// qualitative payloads, unknown TLVs, and IPv6 with the Hop-by-Hop option.
    NewipMix,
}

impl Kind {
    /// Whether this kind sends New IP (or the IPv6 Hop-by-Hop latency option).
    pub fn is_newip(self) -> bool {
        matches!(self, Kind::NewipLbf | Kind::NewipPlbf | Kind::NewipMix)
    }
}

/// The UDP kinds send source ports 1024 + flow % 50000 (so they stay below
/// 51024).
const UDP_KIND_SPORTS: u32 = 50_000;
/// The `mix` kind tags one packet in this many with VLAN 100.
const MIX_TAG_EVERY: u32 = 8;

/// A traffic description in command-line terms: a kind and the values its
/// preset is built from.
#[derive(Debug, Clone)]
pub struct Mix {
    pub kind: Kind,
    pub packets: usize,
    /// Distinct destination addresses (and source ports).
    pub flows: u32,
    /// Frame size in bytes without FCS (64 on the wire = 60 here).
    pub size: usize,
    pub seed: u64,
    /// Share of packets made malformed on purpose (0.0..=1.0).
    pub malformed: f64,
    /// First IPv4 destination; flows count up from here.
    pub dst4: u32,
    /// First IPv6 destination.
    pub dst6: u128,
    /// Packets per second for the pcap timestamps.
    pub rate_pps: u64,
    pub dst_mac: [u8; 6],
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            kind: Kind::Ipv4,
            packets: 1000,
            flows: 1024,
            size: 60,
            seed: 1,
            malformed: 0.0,
            dst4: u32::from_be_bytes([10, 0, 0, 1]),
            dst6: 0x2001_0db8_0001_0000_0000_0000_0000_0001,
            rate_pps: 1_000_000,
            dst_mac: [0x02, 0, 0, 0, 0, 0x01],
        }
    }
}

impl Mix {
    /// The engine's description of this traffic: the kind's flow sets
    /// ([`Mix::flow_sets`]) and [`Mix::order`].
    pub fn traffic(&self) -> Traffic {
        Traffic {
            seed: self.seed,
            packets: self.packets,
            rate: Rate::Pps(self.rate_pps.max(1)),
            malformed: self.malformed,
            dst_mac: self.dst_mac,
            flows: self.flow_sets(),
            order: self.order(),
        }
    }

    /// Generate the frames with their timestamps (ns); payloads of at least
    /// 16 bytes start with the [stamp](super::payload).
    pub fn generate(&self) -> Generated {
        self.traffic().generate()
    }

    /// How the kind draws its packets: the New IP kinds in the weighted
    /// order of mix files, the UDP kinds in their own uniform one.
    pub fn order(&self) -> Order {
        if self.kind.is_newip() {
            Order::Weighted
        } else {
            Order::Uniform(Uniform {
                dst4: self.dst4,
                dst6: self.dst6,
                size: self.size,
                tag_every: if self.kind == Kind::Mix { MIX_TAG_EVERY } else { 0 },
            })
        }
    }

    /// The kind's flow sets: `flows` flows each, frames of `size`.
    pub fn flow_sets(&self) -> Vec<FlowSet> {
        let dst4 = Address::Ipv4(self.dst4.to_be_bytes());
        let dst6 = Address::Ipv6(self.dst6.to_be_bytes());
        let base = |k: FlowKind, src: Address, dst: &Address| FlowSet {
            count: self.flows.max(1),
            size: (self.size, self.size),
            ..FlowSet::new(k, src, dst.clone())
        };
        let udp = |k: FlowKind, src: Address, dst: &Address, share: f64, vlan: Option<u16>| FlowSet {
            share,
            vlan,
            sports: UDP_KIND_SPORTS,
            ..base(k, src, dst)
        };
        let with = |mut f: FlowSet, share: f64, contracts: Vec<ContractDesc>, chunks: &[(u16, u8)]| {
            f.share = share;
            f.contracts = contracts;
            f.chunks = chunks.iter().map(|&(len, significance)| ChunkSpec { len, significance }).collect();
            f
        };
        let a = |s: &str| s.parse::<Address>().expect("built-in address");
        let plbf = |p: PreciseLbf| ContractDesc::PreciseLbf(p);
        match self.kind {
            Kind::Ipv4 => vec![udp(FlowKind::Ipv4, SRC4, &dst4, 1.0, None)],
            Kind::Ipv6 => vec![udp(FlowKind::Ipv6, SRC6, &dst6, 1.0, None)],
            // Seven in eight untagged, half IPv4 and half IPv6.
            Kind::Mix => vec![
                udp(FlowKind::Ipv4, SRC4, &dst4, 7.0, None),
                udp(FlowKind::Ipv6, SRC6, &dst6, 7.0, None),
                udp(FlowKind::Ipv4, SRC4, &dst4, 1.0, Some(100)),
                udp(FlowKind::Ipv6, SRC6, &dst6, 1.0, Some(100)),
            ],
            Kind::NewipLbf => vec![with(base(FlowKind::Newip, SRC4, &dst4), 1.0, vec![BENCH_LBF], &[])],
            Kind::NewipPlbf => vec![with(base(FlowKind::Newip, SRC4, &dst4), 1.0, vec![plbf(BENCH_PLBF)], &[])],
            Kind::NewipMix => {
                let n = |src: Address, dst: &Address| base(FlowKind::Newip, src, dst);
                let late_ok = PreciseLbf { max_ns: 2_000_000, flags: PreciseLbf::LATE_OK, ..BENCH_PLBF };
                let max_delay = ContractDesc::MaxDelay { max_allowed_delay: 20, delay_exp: 0 };
                let ping = ContractDesc::Ping { code: 0, hops: 255, timestamp: 0 };
                let on_time = ContractDesc::OnTime(OnTime { damper_ns: 100_000, prio: 3, flags: OnTime::DI });
                let unknown = ContractDesc::Tlv { ty: 0x8100, value: vec![0xde, 0xad, 0xbe, 0xef] };
                vec![
                    // IPv4 -> IPv4, the two latency contracts.
                    with(n(SRC4, &dst4), 2.0, vec![BENCH_LBF], &[]),
                    with(n(SRC4, &dst4), 2.0, vec![plbf(BENCH_PLBF)], &[]),
                    // IPv6 -> IPv6, precise LBF that may arrive late.
                    with(n(SRC6, &dst6), 1.0, vec![plbf(late_ok)], &[]),
                    // Asymmetric: 8-bit -> 16-bit with max delay.
                    with(n(a("8bit:1"), &a("16bit:0x0100")), 1.0, vec![max_delay.clone()], &[]),
                    // 16-bit -> IPv4 ping.
                    with(n(a("16bit:0x0001"), &dst4), 1.0, vec![ping], &[]),
                    // Flex -> flex on-time delivery.
                    with(n(a("flex:0a01"), &a("flex:0a0201")), 1.0, vec![on_time], &[]),
                    // IPv4 -> flex, LBF + qualitative payload with 2 chunks.
                    with(n(SRC4, &a("flex:0a0301")), 1.0, vec![BENCH_LBF], &[(16, 0), (32, 4)]),
                    // IPv6 -> 8-bit, precise LBF + 4 chunks.
                    with(n(SRC6, &a("8bit:2")), 1.0, vec![plbf(BENCH_PLBF)], &[(24, 0), (16, 2), (16, 7), (8, 15)]),
                    // Flex -> IPv6, unknown TLV + max delay + 3 chunks.
                    with(n(a("flex:0b"), &dst6), 1.0, vec![unknown, max_delay], &[(16, 0), (20, 1), (12, 0)]),
                    // 8-bit broadcast without contract.
                    FlowSet { cast: Cast::Broadcast, ..n(a("8bit:3"), &a("8bit:0xff")) },
                    // The same latency contract inside plain IPv6.
                    with(base(FlowKind::Ipv6Hbh, SRC6, &dst6), 2.0, vec![plbf(BENCH_PLBF)], &[]),
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::malformed::{parse_reason, Bad, Malformation, NewIpMalformation};
    use crate::gen::flow::SRC_MAC;
    use crate::gen::payload::{frame_payload, read_stamp};
    use newipd_core::wire::newip as nip;

    #[test]
    fn same_seed_same_bytes_and_sizes_hold() {
        let m = Mix { packets: 200, malformed: 0.2, kind: Kind::Mix, ..Default::default() };
        let a = m.generate();
        assert_eq!(a, m.generate());
        assert_ne!(a.frames, Mix { seed: 2, ..m.clone() }.generate().frames);
        assert_eq!(a.good + a.malformed.iter().map(|x| x.1).sum::<usize>(), 200);
        assert_eq!(a.by_reason.values().sum::<usize>(), 200 - a.good);
        let m = Mix { packets: 50, size: 60, ..Default::default() };
        assert!(m.generate().frames.iter().all(|f| f.1.len() == 60));
    }

    #[test]
    fn udp_payloads_carry_the_stamp_without_changing_sizes() {
        for kind in [Kind::Ipv4, Kind::Ipv6, Kind::Mix] {
            for size in [60, 61, 62, 64, 100] {
                let m = Mix { kind, packets: 40, size, rate_pps: 1000, ..Default::default() };
                for (i, (ts, f)) in m.generate().frames.iter().enumerate() {
                    let eth = if f[12..14] == [0x81, 0x00] { 18 } else { 14 };
                    let v6 = f[eth - 2..eth] == [0x86, 0xdd];
                    let frame_len = if v6 { size.max(62) } else { size };
                    assert_eq!(f.len(), frame_len.max(eth + if v6 { 48 } else { 28 }), "{kind:?} {size}");
                    let p = frame_payload(f).unwrap();
                    if p.len() >= 16 {
                        assert_eq!(read_stamp(p), Some((i as u64, *ts)));
                    }
                    assert_eq!(*ts, i as u64 * 1_000_000);
                }
            }
        }
    }

    #[test]
    fn every_generated_malformed_newip_packet_is_counted_under_its_reason() {
        for kind in [Kind::NewipLbf, Kind::NewipPlbf, Kind::NewipMix] {
            let t = Mix { kind, packets: 3000, malformed: 0.3, flows: 16, ..Default::default() }.traffic();
            let g = t.generate();
            let mut seen = std::collections::BTreeMap::<&str, usize>::new();
            let mut newip_bad = 0;
            for p in t.packets() {
                match p.bad {
                    Some(Bad::NewIp(b)) => {
                        assert_eq!(parse_reason(&p.frame), Err(b.name()), "{kind:?} {b:?}");
                        *seen.entry(b.name()).or_default() += 1;
                        newip_bad += 1;
                    }
                    Some(Bad::Legacy(b)) => *seen.entry(b.reason().name()).or_default() += 1,
                    None => assert_eq!(parse_reason(&p.frame), Ok(()), "{kind:?}"),
                }
            }
            assert_eq!(seen, g.by_reason, "{kind:?}");
            for b in NewIpMalformation::ALL {
                assert!(g.by_reason.get(b.name()).copied().unwrap_or(0) > 0, "{kind:?} never made {b:?}");
            }
            let bad: usize = g.by_reason.values().sum();
            assert_eq!(g.good + bad, 3000);
            assert_eq!(g.malformed.iter().map(|x| x.1).sum::<usize>() + newip_bad, bad);
        }
    }

    #[test]
    fn udp_kinds_draw_every_legacy_malformation() {
        let g = Mix { kind: Kind::Ipv4, packets: 2000, malformed: 0.2, ..Default::default() }.generate();
        assert!(g.malformed.iter().all(|(m, n)| *n > 0 && Malformation::ALL.contains(m)), "{:?}", g.malformed);
        assert!(g.by_reason.keys().all(|k| !k.starts_with("malformed-newip")));
    }

    #[test]
    fn lbf_kinds_are_benchmark_frames() {
        for (kind, want_plbf) in [(Kind::NewipLbf, false), (Kind::NewipPlbf, true)] {
            let m = Mix { kind, packets: 500, flows: 100, ..Default::default() };
            let g = m.generate();
            assert_eq!(g.good, 500);
            for (i, (ts, f)) in g.frames.iter().enumerate() {
                assert_eq!(f.len(), 60);
                assert_eq!(&f[12..14], &[0x88, 0xb6]);
                assert_eq!(&f[6..12], &SRC_MAC);
                let b = &f[14..];
                let h = nip::parse(b).unwrap();
                assert_eq!(h.src.addr(b).ipv4(), Some([192, 168, 0, 1]));
                let d = u32::from_be_bytes(h.dst.addr(b).ipv4().unwrap());
                assert!((m.dst4..m.dst4 + 100).contains(&d));
                assert_eq!(h.contracts.count, 1);
                if want_plbf {
                    let v = nip::PreciseLbf::read(b, h.contracts.precise_lbf_value().unwrap()).unwrap();
                    assert_eq!(v, BENCH_PLBF);
                } else {
                    match nip::contracts(b, &h).next() {
                        Some(Ok(nip::ContractRef::Lbf {
                            min_delay: 0,
                            max_delay: 50,
                            experienced_delay: 0,
                            fib_todelay: 5,
                            fib_tohops: 8,
                            ..
                        })) => {}
                        other => panic!("{other:?}"),
                    }
                    // 20-byte payload: the stamp fits.
                    assert_eq!(read_stamp(frame_payload(f).unwrap()), Some((i as u64, *ts)));
                }
            }
        }
    }

    #[test]
    fn newip_mix_covers_every_type_contract_and_hbh() {
        let m = Mix { kind: Kind::NewipMix, packets: 2000, ..Default::default() };
        let g = m.generate();
        let (mut src_t, mut dst_t, mut asym, mut hbh) = (0u8, 0u8, 0, 0);
        let mut c = nip::Contracts::default();
        let mut sigs = std::collections::BTreeSet::new();
        let mut chunk_counts = std::collections::BTreeSet::new();
        for (_, f) in &g.frames {
            let (et, off) = nip::ethernet_payload(f).unwrap();
            let b = &f[off..];
            if et == nip::ETHERTYPE_IPV6 {
                let v = nip::find_plbf_option(b).unwrap().unwrap();
                assert_eq!(nip::PreciseLbf::read(b, v).unwrap(), BENCH_PLBF);
                hbh += 1;
                continue;
            }
            let h = nip::parse(b).unwrap();
            src_t |= 1 << h.src.ty as u8;
            dst_t |= 1 << h.dst.ty as u8;
            asym += (h.src.ty != h.dst.ty) as usize;
            let k = h.contracts;
            c.max_delay = c.max_delay.or(k.max_delay);
            c.lbf = c.lbf.or(k.lbf);
            c.ping = c.ping.or(k.ping);
            c.precise_lbf = c.precise_lbf.or(k.precise_lbf);
            c.on_time = c.on_time.or(k.on_time);
            c.unknown_tlvs |= k.unknown_tlvs;
            if let Some(v) = k.qualitative_value() {
                let ch: Vec<_> = newipd_core::contract::qualitative::chunks(b, v).collect();
                chunk_counts.insert(ch.len());
                sigs.extend(ch.iter().map(|c| c.significance));
                assert_eq!(ch[0].significance, 0);
                assert!(ch[0].length >= 16);
            }
        }
        assert_eq!(src_t, 0b11111);
        assert_eq!(dst_t, 0b11111);
        assert!(asym > 0 && hbh > 0);
        assert!(c.max_delay.is_some() && c.lbf.is_some() && c.ping.is_some());
        assert!(c.precise_lbf.is_some() && c.on_time.is_some() && c.unknown_tlvs > 0);
        assert_eq!(chunk_counts.into_iter().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert!(sigs.contains(&0) && sigs.len() >= 4);
        assert_eq!(g, m.generate());
    }
}
