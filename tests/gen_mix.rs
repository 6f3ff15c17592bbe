//! `newipd gen` with traffic mix files and the New IP kinds: the pcap it
//! writes holds what the mix asks for, and bad mix files name the field.

use newipd_tools::gen::pcap;
use newipd_tools::gen::traffic::{frame_payload, read_stamp};
use newipd_core::wire::newip::{self as nip, ContractRef};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn newipd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_newipd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run newipd")
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("newipd-gen-mix-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_kind_mix_file_writes_every_kind() {
    let dir = tmpdir("every");
    let out = dir.join("every.pcap");
    let o = newipd(&[
        "gen",
        "--mix",
        "pipelines/mixes/every-kind.toml",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("wrote 2000 packets"), "{stdout}");
    assert!(
        stdout.contains("malformed by reason:") && stdout.contains("malformed-newip-"),
        "{stdout}"
    );

    let frames = pcap::read(&out).unwrap();
    assert_eq!(frames.len(), 2000);
    let (mut v4, mut v6_vlan, mut hbh, mut newip, mut bad) = (0, 0, 0, 0, 0);
    let mut src_types = std::collections::BTreeSet::new();
    let mut dst_types = std::collections::BTreeSet::new();
    let (mut ping, mut on_time, mut unknown, mut qual, mut bcast) = (0, 0, 0, 0, 0);
    for (i, f) in frames.iter().enumerate() {
        let Some((et, off)) = nip::ethernet_payload(f) else {
            bad += 1;
            continue;
        };
        let l3 = &f[off..];
        let good = match et {
            0x0800 => {
                let ok = f.len() == 60
                    && l3.len() >= 20
                    && l3[0] == 0x45
                    && l3[1] == 46 << 2
                    && l3[8] > 1;
                v4 += ok as usize;
                ok
            }
            nip::ETHERTYPE_IPV6 => match nip::find_plbf_option(l3) {
                Ok(Some(val)) => {
                    let p = nip::PreciseLbf::read(l3, val).unwrap();
                    assert_eq!((p.max_ns, f.len()), (5_000_000, 128));
                    hbh += 1;
                    true
                }
                Ok(None) if off == 18 && l3.len() >= 48 && l3[7] > 1 => {
                    assert!((80..=200).contains(&f.len()), "{}", f.len());
                    v6_vlan += 1;
                    true
                }
                _ => false,
            },
            nip::ETHERTYPE_NEWIP => match nip::parse(l3) {
                Ok(h) => {
                    newip += 1;
                    src_types.insert(h.src.ty as u8);
                    dst_types.insert(h.dst.ty as u8);
                    bcast += (h.cast == nip::Cast::Broadcast) as usize;
                    for c in nip::contracts(l3, &h) {
                        match c.unwrap() {
                            ContractRef::Ping { hops: 255, .. } => ping += 1,
                            ContractRef::OnTime { .. } => on_time += 1,
                            ContractRef::UnknownTlv {
                                ty: 0x8100, len: 4, ..
                            } => unknown += 1,
                            ContractRef::Qualitative { count: 3, .. } => qual += 1,
                            _ => {}
                        }
                    }
                    true
                }
                Err(_) => false,
            },
            _ => false,
        };
        if good {
            let p = frame_payload(f).expect("payload");
            if p.len() >= 16 {
                assert_eq!(read_stamp(p).unwrap().0, i as u64);
            }
        } else {
            bad += 1;
        }
    }
    // 10 flow sets of equal share: 200 packets each, minus the ~2% malformed.
    assert!(bad > 10 && bad < 120, "bad {bad}");
    assert!((150..=200).contains(&v4), "ipv4 {v4}");
    assert!((150..=200).contains(&v6_vlan), "ipv6 {v6_vlan}");
    assert!((150..=200).contains(&hbh), "hbh {hbh}");
    assert!((7 * 150..=7 * 200).contains(&newip), "newip {newip}");
    assert_eq!(v4 + v6_vlan + hbh + newip + bad, 2000);
    let all: std::collections::BTreeSet<u8> = (0..=4).collect();
    assert_eq!(src_types, all);
    assert_eq!(dst_types, all);
    assert!(ping > 150 && on_time > 150 && unknown > 150 && qual > 150 && bcast > 150);

    // Same file, same bytes.
    let again = dir.join("again.pcap");
    let o = newipd(&[
        "gen",
        "--mix",
        "pipelines/mixes/every-kind.toml",
        "--out",
        s(&again),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
    // The file wins over --packets; --seed fills in nothing the file sets.
    let o = newipd(&[
        "gen",
        "--mix",
        "pipelines/mixes/every-kind.toml",
        "--packets",
        "5",
        "--out",
        s(&again),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(pcap::read(&again).unwrap().len(), 2000);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn newip_lbf_kind_is_benchmark_traffic() {
    let dir = tmpdir("lbf");
    let out = dir.join("lbf.pcap");
    let o = newipd(&[
        "gen",
        "--kind",
        "newip-lbf",
        "--packets",
        "1000",
        "--flows",
        "10",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let frames = pcap::read(&out).unwrap();
    assert_eq!(frames.len(), 1000);
    let mut dsts = std::collections::BTreeSet::new();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.len(), 60);
        assert_eq!(&f[12..14], &[0x88, 0xb6]);
        let b = &f[14..];
        let h = nip::parse(b).unwrap();
        assert_eq!(h.src.addr(b).ipv4(), Some([192, 168, 0, 1]));
        let d = h.dst.addr(b).ipv4().unwrap();
        assert_eq!(&d[..3], &[10, 0, 0]);
        assert!((1..=10).contains(&d[3]));
        dsts.insert(d);
        assert_eq!(h.contracts.count, 1);
        match nip::contracts(b, &h).next().unwrap().unwrap() {
            ContractRef::Lbf {
                min_delay: 0,
                max_delay: 50,
                experienced_delay: 0,
                fib_todelay: 5,
                fib_tohops: 8,
                ..
            } => {}
            c => panic!("{c:?}"),
        }
        let (seq, _) = read_stamp(h.payload(b)).unwrap();
        assert_eq!(seq, i as u64);
    }
    assert_eq!(dsts.len(), 10);

    for kind in ["newip-plbf", "newip-mix"] {
        let p = dir.join(format!("{kind}.pcap"));
        let o = newipd(&[
            "gen",
            "--kind",
            kind,
            "--packets",
            "300",
            "--malformed",
            "0.1",
            "--out",
            s(&p),
        ]);
        assert!(o.status.success(), "{kind}: {}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("malformed-newip-"),
            "{}",
            show(&o)
        );
        assert_eq!(pcap::read(&p).unwrap().len(), 300);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_mix_files_exit_2_naming_the_field() {
    let dir = tmpdir("bad");
    let cases = [
        ("[[flow]]\nkind = \"newip\"\ndst = \"8bit:300\"\n", "flow[0].dst"),
        ("[[flow]]\nkind = \"ipv4\"\n[[flow]]\nkind = \"newip\"\ncontracts = [ { type = \"on-time\", damper_ns = 1, prio = 8 } ]\n", "flow[1].contracts[0].prio"),
        ("packets = 10\nspeed = 3\n", "unknown field `speed`"),
        ("[[flow]]\nkind = \"ipv4\"\nsize = [100, 60]\n", "flow[0].size"),
        ("rate_pps = 10\nrate_bps = 10\n", "rate_pps, rate_bps"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = dir.join(format!("bad{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let o = newipd(&["gen", "--mix", s(&p), "--out", s(&dir.join("x.pcap"))]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {}", show(&o));
        assert!(err.contains(want), "case {i}: want '{want}' in: {err}");
        assert!(
            err.contains(&format!("bad{i}.toml")),
            "case {i} should name the file: {err}"
        );
    }
    let o = newipd(&[
        "gen",
        "--mix",
        "/nonexistent/mix.toml",
        "--out",
        s(&dir.join("x.pcap")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = newipd(&["gen", "--help"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("the file wins"),
        "{}",
        show(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}
