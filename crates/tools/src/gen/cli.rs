//! `newipd gen` (a pcap file, or live traffic with `--live`) and `newipd
//! sink`: command-line front ends of the traffic generator and the sink.

use super::{mixfile, pcap, Kind, Mix};
use clap::Args;
use std::path::PathBuf;

/// `newipd gen` arguments.
#[derive(Args, Debug, Clone)]
pub struct GenArgs {
    /// Output pcap file (not with --live).
    #[arg(short, long, value_name = "FILE", required_unless_present = "live", conflicts_with = "live")]
    pub out: Option<PathBuf>,
    /// Send the traffic live on a DPDK port (--port) at the target rate
    /// (--rate pps or --rate-bps, or the mix file's rate) instead of writing
    /// a pcap; each payload carries a live stamp (see docs/traffic.md).
    #[arg(long, requires = "port")]
    pub live: bool,
    /// --live: the port, as vdev devargs (net_memif0,role=client,socket=/tmp/m.sock,
    /// net_tap0,iface=x, ...) or a PCI address.
    #[arg(long, value_name = "DEVICE")]
    pub port: Option<String>,
    /// --live: target rate in bits/s on the wire (frame + 24 bytes), instead of --rate.
    #[arg(long, value_name = "BPS", requires = "live")]
    pub rate_bps: Option<u64>,
    /// --live: stop after this many seconds (then --packets is unbounded unless given).
    #[arg(long, value_name = "SECS", requires = "live")]
    pub duration: Option<f64>,
    /// --live: distinct prebuilt frames, cycled through (1..=4096).
    #[arg(long, default_value_t = 1024, requires = "live")]
    pub templates: usize,
    /// --live: packets per tx_burst (1..=64).
    #[arg(long, default_value_t = 32, requires = "live")]
    pub burst: usize,
    /// --live: sleep this many µs when the next packet is due later than that (0 = spin).
    #[arg(long, default_value_t = 0, requires = "live")]
    pub idle_sleep_us: u64,
    /// --live: seconds to wait for the link to come up before sending.
    #[arg(long, default_value_t = 10.0, requires = "live")]
    pub link_timeout: f64,
    /// --live: also write the report as JSON to this file.
    #[arg(long, value_name = "FILE", requires = "live")]
    pub report_json: Option<PathBuf>,
    /// --live: EAL arguments, after `--` (e.g. -l 0 --no-huge -m 256 --file-prefix=gen).
    #[arg(last = true, value_name = "EAL ARGS")]
    pub eal: Vec<String>,
    /// Traffic mix TOML file (flows of any kind, contracts, shares; see
    /// docs/traffic.md). When given with other flags, the file wins for
    /// every value it sets; the flags fill in what it leaves out (--seed,
    /// --packets, --rate, --malformed, --dst-mac, --size, --dst4, --dst6, and
    /// --kind/--flows when it has no [[flow]]).
    #[arg(long, value_name = "FILE")]
    pub mix: Option<std::path::PathBuf>,
    /// What to send (ignored for a --mix file with [[flow]] tables).
    #[arg(long, value_enum, default_value_t = Kind::Ipv4)]
    pub kind: Kind,
    /// Number of packets (default 10000; with --live --duration, unbounded).
    #[arg(long)]
    pub packets: Option<usize>,
    /// Distinct flows (destination addresses and source ports).
    #[arg(long, default_value_t = 1024)]
    pub flows: u32,
    /// Frame size in bytes without the 4-byte FCS (60 = a 64-byte frame on the wire).
    #[arg(long, default_value_t = 60)]
    pub size: usize,
    /// Random seed; the same seed writes the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of deliberately malformed packets, 0.0 to 1.0.
    #[arg(long, default_value_t = 0.0)]
    pub malformed: f64,
    /// First IPv4 destination; flows count up from it.
    #[arg(long, default_value = "10.0.0.1")]
    pub dst4: std::net::Ipv4Addr,
    /// First IPv6 destination.
    #[arg(long, default_value = "2001:db8:1::1")]
    pub dst6: std::net::Ipv6Addr,
    /// Destination MAC of every frame (the router's port).
    #[arg(long, default_value = "02:00:00:00:00:01")]
    pub dst_mac: String,
    /// Timestamps in the pcap are spaced for this rate (packets per second);
    /// with --live, the target packet rate.
    #[arg(long, default_value_t = 1_000_000)]
    pub rate: u64,
}

/// Default packet count of `newipd gen`.
const DEFAULT_PACKETS: usize = 10_000;

