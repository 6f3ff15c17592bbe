//! newipd's route tables against DPDK's at Internet scale: `Lpm4` / `Lpm6`
//! (crates/core/src/fib) against `rte_fib` (DIR-24-8), `rte_lpm`,
//! `rte_fib6` (trie) and `rte_lpm6`, on the route sets of `newipd
//! gen-routes` (1M IPv4, 220k IPv6 prefixes by default).
//!
//! ```sh
//! cargo bench --bench fib_compare                  # 3 runs of each page size
//! cargo bench --bench fib_compare -- --runs 1 --v4 100000 --v6 20000
//! cargo bench --bench fib_compare -- --pages 2m --skip-lpm   # quicker
//! ```
//!
//! (`--skip-lpm`: without `rte_lpm`, whose install of a full table takes
//! over a minute: it scans all its rules of a length on every add.)
//!
//! Each run is a process of its own (the EAL starts once per process),
//! with all tables on 4 KiB pages or all on 2 MiB pages (transparent huge
//! pages: newipd's tables through the daemon's advice; DPDK's tables on an
//! external heap of anonymous memory mapped and advised the same way:
//! with `--no-huge` DPDK's own memory is a memfd, which gets no huge pages
//! unless the administrator enables them for shmem); runs alternate
//! between the two. The table printed at the end holds the median of the
//! runs, the conclusion last. Per table:
//!
//! * **lookup**: ns per address over 2^20 addresses in batches of 32
//!   (`rte_fib_lookup_bulk`, `rte_lpm_lookup_bulk`, `rte_lpm_lookupx4` four
//!   at a time, `rte_lpm6_lookup_bulk_func`; ours one `lookup` at a time in
//!   a loop of 32), each batch's 32 results summed (the same for all).
//!   *spread*: each address a random one inside a random prefix of the set
//!   (caches and TLB miss as on a router with a full table); *3 prefixes*:
//!   addresses inside 3 prefixes only (the table's compute cost, all cached).
//!   Median of 48 passes of 2^16 addresses (three times round), tables
//!   taking turns. Every table must give every address the same next hop
//!   (checked before timing). *batch* rows: ours through `lookup_batch`.
//! * **build**: create the table and install the whole set (ours:
//!   `Lpm4::build`, one batch; DPDK: one add per route, as its API offers).
//! * **updates/s**: add then delete random prefixes (the set's length mix)
//!   one at a time into the full table, for up to a second.
//! * **memory**: what the table holds in memory: ours, the resident memory
//!   its build added (its tables are allocated zeroed and backed only where
//!   written); DPDK's, its heap allocation (DPDK zeroes what it allocates,
//!   so all of it is written). *reserved*: address space (ours: the first
//!   level and the group pool).
//!
//! EAL: `--no-huge -m 256 --no-pci --no-shconf -l 0
//! --force-max-simd-bitwidth=512` (the last lets `rte_fib` use AVX-512 when
//! asked; without the CPU flags those rows are left out), and the tables'
//! heap sized from the sets (about 1.6 GiB for 1M + 220k).

use newipd_core::fib::lpm4::Lpm4;
use newipd_core::fib::lpm6::Lpm6;
use newipd_core::fib::trie::Trie;
use newipd_dpdk::eal::Eal;
use newipd_dpdk::fibref::{self, Lookup, NhSize, RteFib, RteFib6, RteLpm, RteLpm6};
use newipd_tools::routes::{set, Route4, Route6, Spec};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

const BATCH: usize = 32;
const PROBES: usize = 1 << 20;
/// A timed pass covers one segment of the addresses; passes go round the
/// segments three times, tables taking turns, and each table's median pass
/// counts (short passes: a pass the scheduler interrupts is an outlier the
/// median drops, on a machine shared with other work).
const SEGMENT: usize = 1 << 16;
const PASSES: usize = 3 * PROBES / SEGMENT;
/// Prefixes tried for the update rate (each added, then deleted).
const UPDATES: usize = 20_000;
const UPDATE_BUDGET: Duration = Duration::from_secs(1);
const MIB: f64 = 1024.0 * 1024.0;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pages {
    Small,
    Huge,
}

impl Pages {
    fn name(self) -> &'static str {
        match self {
            Pages::Small => "4K",
            Pages::Huge => "2M",
        }
    }

    fn parse(s: &str) -> Option<Pages> {
        match s.to_ascii_uppercase().as_str() {
            "4K" => Some(Pages::Small),
            "2M" => Some(Pages::Huge),
            _ => None,
        }
    }
}

