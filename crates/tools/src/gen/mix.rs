//! Packet mixes: which kinds of packets, how many flows, what sizes, what
//! share malformed. The same seed always gives the same bytes.

use newipd_core::wire::build::{self, Udp4, Udp6};
use newipd_core::wire::ether;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// The kinds of well-formed traffic the generator makes.
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

/// Ways the generator breaks a packet on purpose; each maps to one drop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformation {
    ShortEthernet,
    TruncatedVlan,
    ShortIpv4,
    BadIhl,
    Ipv4LengthBeyondFrame,
    BadVersion,
    BadChecksum,
    TtlZero,
    TtlOne,
    ShortIpv6,
    Ipv6LengthBeyondFrame,
    HopLimitOne,
    UnknownEthertype,
}

impl Malformation {
    pub const ALL: [Malformation; 13] = [
        Malformation::ShortEthernet,
        Malformation::TruncatedVlan,
        Malformation::ShortIpv4,
        Malformation::BadIhl,
        Malformation::Ipv4LengthBeyondFrame,
        Malformation::BadVersion,
        Malformation::BadChecksum,
        Malformation::TtlZero,
        Malformation::TtlOne,
        Malformation::ShortIpv6,
        Malformation::Ipv6LengthBeyondFrame,
        Malformation::HopLimitOne,
        Malformation::UnknownEthertype,
    ];

    /// The drop reason newipd must count this packet under.
    pub fn reason(self) -> newipd_core::kinds::Reason {
        use newipd_core::kinds::Reason as R;
        match self {
            Malformation::ShortEthernet => R::MalformedEthernet,
            Malformation::TruncatedVlan => R::MalformedVlan,
            Malformation::ShortIpv4 => R::MalformedIpv4Header,
            Malformation::BadIhl => R::MalformedIpv4Ihl,
            Malformation::Ipv4LengthBeyondFrame => R::MalformedIpv4Length,
            Malformation::BadVersion => R::MalformedIpv4Version,
            Malformation::BadChecksum => R::MalformedIpv4Checksum,
            Malformation::TtlZero | Malformation::TtlOne => R::TtlExpired,
            Malformation::ShortIpv6 => R::MalformedIpv6Header,
            Malformation::Ipv6LengthBeyondFrame => R::MalformedIpv6Length,
            Malformation::HopLimitOne => R::HopLimitExpired,
            Malformation::UnknownEthertype => R::UnsupportedEthertype,
        }
    }

    /// Build one such packet from a good IPv4 (or IPv6) template.
    pub fn make(self, v4: &Udp4, v6: &Udp6) -> Vec<u8> {
        let good4 = || build::udp4(v4.clone());
        match self {
            Malformation::ShortEthernet => good4()[..10].to_vec(),
            Malformation::TruncatedVlan => {
                let mut f = build::ethernet(v4.dst_mac, v4.src_mac, None, ether::ETHERTYPE_VLAN);
                f.extend_from_slice(&[0x00]);
                f
            }
            Malformation::ShortIpv4 => good4()[..14 + 19].to_vec(),
            Malformation::BadIhl => {
                let mut f = good4();
                f[14] = 0x43;
                f
            }
            Malformation::Ipv4LengthBeyondFrame => {
                let mut f = good4();
                let bad = (f.len() - 14 + 1) as u16;
                f[16..18].copy_from_slice(&bad.to_be_bytes());
                newipd_core::wire::ipv4::set_checksum(&mut f[14..]);
                f
            }
            Malformation::BadVersion => {
                let mut f = good4();
                f[14] = 0x55;
                f
            }
            Malformation::BadChecksum => {
                let mut f = good4();
                f[24] ^= 0x5a;
                f
            }
            Malformation::TtlZero => build::udp4(Udp4 { ttl: 0, ..v4.clone() }),
            Malformation::TtlOne => build::udp4(Udp4 { ttl: 1, ..v4.clone() }),
            Malformation::ShortIpv6 => build::udp6(v6.clone())[..14 + 39].to_vec(),
            Malformation::Ipv6LengthBeyondFrame => {
                let mut f = build::udp6(v6.clone());
                let n = f.len();
                f.truncate(n - 4);
                f
            }
            Malformation::HopLimitOne => build::udp6(Udp6 { hop_limit: 1, ..v6.clone() }),
            Malformation::UnknownEthertype => {
                let mut f = build::ethernet(v4.dst_mac, v4.src_mac, None, 0x88cc);
                f.resize(60, 0);
                f
            }
        }
    }
}

/// A traffic mix description.
#[derive(Debug, Clone)]
pub struct Mix {
    pub kind: Kind,
    pub packets: usize,
    /// Distinct destination addresses (and source ports).
    pub flows: u32,
    /// Frame size in bytes without FCS (64 on the wire = 60 here).
    pub size: usize,
    pub seed: u64,
    /// Share of packets made malformed on purpose (0.0..=1.0), spread over every [`Malformation`].
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

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    pub frames: Vec<(u64, Vec<u8>)>,
    pub good: usize,
    /// How many of each malformation, in [`Malformation::ALL`] order.
    pub malformed: Vec<(Malformation, usize)>,
    /// How many malformed packets were generated per drop-reason name
    /// (legacy ones under [`Malformation::reason`]`().name()`, New IP ones
    /// under `malformed-newip-...` / `malformed-hbh-...`). Only reasons
    /// with at least one packet appear; the values sum to the number of
    /// malformed frames.
    pub by_reason: std::collections::BTreeMap<&'static str, usize>,
}

