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
//! Top-level values the file leaves out come from the [`Mix`] given as base
//! (the command-line flags); a file without `[[flow]]` sends the base's kind.
//! The full description is in `docs/traffic.md`.

use super::mix::Mix;
use super::newip_mix::{preset_flows, BENCH_PLBF, NEWIP_SRC4, SRC6};
use super::traffic::{ChunkSpec, FlowKind, FlowSpec, Rate, Traffic};
use newipd_core::wire::newip::build::{Address, ContractDesc};
use newipd_core::wire::newip::{Cast, OnTime, PreciseLbf};
use serde::Deserialize;
use std::path::Path;

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
        #[serde(default)]
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

fn flow(f: &FileFlow, base: &Mix) -> Result<FlowSpec, String> {
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
    let src = addr("src", &f.src, if v6 { SRC6 } else { NEWIP_SRC4 })?;
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
    let d = FlowSpec::new(kind, src.clone(), dst.clone());
    let spec = FlowSpec {
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

/// Read a mix file's text into a [`Traffic`]. `base` supplies what the file
/// leaves out: `seed`, `packets`, `rate_pps`, `malformed`, `dst_mac` at the
/// top, `size` and the default destinations (`dst4`, `dst6`) of flows, and
/// the flows themselves (`kind`, `flows`) when there is no `[[flow]]`.
/// Errors name the field (`flow[0].src: ...`).
pub fn parse(text: &str, base: &Mix) -> Result<Traffic, String> {
    let f: FileTop = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    let rate = match (f.rate_pps, f.rate_bps) {
        (Some(_), Some(_)) => return Err("rate_pps, rate_bps: set one of them, not both".into()),
        (Some(p), None) => Rate::Pps(p),
        (None, Some(b)) => Rate::Bps(b),
        (None, None) => Rate::Pps(base.rate_pps),
    };
    let dst_mac = match &f.dst_mac {
        Some(s) => newipd_core::wire::ether::parse_mac(s)
            .ok_or_else(|| format!("dst_mac: '{s}' is not a MAC address like 02:00:00:00:00:01"))?,
        None => base.dst_mac,
    };
    let flows = if f.flow.is_empty() {
        preset_flows(base.kind, base)
    } else {
        let mut v = Vec::with_capacity(f.flow.len());
        for (i, fl) in f.flow.iter().enumerate() {
            v.push(flow(fl, base).map_err(|e| format!("flow[{i}].{e}"))?);
        }
        v
    };
    let t = Traffic {
        seed: f.seed.unwrap_or(base.seed),
        packets: f.packets.unwrap_or(base.packets),
        rate,
        malformed: f.malformed.unwrap_or(base.malformed),
        dst_mac,
        flows,
    };
    t.validate()?;
    Ok(t)
}

/// [`parse`] the file at `path`; errors start with the path.
pub fn load(path: &Path, base: &Mix) -> Result<Traffic, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse(&text, base).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::traffic::{frame_payload, read_stamp};
    use newipd_core::wire::newip as nip;

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
                let t = load(&p, &Mix::default()).unwrap_or_else(|e| panic!("{e}"));
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
        let t = parse(text, &Mix::default()).unwrap();
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
        let t = parse(body, &Mix::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.flows.len(), 4);
        let g = Traffic { packets: 500, ..t }.generate();
        assert_eq!(g.frames.len(), 500);
    }

    #[test]
    fn file_wins_and_flags_fill_in() {
        let base = Mix {
            seed: 5,
            packets: 7,
            malformed: 0.5,
            rate_pps: 10,
            kind: crate::gen::Kind::NewipLbf,
            ..Default::default()
        };
        let t = parse("packets = 3\n", &base).unwrap();
        assert_eq!(
            (t.seed, t.packets, t.malformed, t.rate),
            (5, 3, 0.5, Rate::Pps(10))
        );
        assert_eq!(t.flows, preset_flows(crate::gen::Kind::NewipLbf, &base));
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
            let e = parse(text, &Mix::default()).expect_err(text);
            assert!(e.contains(want), "{text:?}: want '{want}' in: {e}");
        }
    }
}
