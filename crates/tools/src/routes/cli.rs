//! `newipd gen-routes`: write an Internet-sized route set, the files that
//! install it in a kernel, and traffic to all of it.

use super::output::{self, Gateways, TrafficSpec};
use super::set::{self, Route4, Route6, Spec};
use crate::gen::pcap;
use clap::Args;
use newipd_core::fib::Prefix;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Largest set per family the command writes (the generator holds it in memory).
pub const MAX_PREFIXES: usize = 4_000_000;
/// Largest traffic file per family.
pub const MAX_PACKETS: usize = 10_000_000;

/// `newipd gen-routes` arguments.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Writes into DIR:\n  \
routes4.txt, routes6.txt      one route per line: PREFIX GATEWAY (--prefix-only: PREFIX)\n  \
routes4.batch, routes6.batch  `ip -batch` files: route add PREFIX via GATEWAY\n                                (--nexthop-dev: nexthop objects, then route add PREFIX nhid ID)\n  \
traffic4.pcap, traffic6.pcap  64-byte UDP frames (IPv6: 66), destinations spread over all prefixes\n\n\
Install in a kernel (the gateways must be on a connected subnet first):\n  \
ip addr add 10.0.2.1/24 dev eth1; ip addr add fd00:2::1/64 dev eth1\n  \
ip -batch DIR/routes4.batch; ip -batch DIR/routes6.batch\n\
See docs/fib.md (\"Internet-scale route sets\").")]
pub struct GenRoutesArgs {
    /// Directory to write the files into (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of IPv4 prefixes (a full Internet table has about 1 000 000):
    /// 60 % /24, 38.6 % /16../23, 0.4 % /8../15, 1 % /25../32; unique, no default route.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub v4: usize,
    /// Number of IPv6 prefixes (a full table has about 220 000): 55 % /48,
    /// 34.5 % /32../44, 3 % /64, the rest /19../31, /45../47 and longer.
    #[arg(long, value_name = "N", default_value_t = 220_000)]
    pub v6: usize,
    /// Random seed: the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of gateways (next hops) the routes are spread over, per family.
    #[arg(long, value_name = "K", default_value_t = 8)]
    pub gateways: u32,
    /// IPv4 subnets the gateways are on, comma-separated; gateways take
    /// hosts .2, .3, ... of each in turn (.1 is left for the router itself).
    /// No generated prefix overlaps them.
    #[arg(long, value_name = "PREFIX,...", value_delimiter = ',', default_value = "10.0.2.0/24")]
    pub via4: Vec<String>,
    /// IPv6 subnets the gateways are on (as --via4: ::2, ::3, ...).
    #[arg(long, value_name = "PREFIX,...", value_delimiter = ',', default_value = "fd00:2::/64")]
    pub via6: Vec<String>,
    /// Packets per family in traffic4.pcap and traffic6.pcap (0: write no traffic).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub packets: usize,
    /// Destination MAC of every frame (the router's port).
    #[arg(long, value_name = "MAC", default_value = "02:00:00:00:00:01")]
    pub dst_mac: String,
    /// Timestamps in the pcap files are spaced for this rate (packets per second).
    #[arg(long, value_name = "PPS", default_value_t = 1_000_000)]
    pub rate: u64,
    /// routes4.txt and routes6.txt list prefixes only, without gateways.
    #[arg(long)]
    pub prefix_only: bool,
    /// The batch files first make the gateways kernel next-hop objects on
    /// this device (`nexthop add id ...`), then add routes with `nhid`
    /// (installs about a quarter faster than `via`).
    #[arg(long, value_name = "DEV")]
    pub nexthop_dev: Option<String>,
}

fn subnets(flag: &str, list: &[String], v6: bool) -> Result<Vec<(u128, u8)>, String> {
    list.iter()
        .map(|s| match (Prefix::parse(s.trim()), v6) {
            (Ok(Prefix::V4 { addr, len }), false) if len <= 30 => Ok((addr as u128, len)),
            (Ok(Prefix::V6 { addr, len }), true) if len <= 126 => Ok((addr, len)),
            (Err(e), _) => Err(format!("{flag}: {e}")),
            _ => Err(format!("{flag}: '{s}' is not an {} subnet with room for gateways", if v6 { "IPv6" } else { "IPv4 (/30 or shorter)" })),
        })
        .collect()
}