struct Opts {
    runs: usize,
    v4: usize,
    v6: usize,
    seed: u64,
    pages: Vec<Pages>,
    child: Option<Pages>,
    skip_lpm: bool,
}

fn opts() -> Opts {
    let mut o = Opts { runs: 3, v4: 1_000_000, v6: 220_000, seed: 1, pages: vec![Pages::Small, Pages::Huge], child: None, skip_lpm: false };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let num = |i: usize| -> usize { args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{} needs a number", args[i])) };
    while i < args.len() {
        match args[i].as_str() {
            "--runs" => o.runs = num(i),
            "--v4" => o.v4 = num(i),
            "--v6" => o.v6 = num(i),
            "--seed" => o.seed = num(i) as u64,
            "--pages" => {
                let v = args.get(i + 1).map(String::as_str).unwrap_or("");
                o.pages = if v == "both" { vec![Pages::Small, Pages::Huge] } else { vec![Pages::parse(v).expect("--pages 4k|2m|both")] };
            }
            "--skip-lpm" => {
                o.skip_lpm = true;
                i += 1;
                continue;
            }
            "--child" => o.child = Some(Pages::parse(args.get(i + 1).map(String::as_str).unwrap_or("")).expect("--child 4k|2m")),
            // cargo bench passes --bench; filters and the like mean nothing here.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

fn main() {
    let o = opts();
    match o.child {
        Some(p) => child(&o, p),
        None => parent(&o),
    }
}

// ---- the parent: runs, medians, the table ---------------------------------

/// (family, table, pages, metric) -> one value per run.
type Results = BTreeMap<(String, String, String, String), Vec<f64>>;

fn parent(o: &Opts) {
    let exe = std::env::current_exe().expect("own path");
    let mut res: Results = BTreeMap::new();
    for r in 0..o.runs {
        // Alternate which page size goes first.
        let mut order = o.pages.clone();
        if r % 2 == 1 {
            order.reverse();
        }
        for p in order {
            eprintln!("== run {} of {}, {} pages", r + 1, o.runs, p.name());
            let out = Command::new(&exe)
                .args(["--child", p.name(), "--v4", &o.v4.to_string(), "--v6", &o.v6.to_string(), "--seed", &o.seed.to_string()])
                .args(o.skip_lpm.then_some("--skip-lpm"))
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("run a measuring child");
            assert!(out.status.success(), "the {} run failed: {}", p.name(), out.status);
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = line.split('\t').collect();
                if let ["R", fam, table, pages, metric, v] = f[..] {
                    let key = (fam.to_string(), table.to_string(), pages.to_string(), metric.to_string());
                    res.entry(key).or_default().push(v.parse().expect("a number"));
                }
            }
        }
    }
    report(o, &res);
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn report(o: &Opts, res: &Results) {
    let get = |fam: &str, table: &str, pages: &str, metric: &str| -> Option<f64> {
        res.get(&(fam.into(), table.into(), pages.into(), metric.into())).map(|v| median(v))
    };
    let spread_of = |fam: &str, table: &str, pages: &str| -> Option<(f64, f64)> {
        let v = res.get(&(fam.into(), table.into(), pages.into(), "spread".into()))?;
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        Some((lo, hi))
    };
    if let Some(g) = get("all", "generator", "-", "v4_s") {
        println!(
            "route sets (newipd gen-routes' generator, seed {}): {} IPv4 in {:.2} s, {} IPv6 in {:.2} s",
            o.seed,
            o.v4,
            g,
            o.v6,
            get("all", "generator", "-", "v6_s").unwrap_or(f64::NAN)
        );
    }
    println!("median of {} runs per page size; lookups in ns per address (batches of {BATCH}; range over the runs)", o.runs);
    for (fam, title, n) in [("v4", "IPv4", o.v4), ("v6", "IPv6", o.v6)] {
        println!("\n{title}, {n} prefixes");
        println!(
            "{:<28} {:>5} {:>22} {:>11} {:>9} {:>10} {:>11} {:>10} {:>12}",
            "table", "pages", "lookup spread", "3 prefixes", "build s", "routes/s", "updates/s", "memory MiB", "reserved MiB"
        );
        let mut tables: Vec<&String> = res.keys().filter(|k| k.0 == fam).map(|k| &k.1).collect();
        tables.dedup();
        let order = |t: &str| TABLE_ORDER.iter().position(|x| *x == t).unwrap_or(99);
        tables.sort_by_key(|t| order(t));
        tables.dedup();
        for t in tables {
            for p in &o.pages {
                let pn = p.name();
                let cell = |m: &str, prec: usize| get(fam, t, pn, m).map_or("-".to_string(), |v| format!("{v:.prec$}"));
                let spread = match (get(fam, t, pn, "spread"), spread_of(fam, t, pn)) {
                    (Some(m), Some((lo, hi))) => format!("{m:.2} ({lo:.1}-{hi:.1})"),
                    _ => "-".into(),
                };
                let rate = |m: &str| get(fam, t, pn, m).map_or("-".to_string(), |v| format!("{:.0}", v));
                let per_s = get(fam, t, pn, "build_s").map_or("-".to_string(), |b| format!("{:.0}", n as f64 / b));
                println!(
                    "{:<28} {:>5} {:>22} {:>11} {:>9} {:>10} {:>11} {:>10} {:>12}",
                    t,
                    pn,
                    spread,
                    cell("hot", 2),
                    cell("build_s", 2),
                    per_s,
                    rate("updates_per_s"),
                    cell("mem_mib", 0),
                    cell("reserved_mib", 0)
                );
            }
        }
    }
    println!("\nconclusion (lookups spread over all prefixes, the case that matters at scale):");
    let verdict = |mine: f64, theirs: f64| {
        if mine <= theirs {
            format!("ours faster by {:.2}x", theirs / mine)
        } else {
            format!("DPDK's faster by {:.2}x", mine / theirs)
        }
    };
    for fam in ["v4", "v6"] {
        for p in &o.pages {
            let pn = p.name();
            let best = |f: &dyn Fn(&str) -> bool| {
                TABLE_ORDER.iter().filter(|t| f(t)).filter_map(|t| get(fam, t, pn, "spread").map(|v| (*t, v))).min_by(|a, b| a.1.total_cmp(&b.1))
            };
            let (Some(ours), Some(dpdk), Some(scalar)) = (
                best(&|t| t.starts_with("newipd")),
                best(&|t| !t.starts_with("newipd")),
                best(&|t| !t.starts_with("newipd") && !t.ends_with("avx512") && !t.ends_with("x4")),
            ) else {
                continue;
            };
            println!(
                "  {fam} {pn} pages: ours at best {} {:.2} ns; DPDK's at best {} {:.2} ns ({}); without vector instructions {} {:.2} ns ({})",
                ours.0,
                ours.1,
                dpdk.0,
                dpdk.1,
                verdict(ours.1, dpdk.1),
                scalar.0,
                scalar.1,
                verdict(ours.1, scalar.1)
            );
        }
    }
}

const TABLE_ORDER: [&str; 13] = [
    "newipd Lpm4",
    "newipd Lpm4 batch",
    "rte_fib dir24_8 4B",
    "rte_fib dir24_8 4B avx512",
    "rte_fib dir24_8 8B",
    "rte_fib dir24_8 8B avx512",
    "rte_lpm bulk",
    "rte_lpm x4",
    "newipd Lpm6",
    "newipd Lpm6 batch",
    "rte_fib6 trie 4B",
    "rte_fib6 trie 4B avx512",
    "rte_lpm6",
];

// ---- a child: one process, one page size ------------------------------------

fn emit(fam: &str, table: &str, pages: &str, metric: &str, v: f64) {
    println!("R\t{fam}\t{table}\t{pages}\t{metric}\t{v}");
}

/// Resident memory of this process, bytes.
fn rss() -> f64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace().nth(1).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0) * 4096.0
}

/// Anonymous memory on transparent huge pages, bytes.
fn anon_huge() -> f64 {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    s.lines().find(|l| l.starts_with("AnonHugePages:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0)
        * 1024.0
}

/// What a build added: time, resident memory, DPDK heap.
struct Built<T> {
    t: T,
    secs: f64,
    rss: f64,
    heap: f64,
}

fn measure<T>(what: &str, socket: i32, f: impl FnOnce() -> T) -> Built<T> {
    let (r0, h0) = (rss(), fibref::heap_allocated(socket) as f64);
    let start = Instant::now();
    let t = f();
    let secs = start.elapsed().as_secs_f64();
    let b = Built { t, secs, rss: rss() - r0, heap: fibref::heap_allocated(socket) as f64 - h0 };
    eprintln!("  built {what} in {secs:.2} s (+{:.0} MiB resident)", b.rss / MIB);
    b
}

/// Addresses inside 3 prefixes of the set only (the hot case).
fn hot(bits: u32, routes: &[(u128, u8)], n: usize) -> Vec<u128> {
    let mut r = Pcg64Mcg::seed_from_u64(3);
    let picks: Vec<(u128, u8)> = (0..3).map(|_| routes[r.gen_range(0..routes.len())]).collect();
    (0..n).map(|i| set::address_in(&mut r, bits, picks[i % 3].0, picks[i % 3].1)).collect()
}

/// Prefixes for the update rate: the set's length mix, none in the set, shuffled.
fn fresh<T: Copy>(more: Vec<T>, key: impl Fn(&T) -> (u128, u8), have: &HashSet<(u128, u8)>) -> Vec<T> {
    let mut v: Vec<T> = more.into_iter().filter(|r| !have.contains(&key(r))).take(UPDATES).collect();
    v.shuffle(&mut Pcg64Mcg::seed_from_u64(9));
    v
}

/// Add then delete `prefixes` one at a time (`op(p, true)` adds, `op(p,
/// false)` deletes) for up to the budget: updates per second, and the
/// cycles done before an update was refused, if one was.
fn update_rate<P: Copy, E: std::fmt::Debug>(prefixes: &[P], mut op: impl FnMut(P, bool) -> Result<(), E>) -> (f64, Option<(usize, E)>) {
    let start = Instant::now();
    let mut n = 0usize;
    let mut refused = None;
    for &p in prefixes {
        if let Err(e) = op(p, true).and_then(|()| op(p, false)) {
            refused = Some((n / 2, e));
            break;
        }
        n += 2;
        if n.is_multiple_of(64) && start.elapsed() > UPDATE_BUDGET {
            break;
        }
    }
    (n as f64 / start.elapsed().as_secs_f64(), refused)
}

/// Emit an update rate; a refusal goes to stderr (and its cycle count out).
fn emit_rate(fam: &str, table: &str, pages: &str, (rate, refused): (f64, Option<(usize, impl std::fmt::Debug)>)) {
    emit(fam, table, pages, "updates_per_s", rate);
    if let Some((cycles, e)) = refused {
        eprintln!("  {fam} {table}: an update was refused after {cycles} add+delete cycles: {e:?}");
        emit(fam, table, pages, "refused_after", cycles as f64);
    }
}

#[inline(always)]
fn fold(acc: u64, out: &[u64; BATCH]) -> u64 {
    out.iter().fold(acc, |a, &x| a.wrapping_add(x))
}

/// One pass over `addrs` in batches of 32: ns per address, and the sum of results.
fn pass<A>(addrs: &[A], mut batch: impl FnMut(&[A], &mut [u64; BATCH])) -> (f64, u64) {
    let mut out = [0u64; BATCH];
    let mut acc = 0u64;
    let start = Instant::now();
    for c in addrs.chunks_exact(BATCH) {
        batch(black_box(c), &mut out);
        acc = fold(acc, &out);
    }
    (start.elapsed().as_nanos() as f64 / addrs.len() as f64, black_box(acc))
}

/// A lookup of one batch: addresses in, next hops (0: none) out.
type BatchFn<'a, A> = Box<dyn FnMut(&[A], &mut [u64; BATCH]) + 'a>;

/// One table's lookup: `prepare` before each pass (choose DPDK's lookup
/// function), then `f` per batch of 32.
struct Entry<'a, A> {
    name: &'static str,
    prepare: Box<dyn FnMut() + 'a>,
    f: BatchFn<'a, A>,
}

fn entry<'a, A>(name: &'static str, f: impl FnMut(&[A], &mut [u64; BATCH]) + 'a) -> Entry<'a, A> {
    Entry { name, prepare: Box::new(|| {}), f: Box::new(f) }
}

/// Check that every table answers every address alike, then time the
/// passes interleaved; emits the median ns per address of each.
fn lookups<A: Copy>(fam: &str, pages: &str, case: &str, addrs: &[A], mut tables: Vec<Entry<'_, A>>) {
    let mut first: Option<(&str, Vec<u64>)> = None;
    for e in tables.iter_mut() {
        (e.prepare)();
        let mut got = vec![0u64; addrs.len()];
        for (c, w) in addrs.chunks_exact(BATCH).zip(got.chunks_exact_mut(BATCH)) {
            let mut out = [0u64; BATCH];
            (e.f)(c, &mut out);
            w.copy_from_slice(&out);
        }
        match &first {
            None => first = Some((e.name, got)),
            Some((name0, want)) => {
                let bad = got.iter().zip(want).filter(|(a, b)| a != b).count();
                assert_eq!(bad, 0, "{fam} {case}: {} disagrees with {name0} on {bad} of {} addresses", e.name, addrs.len());
            }
        }
    }
    drop(first);
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); tables.len()];
    for k in 0..PASSES {
        let seg = &addrs[(k * SEGMENT) % addrs.len()..][..SEGMENT.min(addrs.len())];
        for (i, e) in tables.iter_mut().enumerate() {
            (e.prepare)();
            ns[i].push(pass(seg, &mut e.f).0);
        }
    }
    for (i, e) in tables.iter().enumerate() {
        let m = median(&ns[i]);
        eprintln!("  {fam} {case:<7} {:<28} {m:6.2} ns/address", e.name);
        emit(fam, e.name, pages, case, m);
    }
}

/// An `rte_fib` row: `l` chosen before each pass.
fn fib_entry<'a, 'b: 'a>(name: &'static str, f: &'a RefCell<&'b mut RteFib>, l: Lookup) -> Entry<'a, u32> {
    Entry {
        name,
        prepare: Box::new(move || {
            f.borrow_mut().select(l);
        }),
        f: Box::new(move |c: &[u32], out: &mut [u64; BATCH]| f.borrow().lookup_bulk(c, out)),
    }
}

