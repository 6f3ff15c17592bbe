//! The command line: pipelines validate, bad ones name the field, help is there,
//! and the demo runs.

mod common;
use common::*;
use std::process::Command;

fn newipd(args: &[&str]) -> std::process::Output {
    Command::new(bin()).args(args).output().unwrap()
}

#[test]
fn every_shipped_pipeline_checks() {
    // Pipelines (files with [[port]]) pass `newipd check`; traffic mixes
    // (files with [[flow]]) generate; in pipelines/ and its subdirectories.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let out_dir = tmpdir("shipped-mixes");
    let (mut pipelines, mut mixes) = (0, 0);
    let mut todo = vec![dir];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
                continue;
            }
            if !p.extension().is_some_and(|x| x == "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let out = if text.contains("[[port]]") {
                pipelines += 1;
                newipd(&["check", p.to_str().unwrap()])
            } else {
                mixes += 1;
                let pcap = out_dir.join(format!("{mixes}.pcap"));
                newipd(&["gen", "--mix", p.to_str().unwrap(), "--packets", "100", "--out", pcap.to_str().unwrap()])
            };
            assert!(out.status.success(), "{}: {}", p.display(), show(&out));
        }
    }
    assert!(pipelines >= 6 && mixes >= 4, "expected shipped pipelines and mixes, found {pipelines} and {mixes}");
}

#[test]
fn bad_pipelines_exit_nonzero_naming_the_field() {
    let dir = tmpdir("badcfg");
    let cases = [
        ("[[port]]\nname = \"a\"\ndevice = \"net_null0\"\ncolour = 1\n", "unknown field `colour`"),
        ("[[port]]\nname = \"a\"\ndevice = \"net_null0\"\npeer_mac = \"02:00:00:00:00:01\"\n[[route]]\nprefix = \"10.0.0.0/33\"\nport = \"a\"\n", "route[0].prefix"),
        ("[[port]]\nname = \"a\"\ndevice = \"net_null0\"\npeer_mac = \"02:00:00:00:00:01\"\n[[route]]\nprefix = \"10.0.0.0/8\"\nport = \"b\"\n", "route[0].port: no port named 'b'"),
        ("[[port]]\nname = \"a\"\ndevice = \"net_null0\"\npeer_mac = \"02:00:00:00:00:01\"\n[[route]]\nprefix = \"10.0.0.0/8\"\nport = \"a\"\n[[route]]\nprefix = \"10.0.0.0/8\"\nport = \"a\"\n", "route[1].prefix: duplicate route"),
        ("[settings]\nburst = 0\n[[port]]\nname = \"a\"\ndevice = \"net_null0\"\n", "settings.burst"),
        ("", "the pipeline has no [[port]]"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = dir.join(format!("bad{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let out = newipd(&["check", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {}", show(&out));
        assert!(err.contains(want), "case {i}: want '{want}' in: {err}");
        assert!(err.contains(&format!("bad{i}.toml")), "case {i} should name the file: {err}");
    }
    let out = newipd(&["check", "/nonexistent.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_rejects_bad_arguments_before_starting_dpdk() {
    let pipeline = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/router.toml");
    let p = pipeline.to_str().unwrap();
    let out = newipd(&["run", "--pipeline", p, "--port", "nosuch=net_null0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no port named 'nosuch'"));
    let out = newipd(&["run", "--pipeline", p, "--duration", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--duration"));
}

#[test]
fn missing_device_is_a_clear_runtime_error() {
    let dir = tmpdir("nodev");
    let pipeline = "[[port]]\nname = \"a\"\ndevice = \"0000:7f:1f.7\"\n";
    let (out, _) = run(&dir, pipeline, &["--duration", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("port 'a'"), "{}", show(&out));
}

#[test]
fn help_explains_every_subcommand() {
    let out = newipd(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for w in ["run", "check", "demo", "gen", "mirror"] {
        assert!(text.contains(w), "{text}");
    }
    let out = newipd(&["mirror", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for w in ["--interfaces", "--follow", "--json", "--table", "rtnetlink"] {
        assert!(text.contains(w), "mirror --help lacks {w}: {text}");
    }
    assert!(!text.contains("--rcvbuf"), "a flag for tests only: {text}");
    let out = newipd(&["run", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for w in ["--pipeline", "--duration", "--packets", "--until-idle", "--port", "--report-json", "EAL"] {
        assert!(text.contains(w), "run --help lacks {w}: {text}");
    }
}

#[test]
fn demo_runs_and_accounts_for_everything() {
    let dir = tmpdir("demo");
    let out = Command::new(bin())
        .args(["demo", "--packets", "20000", "--keep"])
        .arg(&dir)
        .args(["--", "--no-huge", "-m", "256", "--no-shconf", "--no-pci", "-l", "0", "--log-level=*:warning", "--file-prefix=nit-demo"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rx 20000"), "{text}");
    assert!(text.contains("(holds)"), "{text}");
    let fwd4 = newipd_tools::gen::pcap::read(&dir.join("wan4-out.pcap")).unwrap().len();
    let fwd6 = newipd_tools::gen::pcap::read(&dir.join("wan6-out.pcap")).unwrap().len();
    assert!(fwd4 > 9000 && fwd6 > 9000, "{fwd4} {fwd6}");
}

#[test]
fn gen_is_reproducible() {
    let dir = tmpdir("gen");
    for name in ["a.pcap", "b.pcap"] {
        let out = newipd(&["gen", "--out", dir.join(name).to_str().unwrap(), "--packets", "300", "--kind", "mix", "--malformed", "0.1", "--seed", "9"]);
        assert!(out.status.success(), "{}", show(&out));
    }
    assert_eq!(std::fs::read(dir.join("a.pcap")).unwrap(), std::fs::read(dir.join("b.pcap")).unwrap());
    let out = newipd(&["gen", "--out", dir.join("c.pcap").to_str().unwrap(), "--malformed", "2"]);
    assert_eq!(out.status.code(), Some(2));
}