impl Mix {
    /// Generate the frames with their timestamps (ns). Payloads of at least
    /// 16 bytes start with the frame's index and timestamp (see
    /// [`traffic`](super::traffic)). The New IP kinds are generated through
    /// [`Traffic::from_mix`](super::Traffic::from_mix).
    pub fn generate(&self) -> Generated {
        if self.kind.is_newip() {
            return super::Traffic::from_mix(self).generate();
        }
        let mut rng = Pcg64Mcg::seed_from_u64(self.seed);
        let mut out = Generated { malformed: Malformation::ALL.iter().map(|m| (*m, 0)).collect(), ..Default::default() };
        let gap = 1_000_000_000 / self.rate_pps.max(1);
        let flows = self.flows.max(1);
        for i in 0..self.packets {
            let flow = rng.gen_range(0..flows);
            let ts = i as u64 * gap;
            let v4 = Udp4 {
                dst_mac: self.dst_mac,
                dst: self.dst4.wrapping_add(flow),
                sport: 1024 + (flow % 50000) as u16,
                ident: i as u16,
                frame_len: self.size,
                ..Default::default()
            };
            let v6 = Udp6 {
                dst_mac: self.dst_mac,
                dst: self.dst6.wrapping_add(flow as u128),
                sport: 1024 + (flow % 50000) as u16,
                frame_len: self.size.max(62),
                ..Default::default()
            };
            let frame = if self.malformed > 0.0 && rng.gen_bool(self.malformed.min(1.0)) {
                let k = rng.gen_range(0..Malformation::ALL.len());
                out.malformed[k].1 += 1;
                *out.by_reason.entry(Malformation::ALL[k].reason().name()).or_insert(0) += 1;
                Malformation::ALL[k].make(&v4, &v6)
            } else {
                out.good += 1;
                // The payload stamp, sized for the frame actually built.
                let s4 = |d: Udp4| {
                    let eth = if d.vlan.is_some() { 18 } else { 14 };
                    let plen = d.frame_len.saturating_sub(eth + 28);
                    build::udp4(Udp4 { payload: stamp(plen, i as u64, ts), ..d })
                };
                let s6 = |d: Udp6| {
                    let eth = if d.vlan.is_some() { 18 } else { 14 };
                    let plen = d.frame_len.saturating_sub(eth + 48);
                    build::udp6(Udp6 { payload: stamp(plen, i as u64, ts), ..d })
                };
                match self.kind {
                    Kind::Ipv4 => s4(v4),
                    Kind::Ipv6 => s6(v6),
                    Kind::Mix => {
                        let vlan = (i % 8 == 7).then_some(100);
                        if rng.gen_bool(0.5) {
                            s4(Udp4 { vlan, ..v4 })
                        } else {
                            s6(Udp6 { vlan, ..v6 })
                        }
                    }
                    Kind::NewipLbf | Kind::NewipPlbf | Kind::NewipMix => unreachable!("handled above"),
                }
            };
            out.frames.push((ts, frame));
        }
        out
    }
}

/// The first 16 bytes of a payload of `plen` bytes: the stamp, or nothing
/// when it does not fit (the builders fill the rest with their pattern).
fn stamp(plen: usize, seq: u64, ts: u64) -> Vec<u8> {
    if plen < super::traffic::STAMP_LEN {
        return Vec::new();
    }
    super::traffic::payload(super::traffic::STAMP_LEN, seq, ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use newipd_core::fib::NextHop;
    use newipd_core::path::{Router, Verdict};

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
    fn legacy_payloads_carry_the_stamp_without_changing_sizes() {
        for kind in [Kind::Ipv4, Kind::Ipv6, Kind::Mix] {
            for size in [60, 61, 62, 64, 100] {
                let m = Mix { kind, packets: 40, size, rate_pps: 1000, ..Default::default() };
                for (i, (ts, f)) in m.generate().frames.iter().enumerate() {
                    let eth = if f[12..14] == [0x81, 0x00] { 18 } else { 14 };
                    let v6 = f[eth - 2..eth] == [0x86, 0xdd];
                    let frame_len = if v6 { size.max(62) } else { size };
                    assert_eq!(f.len(), frame_len.max(eth + if v6 { 48 } else { 28 }), "{kind:?} {size}");
                    let p = crate::gen::traffic::frame_payload(f).unwrap();
                    if p.len() >= 16 {
                        assert_eq!(crate::gen::traffic::read_stamp(p), Some((i as u64, *ts)));
                    }
                    assert_eq!(*ts, i as u64 * 1_000_000);
                }
            }
        }
    }

    #[test]
    fn every_malformation_hits_its_reason() {
        let r = Router::new(
            &[(0, 0, 0)],
            &[(0, 0, 0)],
            vec![NextHop::new(0, [2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8])],
            true,
        );
        let (v4, v6) = (Udp4::default(), Udp6::default());
        for m in Malformation::ALL {
            let mut f = m.make(&v4, &v6);
            assert_eq!(r.process(&mut f), Verdict::Drop(m.reason()), "{m:?}");
        }
    }
}