impl GenRoutesArgs {
    fn check(&self) -> Result<(Spec, Gateways, [u8; 6]), String> {
        for (flag, n, max) in [("--v4", self.v4, MAX_PREFIXES), ("--v6", self.v6, MAX_PREFIXES), ("--packets", self.packets, MAX_PACKETS)] {
            if n > max {
                return Err(format!("{flag} {n}: at most {max}"));
            }
        }
        if self.gateways == 0 || self.gateways > 1 << 16 {
            return Err("--gateways: must be 1..=65536".into());
        }
        if let Some(d) = &self.nexthop_dev {
            if d.is_empty() || d.len() > 15 || d.chars().any(|c| c.is_whitespace() || c == '/') {
                return Err(format!("--nexthop-dev: '{d}' is not an interface name"));
            }
        }
        if self.rate == 0 {
            return Err("--rate: must be at least 1 packet per second".into());
        }
        let dst_mac = newipd_core::wire::ether::parse_mac(&self.dst_mac)
            .ok_or_else(|| format!("--dst-mac: '{}' is not a MAC address like 02:00:00:00:00:01", self.dst_mac))?;
        let nets4: Vec<(u32, u8)> = subnets("--via4", &self.via4, false)?.into_iter().map(|(a, l)| (a as u32, l)).collect();
        let nets6 = subnets("--via6", &self.via6, true)?;
        let gw = Gateways::spread(self.gateways, &nets4, &nets6)?;
        let spec = Spec { v4: self.v4, v6: self.v6, seed: self.seed, next_hops: self.gateways, avoid4: nets4, avoid6: nets6 };
        Ok((spec, gw, dst_mac))
    }
}

