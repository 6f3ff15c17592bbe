//! `newipd`: the command line.

use clap::{Args, Parser, Subcommand};
use newipd::control::config::{Pipeline, PipelineFile};
use newipd_tools::gen::{Kind, Mix};
use newipd::control::run::{run, RunOptions};
use newipd::ops::exporter::StatsOptions;
use newipd::ops::live::LiveMode;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Counts heap allocations per thread so the report can show the packet loop made none.
#[global_allocator]
static ALLOC: newipd_dpdk::heap::CountingAlloc = newipd_dpdk::heap::CountingAlloc;

#[derive(Parser)]
#[command(
    name = "newipd",
    version,
    about = "Deadline-aware New IP / IPv4 / IPv6 data plane on DPDK",
    long_about = "newipd is a user-space packet processor built on DPDK. It receives bursts of \
packets from DPDK ports (NICs or virtual devices), parses and routes them, and sends them on, \
counting every packet it does not send under a named reason.\n\n\
Start with `newipd demo` (no NIC needed), then `newipd check pipelines/router.toml` and \
`newipd run --pipeline pipelines/router.toml -- <EAL arguments>`.",
    after_help = "EAL arguments go after `--`, for example: -- -l 0-1 --no-huge -m 512 --no-shconf.\n\
See README.md for running on a real NIC and with pktgen."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a pipeline until a limit, Ctrl-C or SIGTERM (RX stops, rings and
    /// queues drain), then print the report. One lcore runs everything, or,
    /// with `[lcores] rx` and `tx`, RX lcores hand packets over rings to the
    /// lcores that own the egress ports (docs/pipeline.md).
    Run(RunArgs),
    /// Validate a pipeline file and print what it sets up; exits non-zero on any error.
    Check {
        /// The pipeline TOML file.
        file: PathBuf,
    },
    /// Generate traffic, route it through net_pcap ports and print the report (no NIC needed).
    Demo(DemoArgs),
    /// Write a reproducible pcap of generated traffic (for tests, benchmarks and
    /// pktgen), or with --live send it on a DPDK port at a target rate.
    Gen(newipd_tools::gen::cli::GenArgs),
    /// Write an Internet-sized route set (1M IPv4, 220k IPv6 prefixes by
    /// default): route lists, `ip -batch` files, and pcaps of traffic spread
    /// over all the prefixes.
    GenRoutes(newipd_tools::routes::cli::GenRoutesArgs),
    /// Receive live traffic (from `newipd gen --live`) on a DPDK port and report
    /// per class latency, loss, reordering, duplicates and contract windows.
    Sink(newipd_tools::gen::cli::SinkArgs),
    /// EDF against FIFO through a shaped bottleneck: deadline flows and best
    /// effort at several offered loads, through the real router stage and
    /// port scheduler in virtual time (no DPDK needed).
    Experiment(ExperimentArgs),
    /// Mirror the kernel's links, addresses, routes and neighbours over
    /// rtnetlink and print them; with --follow, print each change as it
    /// comes (resyncing from a fresh dump if the socket overruns), then the
    /// final state (docs/control-plane.md).
    Mirror(MirrorArgs),
    /// Install route files (`ip -batch` route lines, as `newipd gen-routes`
    /// writes them) into this network namespace's kernel over rtnetlink,
    /// many requests to a send: a full table in seconds where `ip -batch`
    /// takes several times as long. Run it with `ip netns exec NS` for
    /// newipd's namespace; exits non-zero if any request failed.
    InstallRoutes(InstallRoutesArgs),
}

