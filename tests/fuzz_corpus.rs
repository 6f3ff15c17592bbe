//! Replays the fuzzing corpus and the saved crash inputs as an ordinary test:
//! every file of `fuzz/corpus/*/` and `fuzz/regressions/` goes through both
//! fuzz targets' logic, `newipd_core::path::harness::fuzz_one` (target `forward`) and
//! the New IP checks of `fuzz/src/check.rs` (target `newip`, included here so
//! the two cannot drift apart). See docs/fuzzing.md.
//!
//! Fails if the corpus is missing or empty; reports every failing file (name,
//! target, panic message, input in hex), not only the first.

#[path = "../fuzz/src/check.rs"]
#[allow(dead_code)]
mod check;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Files directly inside `dir` (no recursion), sorted; none if `dir` is absent.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.expect("read corpus dir entry").path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    v.sort();
    v
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Run `f` on `data`, returning the panic message if it panicked.
fn run(f: fn(&[u8]), data: &[u8]) -> Result<(), String> {
    std::panic::catch_unwind(|| f(data)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into())
    })
}

fn replay(files: &[PathBuf]) -> Vec<String> {
    let targets: [(&str, fn(&[u8])); 2] = [
        ("forward", newipd_core::path::harness::fuzz_one),
        ("newip", check::check_frame),
    ];
    let mut failures = Vec::new();
    for p in files {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
        for (name, f) in targets {
            if let Err(msg) = run(f, &data) {
                failures.push(format!(
                    "{} [{name}]: {msg}\n  input: {}",
                    p.display(),
                    hex(&data)
                ));
            }
        }
    }
    failures
}

#[test]
fn corpus_replays_without_panics() {
    let corpus = fuzz_dir().join("corpus");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("fuzz corpus {} missing: {e}", corpus.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no target directories in {}",
        corpus.display()
    );
    let mut files = Vec::new();
    for d in &dirs {
        let f = files_in(d);
        assert!(!f.is_empty(), "fuzz corpus {} is empty", d.display());
        files.extend(f);
    }
    for t in ["forward", "newip"] {
        assert!(
            dirs.iter().any(|d| d.ends_with(t)),
            "no corpus for target {t}"
        );
    }
    let failures = replay(&files);
    assert!(
        failures.is_empty(),
        "{} of {} corpus runs panicked:\n{}",
        failures.len(),
        2 * files.len(),
        failures.join("\n")
    );
}

#[test]
fn regressions_replay_without_panics() {
    let files = files_in(&fuzz_dir().join("regressions"));
    let failures = replay(&files);
    assert!(
        failures.is_empty(),
        "{} regression runs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The checks themselves must be able to fail: a wash that broke an
/// essential chunk, or a setter writing out of place, would be caught. Here:
/// the New IP vectors are accepted (so the checks really run on them) and a
/// frame too short for Ethernet is ignored without panicking.
#[test]
fn newip_check_runs_on_the_vectors() {
    use newipd_core::wire::newip::{self as nip, vectors};
    for (name, h) in vectors::NEWIP_VECTORS {
        let l3 = vectors::decode_hex(h).expect("hex");
        assert!(nip::parse(&l3).is_ok(), "{name} does not parse");
        for budget in [0, 1, 4, 5, 100] {
            check::check_l3(&l3, budget, 0xdead_beef);
        }
    }
    check::check_frame(&[0u8; 5]);
    check::check_frame(&[]);
}
