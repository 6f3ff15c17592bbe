//! `newipd gen`: command-line front end of the traffic generator.

use super::{mixfile, pcap, Kind, Mix};
use clap::Args;

/// `newipd gen` arguments.
#[derive(Args, Debug, Clone)]
pub struct GenArgs {
    /// Output pcap file.
    #[arg(short, long, value_name = "FILE")]
    pub out: std::path::PathBuf,
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
    /// Number of packets.
    #[arg(long, default_value_t = 10_000)]
    pub packets: usize,
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
    /// Timestamps in the pcap are spaced for this rate (packets per second).
    #[arg(long, default_value_t = 1_000_000)]
    pub rate: u64,
}

/// Generate the pcap the arguments describe; returns the summary line.
pub fn run(a: &GenArgs) -> Result<String, String> {
    let Some(dst_mac) = crate::packet::ether::parse_mac(&a.dst_mac) else {
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
        packets: a.packets,
        flows: a.flows,
        size: a.size,
        seed: a.seed,
        malformed: a.malformed,
        dst4: a.dst4.into(),
        dst6: a.dst6.into(),
        rate_pps: a.rate,
        dst_mac,
    };
    let (g, from) = match &a.mix {
        Some(path) => {
            let t = mixfile::load(path, &mix)?;
            (t.generate(), format!(" from mix {} ({} flow sets)", path.display(), t.flows.len()))
        }
        None => (mix.generate(), String::new()),
    };
    pcap::write(&a.out, &g.frames).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let bad: usize = g.by_reason.values().sum();
    let mut msg = format!("wrote {} packets ({} well-formed, {} malformed) to {}{from}", g.frames.len(), g.good, bad, a.out.display());
    if bad > 0 {
        let reasons: Vec<String> = g.by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect();
        msg.push_str(&format!("\nmalformed by reason: {}", reasons.join(", ")));
    }
    Ok(msg)
}