/// Second-level groups an IPv4 set takes (/24s holding longer prefixes).
fn groups4(routes: &[Route4]) -> u32 {
    routes.iter().filter(|r| r.1 > 24).map(|r| r.0 >> 8).collect::<HashSet<_>>().len() as u32
}

fn groups6(routes: &[Route6]) -> u32 {
    Trie::<16, { 1 << 24 }>::groups_needed(routes.iter().map(|r| (r.0.to_be_bytes(), r.1 as u16))) as u32
}

/// The groups `rte_fib6`'s trie reserves for a set (it refuses a route
/// when the reservations would pass its `num_tbl8`): each route longer
/// than /24 reserves the 8-bit levels between the level of its longest
/// covering route (at least /24) and its own, whether or not other routes
/// share them. An upper bound: DPDK reserves nothing for a route whose
/// last level already holds another.
fn reserved6(routes: &[Route6]) -> u32 {
    let have: HashSet<(u128, u8)> = routes.iter().map(|r| (r.0, r.1)).collect();
    let ceil8 = |l: u32| l.div_ceil(8) * 8;
    routes
        .iter()
        .filter(|r| r.1 > 24)
        .map(|&(a, l, _)| {
            let parent = (25..l).rev().find(|&p| have.contains(&(a & !set::host_mask(128, p), p))).unwrap_or(24);
            (ceil8(l as u32) - ceil8(parent as u32)) / 8
        })
        .sum()
}

