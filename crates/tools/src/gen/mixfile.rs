//! Traffic mix files (TOML): `newipd gen --mix FILE`.
//!
//! ```toml
//! seed = 7
//! packets = 100000
//! rate_pps = 1000000          # or rate_bps = 10000000000
//! malformed = 0.01
//! dst_mac = "02:00:00:00:00:01"
//!
//! [[flow]]
//! kind = "newip"              # ipv4, ipv6, newip, ipv6-hbh
//! share = 3                   # relative weight
//! src = "8bit:5"
//! dst = "flex:0a0201"         # + flow number, wrapping in its own width
//! count = 16
//! size = [60, 200]
//! contracts = [ { type = "lbf", min_ms = 0, max_ms = 10 } ]
//! chunks = [ { len = 20, significance = 0 }, { len = 40, significance = 5 } ]
//! ```
//!
//! Every table denies unknown fields; errors name the field
//! (`flow[1].dst: ...`, or the TOML line for syntax and type errors).
//! The top-level values given on the command line ([`Overrides`]) win over
//! the file's; what neither gives comes from the [`Mix`] given as base
//! (the flags' defaults), which also supplies the defaults of flow fields
//! (`size`, `dst`) and, for a file without `[[flow]]`, the kind's preset.
//! The full description is in `docs/traffic.md`.

use super::contracts::{BENCH_PLBF, LBF_TOHOPS};
use super::engine::{Order, Rate, Traffic};
use super::flow::{ChunkSpec, FlowKind, FlowSet, SRC4, SRC6};
use super::presets::Mix;
use newipd_core::wire::newip::build::{Address, ContractDesc};
use newipd_core::wire::newip::{Cast, OnTime, PreciseLbf};
use serde::Deserialize;
use std::path::Path;