#[derive(Args)]
struct InstallRoutesArgs {
    /// Route files, read in order; lines: `route add|replace|del PREFIX
    /// [via GATEWAY] [dev NAME] [metric N]` (`#` starts a comment).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Args)]
struct MirrorArgs {
    /// Follow only these interfaces (comma-separated names) and what is on
    /// them: addresses, neighbours, routes leaving by them (and routes
    /// leaving by no interface: blackhole, unreachable, prohibit). Default: all.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    interfaces: Option<Vec<String>>,
    /// After the first dump, print each event as it arrives for at most
    /// SECONDS (SIGINT or SIGTERM end it sooner), then the final state.
    #[arg(long, value_name = "SECONDS")]
    follow: Option<f64>,
    /// Print JSON lines: the state as {"state": "initial"|"final", "links",
    /// "addresses", "routes", "neighbours", "stats"}, each event as {"event": ...}.
    #[arg(long)]
    json: bool,
    /// Routing table to follow: main, local, default, all or a number.
    #[arg(long, value_name = "TABLE", default_value = "main")]
    table: String,
    /// Socket receive buffer to ask for, in bytes (tests make it small to force overruns).
    #[arg(long, value_name = "BYTES", hide = true, default_value_t = newipd::control::netlink::socket::DEFAULT_RCVBUF)]
    rcvbuf: usize,
}

#[derive(Args)]
struct ExperimentArgs {
    /// Offered loads as shares of the link rate (repeatable).
    #[arg(long = "load", default_values_t = vec![0.9, 1.0, 1.2])]
    loads: Vec<f64>,
    /// Bottleneck link rate in bits/s.
    #[arg(long, default_value_t = 100_000_000)]
    rate_bps: u64,
    /// Virtual seconds of traffic per run.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Share of offered bytes that carry a precise-LBF deadline.
    #[arg(long, default_value_t = 0.5)]
    deadline_share: f64,
    /// Random seed (the same traffic for EDF and FIFO).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Also write every run's figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    /// The pipeline TOML file (ports, routes, settings).
    #[arg(short, long, value_name = "FILE")]
    pipeline: PathBuf,
    /// Stop after this many seconds (fractions allowed).
    #[arg(long, value_name = "SECS", group = "limit")]
    duration: Option<f64>,
    /// Stop after receiving exactly this many packets.
    #[arg(long, value_name = "N")]
    packets: Option<u64>,
    /// Stop once no packet has arrived for --idle-ms (e.g. a pcap input is used up).
    #[arg(long)]
    until_idle: bool,
    /// Quiet time that ends a run with --until-idle.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    idle_ms: u64,
    /// Replace a port's device from the file: NAME=DEVICE (repeatable).
    #[arg(long = "port", value_name = "NAME=DEVICE")]
    ports: Vec<String>,
    /// Also write the final report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Include the drivers' hardware counters in the report.
    #[arg(long)]
    hw_stats: bool,
    /// Wait up to SECS for every port's link to be up before forwarding
    /// (e.g. memif peers started after this process); fails naming the ports still down.
    #[arg(long, value_name = "SECS")]
    wait_links: Option<f64>,
    /// Live statistics every interval: a redrawn screen on a terminal, one log
    /// line per interval otherwise. auto: on when stdout is a terminal.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "on", "off"])]
    live: String,
    /// Write a JSON snapshot of every statistic to FILE each interval and at exit (one object per line).
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Statistics interval for --live, --stats-json and --metrics freshness.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    stats_interval_ms: u64,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (a bare PORT means 127.0.0.1:PORT).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<String>,
    /// EAL arguments, after `--` (e.g. -l 0-1 -a 0000:03:00.0, or --no-huge -m 512).
    #[arg(last = true, value_name = "EAL ARGS")]
    eal: Vec<String>,
}

#[derive(Args)]
struct DemoArgs {
    /// Packets to generate.
    #[arg(long, default_value_t = 100_000)]
    packets: usize,
    /// Keep the generated and forwarded pcap files in this directory.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// EAL arguments after `--`; default: --no-huge -m 512 --no-shconf --no-pci -l 0.
    #[arg(last = true, value_name = "EAL ARGS")]
    eal: Vec<String>,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("newipd: error: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Check { file } => match Pipeline::load_with(&file, &[]) {
            Ok(p) => {
                print!("{}: ok\n{}", file.display(), p.summary());
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Cmd::Run(a) => {
            let (duration, wait_links) = match (opt_seconds("--duration", a.duration), opt_seconds("--wait-links", a.wait_links)) {
                (Ok(d), Ok(w)) => (d, w),
                (Err(e), _) | (_, Err(e)) => return fail(e),
            };
            if let Err(e) = millis("--idle-ms", a.idle_ms) {
                return fail(e);
            }
            let p = match Pipeline::load_with(&a.pipeline, &a.ports) {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            let stats = match stats_options(&a) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let opts = RunOptions {
                duration,
                packets: a.packets,
                until_idle: a.until_idle.then(|| Duration::from_millis(a.idle_ms.max(1))),
                eal_args: a.eal,
                hw_stats: a.hw_stats,
                wait_links,
                stats,
                reload_from: Some(newipd::control::reload::Source { path: a.pipeline.clone(), overrides: a.ports.clone() }),
            };
            finish(run(&p, &opts), a.report_json.as_deref())
        }
        Cmd::Demo(a) => demo(a),
        Cmd::Experiment(a) => experiment(a),
        Cmd::Gen(a) => print_or_fail(check_gen(&a).and_then(|()| newipd_tools::gen::cli::run(&a))),
        Cmd::GenRoutes(a) => print_or_fail(newipd_tools::routes::cli::run(&a)),
        Cmd::Sink(a) => print_or_fail(check_sink(&a).and_then(|()| newipd_tools::gen::cli::sink(&a))),
        Cmd::Mirror(a) => mirror(a),
        Cmd::InstallRoutes(a) => print_or_fail(install_routes(&a)),
    }
}

fn mirror(a: MirrorArgs) -> ExitCode {
    use newipd::control::netlink::{command, parse::Tables};
    let follow = match opt_seconds("--follow", a.follow) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let tables = match Tables::parse(&a.table) {
        Ok(t) => t,
        Err(e) => return fail(format!("--table {e}")),
    };
    if let Some(names) = &a.interfaces {
        if let Some(bad) = names.iter().find(|n| n.is_empty() || n.len() > 15) {
            return fail(format!("--interfaces: {bad:?} is not an interface name (1 to 15 characters)"));
        }
    }
    let c = command::MirrorCommand { interfaces: a.interfaces, follow, json: a.json, tables, rcvbuf: a.rcvbuf };
    match command::run(&c) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("newipd: error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The longest time any flag takes: a year. Longer, leave the flag out (or stop with SIGINT).
const MAX_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// A flag in seconds: above 0 and at most [`MAX_SECS`] (NaN, infinities, 1e300 refused).
fn seconds(flag: &str, v: f64) -> Result<Duration, String> {
    if v > 0.0 && v <= MAX_SECS {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{flag} {v:?}: must be a number of seconds above 0 and at most {MAX_SECS} (365 days)"))
    }
}

fn opt_seconds(flag: &str, v: Option<f64>) -> Result<Option<Duration>, String> {
    v.map(|v| seconds(flag, v)).transpose()
}

/// A flag in milliseconds: at most [`MAX_SECS`].
fn millis(flag: &str, v: u64) -> Result<(), String> {
    if v as f64 <= MAX_SECS * 1000.0 {
        Ok(())
    } else {
        Err(format!("{flag} {v}: must be at most {} (365 days)", MAX_SECS as u64 * 1000))
    }
}

/// A poll loop's sleep: at most a second (as `settings.idle_sleep_us`).
fn sleep_us(flag: &str, v: u64) -> Result<(), String> {
    if v <= 1_000_000 {
        Ok(())
    } else {
        Err(format!("{flag} {v}: must be at most 1000000 (one second)"))
    }
}

/// Packets a pcap file may hold: the generator builds them in memory first.
const MAX_PCAP_PACKETS: usize = 10_000_000;

/// `newipd gen`'s numeric flags that the generator itself does not bound.
fn check_gen(a: &newipd_tools::gen::cli::GenArgs) -> Result<(), String> {
    opt_seconds("--duration", a.duration)?;
    if a.live {
        seconds("--link-timeout", a.link_timeout)?;
        sleep_us("--idle-sleep-us", a.idle_sleep_us)?;
    } else if let Some(n) = a.packets.filter(|&n| n > MAX_PCAP_PACKETS) {
        return Err(format!("--packets {n}: at most {MAX_PCAP_PACKETS} in a pcap file (the generator holds them in memory); --live sends without that limit"));
    }
    Ok(())
}

/// `newipd sink`'s numeric flags that the sink itself does not bound.
fn check_sink(a: &newipd_tools::gen::cli::SinkArgs) -> Result<(), String> {
    opt_seconds("--duration", a.duration)?;
    millis("--idle-ms", a.idle_ms)?;
    sleep_us("--idle-sleep-us", a.idle_sleep_us)
}

fn install_routes(a: &InstallRoutesArgs) -> Result<String, String> {
    let d = newipd::control::netlink::install::install(&a.files)?;
    let mut msg = format!(
        "installed {} route request(s) in {:.2} s ({:.0} a second), {} failed",
        d.requests,
        d.seconds,
        d.requests as f64 / d.seconds.max(1e-9),
        d.failed
    );
    if d.failed == 0 {
        return Ok(msg);
    }
    for e in &d.errors {
        msg.push_str(&format!("\n  {e}"));
    }
    if d.failed > d.errors.len() as u64 {
        msg.push_str(&format!("\n  ... and {} more", d.failed - d.errors.len() as u64));
    }
    Err(msg)
}

fn print_or_fail(r: Result<String, String>) -> ExitCode {
    match r {
        Ok(msg) => {
            println!("{}", msg.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// The statistics flags of `newipd run`, checked.
fn stats_options(a: &RunArgs) -> Result<StatsOptions, String> {
    use std::io::IsTerminal;
    if !(10..=3_600_000).contains(&a.stats_interval_ms) {
        return Err("--stats-interval-ms: must be between 10 and 3600000".into());
    }
    let tty = std::io::stdout().is_terminal();
    let live = match (a.live.as_str(), tty) {
        ("off", _) | ("auto", false) => LiveMode::Off,
        (_, true) => LiveMode::Screen,
        (_, false) => LiveMode::Lines,
    };
    let metrics = match &a.metrics {
        None => None,
        Some(m) => {
            let text = if m.parse::<u16>().is_ok() { format!("127.0.0.1:{m}") } else { m.clone() };
            Some(text.parse::<SocketAddr>().map_err(|e| format!("--metrics {m}: {e} (expected ADDR:PORT or PORT)"))?)
        }
    };
    Ok(StatsOptions { interval: Duration::from_millis(a.stats_interval_ms), live, json: a.stats_json.clone(), metrics })
}

fn finish(r: Result<newipd::ops::report::Report, newipd::control::run::RunError>, json: Option<&Path>) -> ExitCode {
    match r {
        Ok(report) => {
            print!("{}", report.render());
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&report).unwrap_or_default();
                if let Err(e) = std::fs::write(path, text) {
                    return fail(format!("--report-json {}: {e}", path.display()));
                }
            }
            if report.identity_holds {
                ExitCode::SUCCESS
            } else {
                eprintln!("newipd: accounting identity broken: please report this");
                ExitCode::from(3)
            }
        }
        Err(e) => {
            eprintln!("newipd: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn experiment(a: ExperimentArgs) -> ExitCode {
    use newipd_tools::experiment::{run as run_exp, traffic, Setup};
    use newipd_core::sched::port::Discipline;
    if a.loads.iter().any(|l| !(*l > 0.0 && *l <= 10.0)) {
        return fail("--load: each load must be above 0 and at most 10");
    }
    if !(a.seconds > 0.0 && a.seconds <= 60.0) {
        return fail("--seconds: must be above 0 and at most 60");
    }
    if !(0.0..=1.0).contains(&a.deadline_share) {
        return fail("--deadline-share: must be between 0 and 1");
    }
    println!(
        "{:>6} {:>5} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>8}",
        "load", "disc", "deadline", "on_time", "share", "p50_late", "p99_late", "p999_late", "be_sent"
    );
    let mut all = Vec::new();
    let mut last = (0.0, 0.0);
    for load in &a.loads {
        let s = Setup { rate_bps: a.rate_bps, load: *load, seconds: a.seconds, seed: a.seed, deadline_share: a.deadline_share, ..Default::default() };
        let t = traffic(&s);
        let mut pair = [0.0; 2];
        for (i, d) in [Discipline::Edf, Discipline::Fifo].into_iter().enumerate() {
            let o = run_exp(&s, d, &t);
            println!(
                "{:>5.0}% {:>5} {:>9} {:>9} {:>9.4} {:>8}us {:>8}us {:>8}us {:>8}",
                o.load * 100.0,
                o.discipline,
                o.deadline_packets,
                o.on_time,
                o.on_time_share,
                o.lateness_p50_ns / 1000,
                o.lateness_p99_ns / 1000,
                o.lateness_p999_ns / 1000,
                o.best_effort_sent
            );
            pair[i] = o.on_time_share;
            all.push(o);
        }
        last = (pair[0], pair[1]);
    }
    if let Some(path) = &a.json {
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&all).unwrap_or_default()) {
            return fail(format!("--json {}: {e}", path.display()));
        }
    }
    println!("edf_on_time: {:.4} fifo_on_time: {:.4}", last.0, last.1);
    ExitCode::SUCCESS
}

const DEMO_PIPELINE: &str = include_str!("../pipelines/demo.toml");

fn demo(a: DemoArgs) -> ExitCode {
    if a.packets > MAX_PCAP_PACKETS {
        return fail(format!("--packets {}: at most {MAX_PCAP_PACKETS} (the demo generates them in memory)", a.packets));
    }
    let dir = match &a.keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("newipd-demo-{}", std::process::id())),
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(format!("{}: {e}", dir.display()));
    }
    let input = dir.join("in.pcap");
    let mix = Mix { kind: Kind::Mix, packets: a.packets, malformed: 0.02, ..Default::default() };
    let g = mix.generate();
    if let Err(e) = newipd_tools::gen::pcap::write(&input, &g.frames) {
        return fail(format!("{}: {e}", input.display()));
    }
    println!("demo: generated {} packets ({} malformed on purpose) into {}", g.frames.len(), g.frames.len() - g.good, input.display());
    let mut f: PipelineFile = match toml::from_str(DEMO_PIPELINE) {
        Ok(f) => f,
        Err(e) => return fail(format!("built-in demo pipeline: {e}")),
    };
    let devs = [
        format!("lan=net_pcap0,rx_pcap={},tx_pcap={}", input.display(), dir.join("lan-out.pcap").display()),
        format!("wan4=net_pcap1,tx_pcap={}", dir.join("wan4-out.pcap").display()),
        format!("wan6=net_pcap2,tx_pcap={}", dir.join("wan6-out.pcap").display()),
    ];
    for d in &devs {
        if let Err(e) = Pipeline::override_device(&mut f, d) {
            return fail(e);
        }
    }
    let p = match Pipeline::validate(f) {
        Ok(p) => p,
        Err(e) => return fail(format!("built-in demo pipeline: {e}")),
    };
    let eal = if a.eal.is_empty() {
        ["--no-huge", "-m", "512", "--no-shconf", "--no-pci", "-l", "0", "--log-level=*:warning"].map(String::from).to_vec()
    } else {
        a.eal
    };
    let opts = RunOptions { until_idle: Some(Duration::from_millis(200)), eal_args: eal, ..Default::default() };
    let code = finish(run(&p, &opts), None);
    for port in ["wan4", "wan6"] {
        let path = dir.join(format!("{port}-out.pcap"));
        if let Ok(frames) = newipd_tools::gen::pcap::read(&path) {
            println!("demo: {} holds {} forwarded packets", path.display(), frames.len());
        }
    }
    if a.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    code
}