fn child(o: &Opts, pages: Pages) {
    let pn = pages.name();
    let spec = Spec { v4: o.v4, v6: o.v6, seed: o.seed, next_hops: 16, avoid4: vec![(0x0a00_0200, 24)], avoid6: vec![(0xfd00_0002u128 << 96, 64)] };
    let t = Instant::now();
    let v4 = set::v4_routes(&spec).expect("IPv4 set");
    emit("all", "generator", "-", "v4_s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let v6 = set::v6_routes(&spec).expect("IPv6 set");
    emit("all", "generator", "-", "v6_s", t.elapsed().as_secs_f64());
    let key4 = |r: &Route4| (r.0 as u128, r.1);
    let key6 = |r: &Route6| (r.0, r.1);
    let up4 = fresh(
        set::v4_routes(&Spec { v4: UPDATES * 2, seed: o.seed + 1000, ..spec.clone() }).expect("update prefixes"),
        key4,
        &v4.iter().map(key4).collect(),
    );
    let up6 = fresh(
        set::v6_routes(&Spec { v6: UPDATES * 2, seed: o.seed + 1000, ..spec.clone() }).expect("update prefixes"),
        key6,
        &v6.iter().map(key6).collect(),
    );
    let spread4: Vec<u32> = set::spread4(&v4, PROBES, o.seed).into_iter().map(|x| x.0).collect();
    let spread6: Vec<u128> = set::spread6(&v6, PROBES, o.seed).into_iter().map(|x| x.0).collect();
    let hot4: Vec<u32> = hot(32, &v4.iter().map(key4).collect::<Vec<_>>(), PROBES).into_iter().map(|a| a as u32).collect();
    let hot6 = hot(128, &v6.iter().map(key6).collect::<Vec<_>>(), PROBES);
    let bytes = |v: &[u128]| v.iter().map(|a| a.to_be_bytes()).collect::<Vec<[u8; 16]>>();
    let (spread6b, hot6b) = (bytes(&spread6), bytes(&hot6));

    // Size DPDK's tables, and its memory, from the sets.
    let (max4, max6) = ((v4.len() + up4.len() + 1024) as u32, (v6.len() + up6.len() + 1024) as u32);
    let tbl8_4 = groups4(&v4) + groups4(&up4) + 1024;
    let tbl8_6 = groups6(&v6) + groups6(&up6) + 4096;
    let tbl8_fib6 = reserved6(&v6) + 4096;
    let mib = |b: f64| (b / MIB).ceil() as usize;
    let need = 64 + mib(tbl8_4 as f64 * 1024.0) + mib(max4 as f64 * 160.0) // rte_fib 4B: tbl24, tbl8, RIB
        + 128 + mib(tbl8_4 as f64 * 2048.0) + mib(max4 as f64 * 160.0) // rte_fib 8B
        + 64 + mib(tbl8_4 as f64 * 1024.0) + mib(max4 as f64 * 8.0) // rte_lpm: rules
        + 64 + mib(tbl8_fib6 as f64 * 1024.0) + mib(max6 as f64 * 200.0) // rte_fib6 4B
        + 64 + mib(tbl8_6 as f64 * 1024.0 * 1.5) + mib(max6 as f64 * 200.0); // rte_lpm6: rules and tbl8 hashes
    let heap = (need + need / 4 + 64) << 20;
    let args: Vec<String> = [
        "fib_compare",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-shconf",
        "-l",
        "0",
        "--log-level=*:error",
        &format!("--file-prefix=fibcmp{}", std::process::id()),
        "--force-max-simd-bitwidth=512",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal = Eal::init(&args).expect("EAL init");
    // DPDK's tables on a heap of anonymous memory, on the same pages as ours.
    let socket = fibref::external_heap("fibcmp", heap, pages == Pages::Huge).expect("DPDK heap");
    eprintln!("  DPDK heap of {} MiB ({tbl8_4} IPv4 groups, {tbl8_6} IPv6 groups, {tbl8_fib6} for rte_fib6)", heap >> 20);
    if pages == Pages::Huge {
        newipd_core::fib::lpm4::set_page_advice(|b| {
            newipd_dpdk::mem::advise_huge(b);
        });
    }
    let huge0 = anon_huge();

    // ---- IPv4 ----
    let ours = measure("newipd Lpm4", socket, || Lpm4::build(&v4));
    let fib4 = measure("rte_fib dir24_8 4B", socket, || {
        let mut f = RteFib::dir24_8("fib4", socket, max4, tbl8_4, NhSize::Four).expect("rte_fib");
        for &(a, l, nh) in &v4 {
            f.add(a, l, nh as u64 + 1).expect("rte_fib_add");
        }
        f
    });
    let fib8 = measure("rte_fib dir24_8 8B", socket, || {
        let mut f = RteFib::dir24_8("fib8", socket, max4, tbl8_4, NhSize::Eight).expect("rte_fib");
        for &(a, l, nh) in &v4 {
            f.add(a, l, nh as u64 + 1).expect("rte_fib_add");
        }
        f
    });
    // rte_lpm scans its rules of a length for every add: a full table
    // takes over a minute (--skip-lpm leaves it out).
    let lpm = (!o.skip_lpm).then(|| {
        measure("rte_lpm", socket, || {
            let mut f = RteLpm::new("lpm4", socket, max4, tbl8_4).expect("rte_lpm");
            for &(a, l, nh) in &v4 {
                f.add(a, l, nh + 1).expect("rte_lpm_add");
            }
            f
        })
    });
    let reserved4 = (1usize << 24) as f64 * 4.0 + ours.t.pool().capacity as f64 * 1024.0;
    let mut built = vec![
        ("newipd Lpm4", (ours.secs, ours.rss), reserved4),
        ("rte_fib dir24_8 4B", (fib4.secs, fib4.heap), fib4.heap),
        ("rte_fib dir24_8 8B", (fib8.secs, fib8.heap), fib8.heap),
    ];
    if let Some(l) = &lpm {
        built.push(("rte_lpm bulk", (l.secs, l.heap), l.heap));
    }
    for (name, b, reserved) in built {
        emit("v4", name, pn, "build_s", b.0);
        emit("v4", name, pn, "mem_mib", b.1 / MIB);
        emit("v4", name, pn, "reserved_mib", reserved / MIB);
    }
    let (mut fib4, mut fib8, mut lpm, ours) = (fib4.t, fib8.t, lpm.map(|l| l.t), ours.t);
    let avx4 = fib4.select(Lookup::Avx512) && fib8.select(Lookup::Avx512);
    {
        // Behind cells, so that a row can choose the table's lookup function.
        let (f4, f8, ours) = (&RefCell::new(&mut fib4), &RefCell::new(&mut fib8), &ours);
        for (case, addrs) in [("spread", &spread4), ("hot", &hot4)] {
            let mut tables = vec![
                entry("newipd Lpm4", |c: &[u32], out: &mut [u64; BATCH]| {
                    for (o, &a) in out.iter_mut().zip(c) {
                        *o = ours.lookup(a).map_or(0, |v| v as u64 + 1);
                    }
                }),
                entry("newipd Lpm4 batch", |c: &[u32], out: &mut [u64; BATCH]| {
                    ours.lookup_batch(c, |i, nh| out[i] = nh.map_or(0, |v| v as u64 + 1));
                }),
                fib_entry("rte_fib dir24_8 4B", f4, Lookup::Scalar),
                fib_entry("rte_fib dir24_8 8B", f8, Lookup::Scalar),
            ];
            if let Some(lpm) = &lpm {
                tables.push(entry("rte_lpm bulk", |c: &[u32], out: &mut [u64; BATCH]| {
                    let mut raw = [0u32; BATCH];
                    lpm.lookup_bulk(c, &mut raw);
                    for (o, r) in out.iter_mut().zip(raw) {
                        *o = RteLpm::hop(r).unwrap_or(0) as u64;
                    }
                }));
                tables.push(entry("rte_lpm x4", |c: &[u32], out: &mut [u64; BATCH]| {
                    let mut hops = [0u32; BATCH];
                    lpm.lookupx4_bulk(c, &mut hops, 0);
                    for (o, h) in out.iter_mut().zip(hops) {
                        *o = h as u64;
                    }
                }));
            }
            if avx4 {
                tables.push(fib_entry("rte_fib dir24_8 4B avx512", f4, Lookup::Avx512));
                tables.push(fib_entry("rte_fib dir24_8 8B avx512", f8, Lookup::Avx512));
            }
            lookups("v4", pn, case, addrs, tables);
        }
    }
    fib4.select(Lookup::Scalar);
    let r = update_rate(&up4, |p, add| if add { ours.add(p.0, p.1, 1).map(drop) } else { ours.delete(p.0, p.1).map(drop) });
    emit_rate("v4", "newipd Lpm4", pn, r);
    let r = update_rate(&up4, |p, add| if add { fib4.add(p.0, p.1, 1) } else { fib4.delete(p.0, p.1) });
    emit_rate("v4", "rte_fib dir24_8 4B", pn, r);
    if let Some(lpm) = &mut lpm {
        let r = update_rate(&up4, |p, add| if add { lpm.add(p.0, p.1, 1) } else { lpm.delete(p.0, p.1) });
        emit_rate("v4", "rte_lpm bulk", pn, r);
    }
    drop((ours, fib4, fib8, lpm));

    // ---- IPv6 ----
    let ours = measure("newipd Lpm6", socket, || Lpm6::build(&v6));
    let fib6 = measure("rte_fib6 trie 4B", socket, || {
        let mut f = RteFib6::trie("fib6", socket, max6, tbl8_fib6, NhSize::Four).expect("rte_fib6");
        for &(a, l, nh) in &v6 {
            f.add(&a.to_be_bytes(), l, nh as u64 + 1).expect("rte_fib6_add");
        }
        f
    });
    let lpm6 = measure("rte_lpm6", socket, || {
        let mut f = RteLpm6::new("lpm6", socket, max6, tbl8_6 + tbl8_6 / 2).expect("rte_lpm6");
        for &(a, l, nh) in &v6 {
            f.add(&a.to_be_bytes(), l, nh + 1).expect("rte_lpm6_add");
        }
        f
    });
    let reserved6 = (1usize << 24) as f64 * 4.0 + ours.t.pool().capacity as f64 * 1024.0;
    for (name, b, reserved) in [
        ("newipd Lpm6", (ours.secs, ours.rss), reserved6),
        ("rte_fib6 trie 4B", (fib6.secs, fib6.heap), fib6.heap),
        ("rte_lpm6", (lpm6.secs, lpm6.heap), lpm6.heap),
    ] {
        emit("v6", name, pn, "build_s", b.0);
        emit("v6", name, pn, "mem_mib", b.1 / MIB);
        emit("v6", name, pn, "reserved_mib", reserved / MIB);
    }
    let (mut fib6, mut lpm6, ours) = (fib6.t, lpm6.t, ours.t);
    let avx6 = fib6.select(Lookup::Avx512);
    {
        let (f6, lpm6, ours) = (&RefCell::new(&mut fib6), &lpm6, &ours);
        for (case, addrs, addrs_b) in [("spread", &spread6, &spread6b), ("hot", &hot6, &hot6b)] {
            // Ours takes u128 keys, DPDK's byte arrays: each gets its own
            // form of the same addresses, by index (the batch's first).
            let idx: Vec<u32> = (0..addrs.len() as u32).collect();
            let fib6 = |name: &'static str, l: Lookup| Entry::<u32> {
                name,
                prepare: Box::new(move || {
                    f6.borrow_mut().select(l);
                }),
                f: Box::new(move |c: &[u32], out: &mut [u64; BATCH]| {
                    let at = c[0] as usize;
                    f6.borrow().lookup_bulk(&addrs_b[at..at + BATCH], out)
                }),
            };
            let mut tables = vec![
                entry("newipd Lpm6", |c: &[u32], out: &mut [u64; BATCH]| {
                    let at = c[0] as usize;
                    for (o, &a) in out.iter_mut().zip(&addrs[at..at + BATCH]) {
                        *o = ours.lookup(a).map_or(0, |v| v as u64 + 1);
                    }
                }),
                entry("newipd Lpm6 batch", |c: &[u32], out: &mut [u64; BATCH]| {
                    let at = c[0] as usize;
                    ours.lookup_batch(&addrs[at..at + BATCH], |i, nh| out[i] = nh.map_or(0, |v| v as u64 + 1));
                }),
                fib6("rte_fib6 trie 4B", Lookup::Scalar),
                entry("rte_lpm6", |c: &[u32], out: &mut [u64; BATCH]| {
                    let at = c[0] as usize;
                    let mut hops = [0i32; BATCH];
                    lpm6.lookup_bulk(&addrs_b[at..at + BATCH], &mut hops);
                    for (o, h) in out.iter_mut().zip(hops) {
                        *o = h.max(0) as u64;
                    }
                }),
            ];
            if avx6 {
                tables.push(fib6("rte_fib6 trie 4B avx512", Lookup::Avx512));
            }
            lookups("v6", pn, case, &idx, tables);
        }
    }
    fib6.select(Lookup::Scalar);
    let r = update_rate(&up6, |p, add| if add { ours.add(p.0, p.1, 1).map(drop) } else { ours.delete(p.0, p.1).map(drop) });
    emit_rate("v6", "newipd Lpm6", pn, r);
    let r = update_rate(&up6, |p, add| {
        let ip = p.0.to_be_bytes();
        if add {
            fib6.add(&ip, p.1, 1)
        } else {
            fib6.delete(&ip, p.1)
        }
    });
    let fib6_refused = r.1.is_some();
    emit_rate("v6", "rte_fib6 trie 4B", pn, r);
    if fib6_refused {
        // The table holds the set only, as when the first update prefix
        // went in without trouble: does it still take it?
        let (a, l, _) = up6[0];
        let again = fib6.add(&a.to_be_bytes(), l, 1);
        eprintln!("  v6 rte_fib6 trie 4B: holding the set only again, the first update prefix (accepted in the first cycle) now: {again:?}");
    }
    let r = update_rate(&up6, |p, add| {
        let ip = p.0.to_be_bytes();
        if add {
            lpm6.add(&ip, p.1, 1)
        } else {
            lpm6.delete(&ip, p.1)
        }
    });
    emit_rate("v6", "rte_lpm6", pn, r);
    eprintln!("  {:.0} MiB on transparent huge pages ({:.0} MiB before the tables)", anon_huge() / MIB, huge0 / MIB);
    drop((ours, fib6, lpm6));
    // Exit without rte_eal_cleanup (as the daemon does).
    eal.leave();
}