/// Generate the pcap (or with `--live` send the traffic) the arguments
/// describe; returns the summary.
pub fn run(a: &GenArgs) -> Result<String, String> {
    let Some(dst_mac) = newipd_core::wire::ether::parse_mac(&a.dst_mac) else {
        return Err(format!("--dst-mac: '{}' is not a MAC address like 02:00:00:00:00:01", a.dst_mac));
    };
    if !(0.0..=1.0).contains(&a.malformed) {
        return Err("--malformed: must be between 0.0 and 1.0".into());
    }
    if a.size < 60 || a.size > 9000 {
        return Err("--size: must be between 60 and 9000 bytes".into());
    }
    let mix = Mix {
        kind: a.kind,
        packets: a.packets.unwrap_or(DEFAULT_PACKETS),
        flows: a.flows,
        size: a.size,
        seed: a.seed,
        malformed: a.malformed,
        dst4: a.dst4.into(),
        dst6: a.dst6.into(),
        rate_pps: a.rate,
        dst_mac,
    };
    #[cfg(feature = "dpdk")]
    if a.live {
        return live(a, &mix);
    }
    let out = a.out.as_ref().ok_or("--out: required without --live")?;
    let (g, from) = match &a.mix {
        Some(path) => {
            let t = mixfile::load(path, &mix)?;
            (t.generate(), format!(" from mix {} ({} flow sets)", path.display(), t.flows.len()))
        }
        None => (mix.generate(), String::new()),
    };
    pcap::write(out, &g.frames).map_err(|e| format!("{}: {e}", out.display()))?;
    let bad: usize = g.by_reason.values().sum();
    let mut msg = format!("wrote {} packets ({} well-formed, {} malformed) to {}{from}", g.frames.len(), g.good, bad, out.display());
    if bad > 0 {
        let reasons: Vec<String> = g.by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect();
        msg.push_str(&format!("\nmalformed by reason: {}", reasons.join(", ")));
    }
    Ok(msg)
}

#[cfg(feature = "dpdk")]
fn secs(flag: &str, v: f64) -> Result<std::time::Duration, String> {
    if v > 0.0 && v.is_finite() {
        Ok(std::time::Duration::from_secs_f64(v))
    } else {
        Err(format!("{flag}: must be a positive number of seconds"))
    }
}

#[cfg(feature = "dpdk")]
fn live(a: &GenArgs, mix: &Mix) -> Result<String, String> {
    use super::traffic::{Rate, Traffic};
    let mut t = match &a.mix {
        Some(path) => mixfile::load(path, mix)?,
        None => Traffic::from_mix(mix),
    };
    if let Some(bps) = a.rate_bps {
        // The file wins when it set a rate of its own.
        if t.rate == Rate::Pps(mix.rate_pps.max(1)) {
            t.rate = Rate::Bps(bps);
        }
    }
    if !(1..=newipd_core::kinds::MAX_BURST).contains(&a.burst) {
        return Err(format!("--burst: must be 1..={}", newipd_core::kinds::MAX_BURST));
    }
    let duration = a.duration.map(|d| secs("--duration", d)).transpose()?;
    let packets = match (a.packets, duration) {
        (Some(p), _) => Some(p as u64),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_PACKETS as u64),
    };
    let opts = super::live::LiveOptions {
        device: a.port.clone().ok_or("--port: required with --live")?,
        eal_args: a.eal.clone(),
        burst: a.burst,
        templates: a.templates,
        packets,
        duration,
        idle_sleep_us: a.idle_sleep_us,
        link_timeout: secs("--link-timeout", a.link_timeout)?,
    };
    let r = super::live::run(&t, &opts)?;
    write_json(a.report_json.as_deref(), &r)?;
    Ok(r.render())
}

#[cfg(feature = "dpdk")]
fn write_json(path: Option<&std::path::Path>, v: &impl serde::Serialize) -> Result<(), String> {
    if let Some(p) = path {
        let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
        std::fs::write(p, text).map_err(|e| format!("--report-json {}: {e}", p.display()))?;
    }
    Ok(())
}

/// `newipd sink` arguments.
#[derive(Args, Debug, Clone)]
pub struct SinkArgs {
    /// The port to receive on: vdev devargs (net_memif0,role=server,socket=/tmp/m.sock, ...) or a PCI address.
    #[arg(long, value_name = "DEVICE")]
    pub port: String,
    /// Stop after receiving this many packets.
    #[arg(long, value_name = "N")]
    pub packets: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Stop once no packet has arrived for --idle-ms, after the first one.
    #[arg(long)]
    pub until_idle: bool,
    /// Quiet time that ends a run with --until-idle.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub idle_ms: u64,
    /// Packets per rx_burst (1..=64).
    #[arg(long, default_value_t = 32)]
    pub burst: usize,
    /// Sleep this many µs after a poll that found nothing (0 = spin; adds up to that much to measured latency).
    #[arg(long, default_value_t = 0)]
    pub idle_sleep_us: u64,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// EAL arguments, after `--`.
    #[arg(last = true, value_name = "EAL ARGS")]
    pub eal: Vec<String>,
}

/// Run the sink; returns the readable report.
#[cfg(feature = "dpdk")]
pub fn sink(a: &SinkArgs) -> Result<String, String> {
    if !(1..=newipd_core::kinds::MAX_BURST).contains(&a.burst) {
        return Err(format!("--burst: must be 1..={}", newipd_core::kinds::MAX_BURST));
    }
    let opts = super::sink::SinkOptions {
        device: a.port.clone(),
        eal_args: a.eal.clone(),
        burst: a.burst,
        packets: a.packets,
        duration: a.duration.map(|d| secs("--duration", d)).transpose()?,
        until_idle: a.until_idle.then(|| std::time::Duration::from_millis(a.idle_ms.max(1))),
        idle_sleep_us: a.idle_sleep_us,
    };
    let r = super::sink::run(&opts)?;
    write_json(a.report_json.as_deref(), &r)?;
    Ok(r.render())
}
