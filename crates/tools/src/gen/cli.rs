//! `newipd gen` (a pcap file, or live traffic with `--live`) and `newipd
//! sink`: command-line front ends of the traffic generator and the sink.

use super::engine::{Rate, Traffic};
use super::mixfile::{self, Overrides};
use super::pcap;
use super::presets::{Kind, Mix};
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
    /// docs/traffic.md). The flags given win over the file's top-level
    /// values (--seed, --packets, --rate/--rate-bps, --malformed,
    /// --dst-mac); --size, --dst4 and --dst6 fill in the [[flow]] fields it
    /// leaves out, and --kind/--flows are the flows when it has no [[flow]].
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
    /// Random seed; the same seed writes the same file [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Share of deliberately malformed packets, 0.0 to 1.0 [default: 0].
    #[arg(long)]
    pub malformed: Option<f64>,
    /// First IPv4 destination; flows count up from it.
    #[arg(long, default_value = "10.0.0.1")]
    pub dst4: std::net::Ipv4Addr,
    /// First IPv6 destination.
    #[arg(long, default_value = "2001:db8:1::1")]
    pub dst6: std::net::Ipv6Addr,
    /// Destination MAC of every frame (the router's port) [default: 02:00:00:00:00:01].
    #[arg(long, value_name = "MAC")]
    pub dst_mac: Option<String>,
    /// Timestamps in the pcap are spaced for this rate (packets per second);
    /// with --live, the target packet rate [default: 1000000].
    #[arg(long, value_name = "PPS")]
    pub rate: Option<u64>,
}

/// Default packet count of `newipd gen`.
const DEFAULT_PACKETS: usize = 10_000;

impl GenArgs {
    /// The values given on the command line that a mix file can set too.
    fn overrides(&self) -> Result<Overrides, String> {
        let dst_mac = match &self.dst_mac {
            Some(s) => Some(
                newipd_core::wire::ether::parse_mac(s)
                    .ok_or_else(|| format!("--dst-mac: '{s}' is not a MAC address like 02:00:00:00:00:01"))?,
            ),
            None => None,
        };
        if let Some(m) = self.malformed {
            if !(0.0..=1.0).contains(&m) {
                return Err("--malformed: must be between 0.0 and 1.0".into());
            }
        }
        let rate = match (self.rate, self.rate_bps) {
            (_, Some(bps)) => Some(Rate::Bps(bps)),
            (Some(pps), None) => Some(Rate::Pps(pps)),
            (None, None) => None,
        };
        Ok(Overrides { seed: self.seed, packets: self.packets, rate, malformed: self.malformed, dst_mac })
    }

    /// What to send: the mix file with the flags over it, or the kind's
    /// preset built from the flags; and where it came from, for the summary.
    fn traffic(&self) -> Result<(Traffic, String), String> {
        let o = self.overrides()?;
        if self.size < 60 || self.size > 9000 {
            return Err("--size: must be between 60 and 9000 bytes".into());
        }
        // The flags' defaults, and the values that only describe the flows.
        let base = Mix {
            kind: self.kind,
            packets: DEFAULT_PACKETS,
            flows: self.flows,
            size: self.size,
            dst4: self.dst4.into(),
            dst6: self.dst6.into(),
            ..Mix::default()
        };
        if let Some(path) = &self.mix {
            let t = mixfile::load(path, &base, &o)?;
            let from = format!(" from mix {} ({} flow sets)", path.display(), t.flows.len());
            return Ok((t, from));
        }
        let mix = Mix {
            packets: o.packets.unwrap_or(base.packets),
            seed: o.seed.unwrap_or(base.seed),
            malformed: o.malformed.unwrap_or(base.malformed),
            dst_mac: o.dst_mac.unwrap_or(base.dst_mac),
            rate_pps: self.rate.unwrap_or(base.rate_pps),
            ..base
        };
        let mut t = mix.traffic();
        if let Some(bps) = self.rate_bps {
            t.rate = Rate::Bps(bps);
        }
        t.validate()?;
        Ok((t, String::new()))
    }
}

/// Generate the pcap (or with `--live` send the traffic) the arguments
/// describe; returns the summary.
pub fn run(a: &GenArgs) -> Result<String, String> {
    let (t, from) = a.traffic()?;
    #[cfg(feature = "dpdk")]
    if a.live {
        return live(a, &t);
    }
    let out = a.out.as_ref().ok_or("--out: required without --live")?;
    let g = t.generate();
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
fn live(a: &GenArgs, t: &Traffic) -> Result<String, String> {
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
    let r = super::live::run(t, &opts)?;
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
    let opts = super::receive::ReceiveOptions {
        device: a.port.clone(),
        eal_args: a.eal.clone(),
        burst: a.burst,
        packets: a.packets,
        duration: a.duration.map(|d| secs("--duration", d)).transpose()?,
        until_idle: a.until_idle.then(|| std::time::Duration::from_millis(a.idle_ms.max(1))),
        idle_sleep_us: a.idle_sleep_us,
    };
    let r = super::receive::run(&opts)?;
    write_json(a.report_json.as_deref(), &r)?;
    Ok(r.render())
}