/// Prefix counts by length group, e.g. `/8-/15 4000, /16-/23 386000, ...`.
fn histogram(lens: impl Iterator<Item = u8>, groups: &[(u8, u8)]) -> String {
    let mut n = vec![0usize; groups.len()];
    for l in lens {
        if let Some(i) = groups.iter().position(|&(a, b)| (a..=b).contains(&l)) {
            n[i] += 1;
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .zip(n)
        .filter(|(_, k)| *k > 0)
        .map(|(&(a, b), k)| if a == b { format!("/{a} {k}") } else { format!("/{a}-/{b} {k}") })
        .collect();
    parts.join(", ")
}

fn secs(t: Instant) -> String {
    format!("{:.2} s", t.elapsed().as_secs_f64())
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// Write the files the arguments describe; returns the summary (with how
/// long each step took).
pub fn run(a: &GenRoutesArgs) -> Result<String, String> {
    let (spec, gw, dst_mac) = a.check()?;
    std::fs::create_dir_all(&a.out).map_err(io(&a.out))?;
    let mut msg = Vec::new();

    let t = Instant::now();
    let v4: Vec<Route4> = set::v4_routes(&spec)?;
    let t4 = t.elapsed().as_secs_f64();
    let v6: Vec<Route6> = set::v6_routes(&spec)?;
    msg.push(format!(
        "generated {} IPv4 and {} IPv6 prefixes (seed {}) in {} (IPv4 {t4:.2} s), over {} gateways: {}.. and {}..",
        v4.len(),
        v6.len(),
        a.seed,
        secs(t),
        a.gateways,
        gw.v4[0],
        gw.v6[0]
    ));
    msg.push(format!("  IPv4: {}", histogram(v4.iter().map(|r| r.1), &[(8, 15), (16, 23), (24, 24), (25, 32)])));
    msg.push(format!("  IPv6: {}", histogram(v6.iter().map(|r| r.1), &[(19, 31), (32, 44), (45, 47), (48, 48), (49, 63), (64, 64), (65, 128)])));

    let t = Instant::now();
    let path = |n: &str| a.out.join(n);
    for (name, four, six) in [("routes4.txt", &v4[..], &[][..]), ("routes6.txt", &[][..], &v6[..])] {
        output::write_list(&path(name), four, six, &gw, a.prefix_only).map_err(io(&path(name)))?;
    }
    for (name, four, six) in [("routes4.batch", &v4[..], &[][..]), ("routes6.batch", &[][..], &v6[..])] {
        output::write_ip_batch(&path(name), four, six, &gw, a.nexthop_dev.as_deref()).map_err(io(&path(name)))?;
    }
    msg.push(format!("wrote routes4.txt, routes6.txt, routes4.batch, routes6.batch in {}", secs(t)));

    if a.packets > 0 {
        let t = Instant::now();
        let ts = TrafficSpec { packets: a.packets, seed: a.seed, dst_mac, rate_pps: a.rate };
        let f4 = output::traffic4(&v4, &ts);
        pcap::write(&path("traffic4.pcap"), &f4).map_err(io(&path("traffic4.pcap")))?;
        let f6 = output::traffic6(&v6, &ts);
        pcap::write(&path("traffic6.pcap"), &f6).map_err(io(&path("traffic6.pcap")))?;
        msg.push(format!("wrote traffic4.pcap ({} packets), traffic6.pcap ({} packets) in {}", f4.len(), f6.len(), secs(t)));
    }
    msg.push(format!(
        "into {}; install in a kernel (gateways on a connected subnet first) with: ip -batch {}; ip -batch {}",
        a.out.display(),
        path("routes4.batch").display(),
        path("routes6.batch").display()
    ));
    Ok(msg.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: GenRoutesArgs,
    }

    fn args(extra: &[&str]) -> GenRoutesArgs {
        let mut v = vec!["x", "--out", "/nonexistent"];
        v.extend_from_slice(extra);
        Cli::try_parse_from(v).unwrap().a
    }

    #[test]
    fn flags_are_checked() {
        let (spec, gw, mac) = args(&[]).check().unwrap();
        assert_eq!((spec.v4, spec.v6, spec.next_hops, mac), (1_000_000, 220_000, 8, [2, 0, 0, 0, 0, 1]));
        assert_eq!((gw.v4[0].to_string(), gw.v6[7].to_string()), ("10.0.2.2".into(), "fd00:2::9".into()));
        let (_, gw, _) = args(&["--via4", "10.0.1.0/24,10.0.2.0/24", "--gateways", "4"]).check().unwrap();
        assert_eq!(gw.v4.iter().map(|a| a.to_string()).collect::<Vec<_>>(), ["10.0.1.2", "10.0.2.2", "10.0.1.3", "10.0.2.3"]);
        for (flags, err) in [
            (&["--via4", "10.0.2.0/31"][..], "--via4"),
            (&["--via4", "fd00::/64"][..], "--via4"),
            (&["--via6", "10.0.0.0/8"][..], "--via6"),
            (&["--via4", "10.0.2.1/24"][..], "host bits"),
            (&["--gateways", "0"][..], "--gateways"),
            (&["--v4", "5000000"][..], "--v4"),
            (&["--dst-mac", "nope"][..], "--dst-mac"),
            (&["--gateways", "300"][..], "no room"),
            (&["--nexthop-dev", "a b"][..], "--nexthop-dev"),
        ] {
            let e = args(flags).check().unwrap_err();
            assert!(e.contains(err), "{flags:?}: {e}");
        }
    }

    #[test]
    fn writes_every_file() {
        let dir = std::env::temp_dir().join(format!("newipd-gen-routes-{}", std::process::id()));
        let a = GenRoutesArgs { out: dir.clone(), v4: 2000, v6: 500, packets: 300, ..args(&[]) };
        let msg = run(&a).unwrap();
        assert!(msg.contains("generated 2000 IPv4 and 500 IPv6 prefixes"), "{msg}");
        let lines = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap().lines().count();
        assert_eq!((lines("routes4.txt"), lines("routes6.txt"), lines("routes4.batch"), lines("routes6.batch")), (2000, 500, 2000, 500));
        let batch = std::fs::read_to_string(dir.join("routes6.batch")).unwrap();
        assert!(batch.lines().all(|l| l.starts_with("route add 2") && l.contains(" via fd00:2::")), "{batch}");
        assert_eq!(pcap::read(&dir.join("traffic4.pcap")).unwrap().len(), 300);
        assert_eq!(pcap::read(&dir.join("traffic6.pcap")).unwrap().len(), 300);
        // The same seed writes the same files.
        let first = std::fs::read(dir.join("routes4.txt")).unwrap();
        run(&a).unwrap();
        assert_eq!(first, std::fs::read(dir.join("routes4.txt")).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
