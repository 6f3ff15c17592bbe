//! `newipd gen`: command-line front end of the traffic generator.

use super::{pcap, Kind, Mix};
use clap::Args;

/// `newipd gen` arguments.
#[derive(Args, Debug, Clone)]
pub struct GenArgs {
    /// Output pcap file.
    #[arg(short, long, value_name = "FILE")]
    pub out: std::path::PathBuf,
    /// What to send.
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
    let g = mix.generate();
    pcap::write(&a.out, &g.frames).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let bad: usize = g.malformed.iter().map(|m| m.1).sum();
    Ok(format!("wrote {} packets ({} well-formed, {} malformed) to {}", g.frames.len(), g.good, bad, a.out.display()))
}