/// Top-level values set on the command line; each one given wins over the
/// mix file's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub packets: Option<usize>,
    /// `--rate` (packets/s) or `--rate-bps`: either replaces the file's
    /// `rate_pps` and `rate_bps`.
    pub rate: Option<Rate>,
    pub malformed: Option<f64>,
    pub dst_mac: Option<[u8; 6]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTop {
    seed: Option<u64>,
    packets: Option<usize>,
    rate_pps: Option<u64>,
    rate_bps: Option<u64>,
    malformed: Option<f64>,
    dst_mac: Option<String>,
    #[serde(default)]
    flow: Vec<FileFlow>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FileKind {
    Ipv4,
    Ipv6,
    Newip,
    Ipv6Hbh,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FileCast {
    Unicast,
    Coordcast,
    Multicast,
    Broadcast,
    Groupcast,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged, expecting = "a frame size in bytes, or [min, max]")]
enum FileSize {
    One(usize),
    Range([usize; 2]),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFlow {
    kind: FileKind,
    share: Option<f64>,
    src: Option<String>,
    dst: Option<String>,
    count: Option<u32>,
    cast: Option<FileCast>,
    size: Option<FileSize>,
    dscp: Option<u8>,
    sport: Option<u16>,
    dport: Option<u16>,
    vlan: Option<u16>,
    #[serde(default)]
    contracts: Vec<FileContract>,
    #[serde(default)]
    chunks: Vec<FileChunk>,
}

fn hops_255() -> u16 {
    255
}

fn lbf_tohops() -> u16 {
    LBF_TOHOPS
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
enum FileContract {
    MaxDelay {
        max_ms: u16,
        #[serde(default)]
        exp_ms: u16,
    },
    Lbf {
        #[serde(default)]
        min_ms: u16,
        max_ms: u16,
        #[serde(default)]
        exp_100us: u16,
        #[serde(default)]
        todelay_ms: u16,
        #[serde(default = "lbf_tohops")]
        tohops: u16,
    },
    PreciseLbf {
        #[serde(default)]
        min_ns: u32,
        max_ns: u32,
        #[serde(default)]
        late_ok: bool,
        #[serde(default)]
        experienced_ns: u32,
        #[serde(default)]
        hops: u16,
    },
    Ping {
        #[serde(default)]
        code: u16,
        #[serde(default = "hops_255")]
        hops: u16,
    },
    OnTime {
        damper_ns: u32,
        #[serde(default)]
        prio: u8,
        #[serde(default)]
        di: bool,
    },
    UnknownTlv {
        ty: u16,
        #[serde(default)]
        len: u16,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileChunk {
    len: u16,
    #[serde(default)]
    significance: u8,
}

fn contract(c: &FileContract) -> Result<ContractDesc, String> {
    Ok(match *c {
        FileContract::MaxDelay { max_ms, exp_ms } => ContractDesc::MaxDelay {
            max_allowed_delay: max_ms,
            delay_exp: exp_ms,
        },
        FileContract::Lbf {
            min_ms,
            max_ms,
            exp_100us,
            todelay_ms,
            tohops,
        } => ContractDesc::Lbf {
            min_delay: min_ms,
            max_delay: max_ms,
            experienced_delay: exp_100us,
            fib_todelay: todelay_ms,
            fib_tohops: tohops,
        },
        FileContract::PreciseLbf {
            min_ns,
            max_ns,
            late_ok,
            experienced_ns,
            hops,
        } => ContractDesc::PreciseLbf(PreciseLbf {
            min_ns,
            max_ns,
            experienced_ns,
            hops,
            flags: if late_ok { PreciseLbf::LATE_OK } else { 0 },
        }),
        FileContract::Ping { code, hops } => ContractDesc::Ping {
            code,
            hops,
            timestamp: 0,
        },
        FileContract::OnTime {
            damper_ns,
            prio,
            di,
        } => {
            if prio > 7 {
                return Err(format!("prio: must be 0..=7, not {prio}"));
            }
            ContractDesc::OnTime(OnTime {
                damper_ns,
                prio,
                flags: if di { OnTime::DI } else { 0 },
            })
        }
        FileContract::UnknownTlv { ty, len } => {
            if ty < newipd_core::wire::newip::CT_TLV_FLAG {
                return Err(format!("ty: a TLV type is 0x8000 or above, not {ty:#06x}"));
            }
            if (newipd_core::wire::newip::CT_PRECISE_LBF..=newipd_core::wire::newip::CT_QUALITATIVE)
                .contains(&ty)
            {
                return Err(format!(
                    "ty: {ty:#06x} is a known contract; use its own type"
                ));
            }
            ContractDesc::Tlv {
                ty,
                value: (0..len).map(|i| i as u8).collect(),
            }
        }
    })
}

fn flow(f: &FileFlow, base: &Mix) -> Result<FlowSet, String> {
    let kind = match f.kind {
        FileKind::Ipv4 => FlowKind::Ipv4,
        FileKind::Ipv6 => FlowKind::Ipv6,
        FileKind::Newip => FlowKind::Newip,
        FileKind::Ipv6Hbh => FlowKind::Ipv6Hbh,
    };
    let v6 = matches!(kind, FlowKind::Ipv6 | FlowKind::Ipv6Hbh);
    let addr = |field: &str, s: &Option<String>, default: Address| -> Result<Address, String> {
        match s {
            Some(s) => s.parse::<Address>().map_err(|e| format!("{field}: {e}")),
            None => Ok(default),
        }
    };
    let src = addr("src", &f.src, if v6 { SRC6 } else { SRC4 })?;
    let dst = addr(
        "dst",
        &f.dst,
        if v6 {
            Address::Ipv6(base.dst6.to_be_bytes())
        } else {
            Address::Ipv4(base.dst4.to_be_bytes())
        },
    )?;
    if kind == FlowKind::Newip {
        for (name, set) in [
            ("dscp", f.dscp.is_some()),
            ("sport", f.sport.is_some()),
            ("dport", f.dport.is_some()),
        ] {
            if set {
                return Err(format!(
                    "{name}: newip flows have no IP traffic class or UDP header"
                ));
            }
        }
    }
    let mut contracts = Vec::with_capacity(f.contracts.len());
    for (j, c) in f.contracts.iter().enumerate() {
        contracts.push(contract(c).map_err(|e| format!("contracts[{j}].{e}"))?);
    }
    if kind == FlowKind::Ipv6Hbh && contracts.is_empty() {
        contracts.push(ContractDesc::PreciseLbf(BENCH_PLBF));
    }
    let d = FlowSet::new(kind, src.clone(), dst.clone());
    let spec = FlowSet {
        share: f.share.unwrap_or(1.0),
        count: f.count.unwrap_or(1),
        cast: match f.cast {
            None | Some(FileCast::Unicast) => Cast::Unicast,
            Some(FileCast::Coordcast) => Cast::Coordcast,
            Some(FileCast::Multicast) => Cast::Multicast,
            Some(FileCast::Broadcast) => Cast::Broadcast,
            Some(FileCast::Groupcast) => Cast::Groupcast,
        },
        size: match f.size {
            None => (base.size, base.size),
            Some(FileSize::One(n)) => (n, n),
            Some(FileSize::Range([a, b])) => (a, b),
        },
        dscp: f.dscp.unwrap_or(0),
        sport: f.sport.unwrap_or(d.sport),
        dport: f.dport.unwrap_or(d.dport),
        vlan: f.vlan,
        contracts,
        chunks: f
            .chunks
            .iter()
            .map(|c| ChunkSpec {
                len: c.len,
                significance: c.significance,
            })
            .collect(),
        ..d
    };
    spec.validate()?;
    Ok(spec)
}

/// Read a mix file's text into a [`Traffic`]. Each top-level value comes
/// from `flags` if given there, else from the file, else from `base`
/// (`seed`, `packets`, `rate_pps`, `malformed`, `dst_mac`); `base` also
/// gives the `size` and default destinations (`dst4`, `dst6`) of flows, and
/// the flows themselves (its kind's preset, [`Mix::flow_sets`]) when there
/// is no `[[flow]]`. Errors name the field (`flow[0].src: ...`).
pub fn parse(text: &str, base: &Mix, flags: &Overrides) -> Result<Traffic, String> {
    let f: FileTop = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    let file_rate = match (f.rate_pps, f.rate_bps) {
        (Some(_), Some(_)) => return Err("rate_pps, rate_bps: set one of them, not both".into()),
        (Some(p), None) => Some(Rate::Pps(p)),
        (None, Some(b)) => Some(Rate::Bps(b)),
        (None, None) => None,
    };
    let file_mac = match &f.dst_mac {
        Some(s) => Some(
            newipd_core::wire::ether::parse_mac(s)
                .ok_or_else(|| format!("dst_mac: '{s}' is not a MAC address like 02:00:00:00:00:01"))?,
        ),
        None => None,
    };
    let (flows, order) = if f.flow.is_empty() {
        (base.flow_sets(), base.order())
    } else {
        let mut v = Vec::with_capacity(f.flow.len());
        for (i, fl) in f.flow.iter().enumerate() {
            v.push(flow(fl, base).map_err(|e| format!("flow[{i}].{e}"))?);
        }
        (v, Order::Weighted)
    };
    let t = Traffic {
        seed: flags.seed.or(f.seed).unwrap_or(base.seed),
        packets: flags.packets.or(f.packets).unwrap_or(base.packets),
        rate: flags.rate.or(file_rate).unwrap_or(Rate::Pps(base.rate_pps)),
        malformed: flags.malformed.or(f.malformed).unwrap_or(base.malformed),
        dst_mac: flags.dst_mac.or(file_mac).unwrap_or(base.dst_mac),
        flows,
        order,
    };
    t.validate()?;
    Ok(t)
}

/// [`parse`] the file at `path`; errors start with the path.
pub fn load(path: &Path, base: &Mix, flags: &Overrides) -> Result<Traffic, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse(&text, base, flags).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::payload::{frame_payload, read_stamp};
    use crate::gen::presets::Kind;
    use newipd_core::wire::newip as nip;

    const NO_FLAGS: Overrides = Overrides { seed: None, packets: None, rate: None, malformed: None, dst_mac: None };

    fn shipped(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
            .join("pipelines/mixes")
            .join(name)
    }

    #[test]
    fn shipped_mixes_parse_and_generate() {
        let mut n = 0;
        for e in std::fs::read_dir(shipped("")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let t = load(&p, &Mix::default(), &NO_FLAGS).unwrap_or_else(|e| panic!("{e}"));
                let t = Traffic { packets: 2000, ..t };
                let g = t.generate();
                assert_eq!(g.frames.len(), 2000, "{}", p.display());
                assert_eq!(g.good + g.by_reason.values().sum::<usize>(), 2000);
                assert_eq!(g, t.generate(), "{}: same seed, same bytes", p.display());
                n += 1;
            }
        }
        assert!(n >= 3, "expected 3 shipped mixes, found {n}");
    }

    #[test]
    fn full_example_round_trips_into_flows() {
        let text = r#"
seed = 9
packets = 300
rate_bps = 1000000000
malformed = 0
dst_mac = "02:00:00:00:00:aa"

[[flow]]
kind = "newip"
share = 2
src = "8bit:5"
dst = "flex:0a02ff"
count = 4
cast = "broadcast"
size = [80, 120]
contracts = [
  { type = "max-delay", max_ms = 5 },
  { type = "lbf", min_ms = 0, max_ms = 10 },
  { type = "precise-lbf", min_ns = 0, max_ns = 2000000, late_ok = true },
  { type = "ping" },
  { type = "on-time", damper_ns = 100000, prio = 3 },
  { type = "unknown-tlv", ty = 0x8100, len = 4 },
]
chunks = [ { len = 20, significance = 0 }, { len = 40, significance = 5 } ]

[[flow]]
kind = "ipv4"
dst = "10.1.0.1"
dscp = 46
sport = 7000
dport = 9
size = 64
"#;
        let t = parse(text, &Mix::default(), &NO_FLAGS).unwrap();
        assert_eq!(t.seed, 9);
        assert_eq!(t.rate, Rate::Bps(1_000_000_000));
        assert_eq!(t.dst_mac, [2, 0, 0, 0, 0, 0xaa]);
        assert_eq!(t.flows.len(), 2);
        let f = &t.flows[0];
        assert_eq!(
            (f.count, f.cast, f.size, f.share),
            (4, Cast::Broadcast, (80, 120), 2.0)
        );
        assert_eq!(f.contracts.len(), 6);
        assert_eq!(
            f.contracts[3],
            ContractDesc::Ping {
                code: 0,
                hops: 255,
                timestamp: 0
            }
        );
        let g = t.generate();
        let (mut nn, mut n4) = (0, 0);
        for (i, (ts, fr)) in g.frames.iter().enumerate() {
            if fr[12..14] == [0x88, 0xb6] {
                nn += 1;
                let b = &fr[14..];
                let h = nip::parse(b).unwrap();
                assert_eq!(h.contracts.count, 7);
                assert_eq!(h.cast, Cast::Broadcast);
                let d = h.dst.bytes(b);
                assert!(
                    [[0x0a, 2, 0xff], [0x0a, 3, 0], [0x0a, 3, 1], [0x0a, 3, 2]]
                        .iter()
                        .any(|x| x == d),
                    "{d:?}"
                );
                assert!(
                    (80..=120).contains(&fr.len()) || fr.len() == 14 + h.payload_off as usize + 60
                );
            } else {
                n4 += 1;
                assert_eq!(fr.len(), 64);
                assert_eq!(fr[15], 46 << 2);
                assert_eq!(&fr[34..38], &[0x1b, 0x58, 0, 9]);
            }
            assert_eq!(
                read_stamp(frame_payload(fr).unwrap()),
                Some((i as u64, *ts))
            );
        }
        assert_eq!((nn, n4), (200, 100));
    }

    #[test]
    fn the_documented_example_parses() {
        let doc =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join("docs/traffic.md"))
                .unwrap();
        let start = doc.find("### Full example").expect("example section");
        let block = &doc[start..];
        let body = &block[block.find("```toml\n").unwrap() + 8..];
        let body = &body[..body.find("```").unwrap()];
        let t = parse(body, &Mix::default(), &NO_FLAGS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.flows.len(), 4);
        let g = Traffic { packets: 500, ..t }.generate();
        assert_eq!(g.frames.len(), 500);
    }

    #[test]
    fn flags_win_file_next_then_the_base() {
        let base = Mix { seed: 5, packets: 7, malformed: 0.5, rate_pps: 10, kind: Kind::NewipLbf, ..Default::default() };
        let file = "seed = 9\npackets = 3\nrate_bps = 1000000\nmalformed = 0.25\ndst_mac = \"02:00:00:00:00:aa\"\n";
        // The file wins over the base (the flags' defaults)...
        let t = parse(file, &base, &NO_FLAGS).unwrap();
        assert_eq!((t.seed, t.packets, t.malformed, t.rate, t.dst_mac), (9, 3, 0.25, Rate::Bps(1_000_000), [2, 0, 0, 0, 0, 0xaa]));
        // ...and every flag given wins over the file, one at a time.
        let one = |o: Overrides| parse(file, &base, &o).unwrap();
        assert_eq!(one(Overrides { seed: Some(1), ..NO_FLAGS }).seed, 1);
        assert_eq!(one(Overrides { packets: Some(11), ..NO_FLAGS }).packets, 11);
        assert_eq!(one(Overrides { rate: Some(Rate::Pps(4)), ..NO_FLAGS }).rate, Rate::Pps(4));
        assert_eq!(one(Overrides { malformed: Some(0.0), ..NO_FLAGS }).malformed, 0.0);
        assert_eq!(one(Overrides { dst_mac: Some([2, 0, 0, 0, 0, 0x33]), ..NO_FLAGS }).dst_mac, [2, 0, 0, 0, 0, 0x33]);
        // What neither sets comes from the base; no [[flow]]: the base kind's preset.
        let t = parse("packets = 3\n", &base, &NO_FLAGS).unwrap();
        assert_eq!((t.seed, t.packets, t.malformed, t.rate), (5, 3, 0.5, Rate::Pps(10)));
        assert_eq!((t.flows.clone(), t.order), (base.flow_sets(), base.order()));
        // The same preset the kind sends without a file: the same bytes.
        let udp = Mix { kind: Kind::Mix, packets: 300, malformed: 0.1, ..Default::default() };
        assert_eq!(parse("", &udp, &NO_FLAGS).unwrap().generate(), udp.generate());
        // A flag's value is checked like the file's.
        let e = parse(file, &base, &Overrides { malformed: Some(1.5), ..NO_FLAGS }).unwrap_err();
        assert!(e.starts_with("malformed:"), "{e}");
    }

    #[test]
    fn lbf_contracts_default_to_hops_a_router_forwards() {
        let t = parse("[[flow]]\nkind = \"newip\"\ncontracts = [ { type = \"lbf\", min_ms = 0, max_ms = 10 } ]\n", &Mix::default(), &NO_FLAGS)
            .unwrap();
        match &t.flows[0].contracts[0] {
            ContractDesc::Lbf { fib_tohops, fib_todelay: 0, .. } => assert_eq!(*fib_tohops, LBF_TOHOPS),
            c => panic!("{c:?}"),
        }
        // Contracts every router would drop are refused, naming flow and field.
        for (c, field) in [
            ("{ type = \"lbf\", max_ms = 10, tohops = 0 }", "flow[1].contracts[0].tohops: "),
            ("{ type = \"lbf\", max_ms = 10, todelay_ms = 11 }", "flow[1].contracts[0].todelay_ms: "),
            ("{ type = \"max-delay\", max_ms = 5, exp_ms = 6 }", "flow[1].contracts[0].exp_ms: "),
            ("{ type = \"ping\" }, { type = \"precise-lbf\", max_ns = 10, experienced_ns = 11 }", "flow[1].contracts[1].experienced_ns: "),
        ] {
            let text = format!("[[flow]]\nkind = \"ipv4\"\n[[flow]]\nkind = \"newip\"\ncontracts = [ {c} ]\n");
            let e = parse(&text, &Mix::default(), &NO_FLAGS).unwrap_err();
            assert!(e.starts_with(field) && e.contains("every router drops it"), "{c}: {e}");
        }
        let late = "[[flow]]\nkind = \"newip\"\ncontracts = [ { type = \"precise-lbf\", max_ns = 10, experienced_ns = 11, late_ok = true } ]\n";
        assert!(parse(late, &Mix::default(), &NO_FLAGS).is_ok(), "late_ok: forwarded as best effort");
    }

    /// The shipped mixes' packets through a router that routes everything:
    /// no well-formed packet is refused for its contract, and every LBF one
    /// is forwarded (with `tohops` 0 every router dropped them).
    #[test]
    fn shipped_mixes_lbf_packets_are_forwarded() {
        use newipd_core::fib::{NextHop, Prefix};
        use newipd_core::kinds::Reason;
        use newipd_core::path::{Router, Verdict};
        let mut routes = vec![(Prefix::V4 { addr: 0, len: 0 }, 0), (Prefix::V6 { addr: 0, len: 0 }, 0)];
        routes.push((Prefix::Flex { bytes: [0; 32], bits: 0 }, 0));
        routes.extend((0..=255u8).map(|a| (Prefix::Bits8(a), 0)));
        routes.extend((0..=u16::MAX).map(|a| (Prefix::Bits16(a), 0)));
        let r = Router::build(&routes, vec![NextHop::new(0, [2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8])], vec![[2, 0, 0, 0, 0, 8]], &[], true);
        let refusals = [Reason::NewipLbfNoHops, Reason::NewipEarlyDiscard, Reason::NewipMaxDelayExceeded, Reason::NewipInfeasible];
        let mut lbf_total = 0;
        for name in ["every-kind.toml", "deadlines.toml", "bench-mix.toml"] {
            let t = load(&shipped(name), &Mix::default(), &NO_FLAGS).unwrap();
            let t = Traffic { packets: 3000, ..t };
            let (mut lbf, mut forwarded) = (0, 0);
            for p in t.packets().filter(|p| p.bad.is_none()) {
                let has_lbf = t.flows[p.set].contracts.iter().any(|c| matches!(c, ContractDesc::Lbf { .. }));
                let mut f = p.frame.clone();
                let v = r.process(&mut f);
                if let Verdict::Drop(why) = v {
                    assert!(!refusals.contains(&why), "{name}: flow[{}] dropped: {}", p.set, why.name());
                }
                if has_lbf {
                    lbf += 1;
                    forwarded += matches!(v, Verdict::Forward { .. }) as usize;
                }
            }
            assert!(lbf > 100, "{name}: {lbf} LBF packets");
            assert_eq!(forwarded, lbf, "{name}: every LBF packet is forwarded");
            lbf_total += lbf;
        }
        assert!(lbf_total > 500);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("colour = 1\n", "colour"),
            ("packets = \"many\"\n", "packets"),
            ("rate_pps = 1\nrate_bps = 1\n", "rate_pps, rate_bps"),
            ("malformed = 2.0\n", "malformed:"),
            ("dst_mac = \"nope\"\n", "dst_mac:"),
            ("[[flow]]\nkind = \"ipv5\"\n", "ipv5"),
            ("[[flow]]\nkind = \"ipv4\"\ncolour = 1\n", "colour"),
            ("[[flow]]\nkind = \"newip\"\ndst = \"8bit:300\"\n", "flow[0].dst: '8bit:300': 8-bit address 300 is above 255"),
            ("[[flow]]\nkind = \"ipv4\"\n[[flow]]\nkind = \"ipv4\"\nsrc = \"2001:db8::1\"\n", "flow[1].src:"),
            ("[[flow]]\nkind = \"newip\"\ncontracts = [ { type = \"warp\" } ]\n", "warp"),
            ("[[flow]]\nkind = \"newip\"\ncontracts = [ { type = \"lbf\", max_ms = 1, colour = 2 } ]\n", "colour"),
            ("[[flow]]\nkind = \"newip\"\ncontracts = [ { type = \"on-time\", damper_ns = 1, prio = 9 } ]\n", "flow[0].contracts[0].prio:"),
            ("[[flow]]\nkind = \"newip\"\ncontracts = [ { type = \"unknown-tlv\", ty = 7 } ]\n", "flow[0].contracts[0].ty:"),
            ("[[flow]]\nkind = \"newip\"\nchunks = [ { len = 4, significance = 16 } ]\n", "flow[0].chunks[0].significance:"),
            ("[[flow]]\nkind = \"newip\"\nsize = [100, 60]\n", "flow[0].size:"),
            ("[[flow]]\nkind = \"newip\"\nsize = \"big\"\n", "a frame size in bytes, or [min, max]"),
            ("[[flow]]\nkind = \"newip\"\nsport = 5\n", "flow[0].sport:"),
            ("[[flow]]\nkind = \"ipv4\"\ncast = \"broadcast\"\n", "flow[0].cast:"),
            ("[[flow]]\nkind = \"ipv4\"\ncast = \"everywhere\"\n", "everywhere"),
            ("[[flow]]\nkind = \"ipv6-hbh\"\ncontracts = [ { type = \"ping\" } ]\n", "flow[0].contracts:"),
            ("[[flow]]\nkind = \"newip\"\nshare = 0\n", "flow[0].share:"),
            ("[[flow]]\nkind = \"newip\"\ncount = 0\n", "flow[0].count:"),
        ];
        for (text, want) in cases {
            let e = parse(text, &Mix::default(), &NO_FLAGS).expect_err(text);
            assert!(e.contains(want), "{text:?}: want '{want}' in: {e}");
        }
    }
}
