//! What `newipd gen-routes` writes from a route set: the route list, the
//! `ip -batch` files that install it in a Linux kernel, and traffic to
//! every prefix.
//!
//! * [`write_list`]: `prefix gateway` per line (`--prefix-only`: `prefix`).
//! * [`write_ip_batch`]: `route add PREFIX via GATEWAY` per line, for
//!   `ip -batch FILE` (IPv6 too: `ip` takes the family from the prefix),
//!   or through kernel next-hop objects.
//! * [`traffic4`] / [`traffic6`]: UDP frames to destinations spread
//!   uniformly over all prefixes (a random address inside a random prefix
//!   per packet), built by the traffic generator's own frame builder
//!   ([`FlowSet::frame`]) with `newipd gen`'s addressing: source MAC
//!   02:00:00:00:00:02, sources 192.168.0.1 / 2001:db8::1, UDP 1024+ ->
//!   5001, TTL 64, and the payload stamp.

use super::set::{spread4, spread6, Route4, Route6};
use crate::gen::flow::{FlowKind, FlowSet, SRC4, SRC6};
use newipd_core::wire::newip::build::Address;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The gateways routes point at: route next hop `i` is `gateways[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateways {
    pub v4: Vec<Ipv4Addr>,
    pub v6: Vec<Ipv6Addr>,
}

impl Gateways {
    /// `k` gateways taken in turn from the subnets: gateway `j` is host
    /// `2 + j / subnets` of subnet `j % subnets` (host 1 is left for the
    /// router's own address there). Errors if a subnet is too small.
    pub fn spread(k: u32, nets4: &[(u32, u8)], nets6: &[(u128, u8)]) -> Result<Gateways, String> {
        fn pick(k: u32, nets: &[(u128, u8)], bits: u32, family: &str) -> Result<Vec<u128>, String> {
            if nets.is_empty() {
                return Err(format!("no {family} subnet for the gateways"));
            }
            (0..k)
                .map(|j| {
                    let (net, len) = nets[j as usize % nets.len()];
                    let host = 2 + (j as u128 / nets.len() as u128);
                    let hosts = super::set::host_mask(bits, len);
                    // The last address of a v4 subnet is its broadcast address.
                    if host >= hosts {
                        return Err(format!(
                            "{family} subnet /{len} has no room for {k} gateways (hosts .2 upward, spread over {} subnets)",
                            nets.len()
                        ));
                    }
                    Ok(net | host)
                })
                .collect()
        }
        let n4: Vec<(u128, u8)> = nets4.iter().map(|&(a, l)| (a as u128, l)).collect();
        Ok(Gateways {
            v4: pick(k, &n4, 32, "IPv4")?.into_iter().map(|a| Ipv4Addr::from(a as u32)).collect(),
            v6: pick(k, nets6, 128, "IPv6")?.into_iter().map(Ipv6Addr::from).collect(),
        })
    }
}

/// One line per route: `prefix gateway`, or only `prefix`.
pub fn write_list(path: &Path, v4: &[Route4], v6: &[Route6], gw: &Gateways, prefix_only: bool) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    for &(a, l, nh) in v4 {
        if prefix_only {
            writeln!(w, "{}/{l}", Ipv4Addr::from(a))?;
        } else {
            writeln!(w, "{}/{l} {}", Ipv4Addr::from(a), gw.v4[nh as usize])?;
        }
    }
    for &(a, l, nh) in v6 {
        if prefix_only {
            writeln!(w, "{}/{l}", Ipv6Addr::from(a))?;
        } else {
            writeln!(w, "{}/{l} {}", Ipv6Addr::from(a), gw.v6[nh as usize])?;
        }
    }
    w.flush()
}

/// An `ip -batch` file: `route add PREFIX via GATEWAY` per route; or,
/// with `nexthop_dev`, the gateways first as kernel next-hop objects on
/// that device (`nexthop add id ID via GATEWAY dev DEV`: IPv4 gateway `i`
/// is id `1 + i`, IPv6 gateway `i` is id `1 + K + i` for K gateways), then
/// `route add PREFIX nhid ID` per route (the kernel installs those about a
/// quarter faster and shares one next hop among all its routes).
pub fn write_ip_batch(path: &Path, v4: &[Route4], v6: &[Route6], gw: &Gateways, nexthop_dev: Option<&str>) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let k = gw.v4.len();
    if let Some(dev) = nexthop_dev {
        // Only the families this file holds: the other's gateways may not be reachable.
        if !v4.is_empty() {
            for (i, g) in gw.v4.iter().enumerate() {
                writeln!(w, "nexthop add id {} via {g} dev {dev}", 1 + i)?;
            }
        }
        if !v6.is_empty() {
            for (i, g) in gw.v6.iter().enumerate() {
                writeln!(w, "nexthop add id {} via {g} dev {dev}", 1 + k + i)?;
            }
        }
    }
    for &(a, l, nh) in v4 {
        match nexthop_dev {
            Some(_) => writeln!(w, "route add {}/{l} nhid {}", Ipv4Addr::from(a), 1 + nh as usize)?,
            None => writeln!(w, "route add {}/{l} via {}", Ipv4Addr::from(a), gw.v4[nh as usize])?,
        }
    }
    for &(a, l, nh) in v6 {
        match nexthop_dev {
            Some(_) => writeln!(w, "route add {}/{l} nhid {}", Ipv6Addr::from(a), 1 + k + nh as usize)?,
            None => writeln!(w, "route add {}/{l} via {}", Ipv6Addr::from(a), gw.v6[nh as usize])?,
        }
    }
    w.flush()
}

/// How the traffic is written.
#[derive(Debug, Clone, Copy)]
pub struct TrafficSpec {
    /// Packets per family.
    pub packets: usize,
    pub seed: u64,
    /// Destination MAC (the router's port).
    pub dst_mac: [u8; 6],
    /// Timestamps are spaced for this many packets per second.
    pub rate_pps: u64,
}

/// The UDP kinds of `newipd gen` send source ports 1024 + flow % 50000.
const SPORTS: usize = 50_000;
/// Frame size without FCS: 64 bytes on the wire (IPv6 frames are the
/// smallest that hold their headers, 62 bytes).
const FRAME: usize = 60;

fn frames(spec: &TrafficSpec, mut f: FlowSet, dsts: impl Iterator<Item = (Address, usize)>) -> Vec<(u64, Vec<u8>)> {
    let gap = 1_000_000_000 / spec.rate_pps.max(1);
    dsts.enumerate()
        .map(|(i, (dst, route))| {
            let ts = i as u64 * gap;
            f.dst = dst;
            f.sport = 1024 + (route % SPORTS) as u16;
            (ts, f.frame(spec.dst_mac, 0, FRAME, i as u64, ts))
        })
        .collect()
}

/// IPv4 UDP frames to destinations spread over all of `routes` (the flow
/// of a packet is its route: source port 1024 + route % 50000).
pub fn traffic4(routes: &[Route4], spec: &TrafficSpec) -> Vec<(u64, Vec<u8>)> {
    let f = FlowSet::new(FlowKind::Ipv4, SRC4, Address::Ipv4([0; 4]));
    let d = spread4(routes, spec.packets, spec.seed);
    frames(spec, f, d.into_iter().map(|(a, i)| (Address::Ipv4(a.to_be_bytes()), i)))
}

/// IPv6 UDP frames to destinations spread over all of `routes`.
pub fn traffic6(routes: &[Route6], spec: &TrafficSpec) -> Vec<(u64, Vec<u8>)> {
    let f = FlowSet::new(FlowKind::Ipv6, SRC6, Address::Ipv6([0; 16]));
    let d = spread6(routes, spec.packets, spec.seed);
    frames(spec, f, d.into_iter().map(|(a, i)| (Address::Ipv6(a.to_be_bytes()), i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::flow::SRC_MAC;
    use crate::gen::payload::{frame_payload, read_stamp};

    fn gws() -> Gateways {
        Gateways::spread(3, &[(0x0a00_0200, 24), (0x0a00_0300, 24)], &[(0xfd00_0002u128 << 96, 64)]).unwrap()
    }

    #[test]
    fn gateways_take_turns_over_subnets() {
        let g = gws();
        let v4: Vec<String> = g.v4.iter().map(|a| a.to_string()).collect();
        assert_eq!(v4, ["10.0.2.2", "10.0.3.2", "10.0.2.3"]);
        let v6: Vec<String> = g.v6.iter().map(|a| a.to_string()).collect();
        assert_eq!(v6, ["fd00:2::2", "fd00:2::3", "fd00:2::4"]);
        // A /30 has one host after .1: .3 is its broadcast address.
        assert!(Gateways::spread(1, &[(0x0a00_0200, 30)], &[(1 << 64, 64)]).is_ok());
        assert!(Gateways::spread(2, &[(0x0a00_0200, 30)], &[(1 << 64, 64)]).unwrap_err().contains("no room"));
    }

    #[test]
    fn lists_and_batches() {
        let dir = std::env::temp_dir().join(format!("newipd-routes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let v4 = [(0x0102_0300, 24, 0), (0x0800_0000, 8, 2)];
        let v6 = [(0x2a00_0001u128 << 96, 32, 1)];
        let g = gws();
        write_list(&dir.join("l.txt"), &v4, &v6, &g, false).unwrap();
        write_list(&dir.join("p.txt"), &v4, &v6, &g, true).unwrap();
        write_ip_batch(&dir.join("b"), &v4, &v6, &g, None).unwrap();
        write_ip_batch(&dir.join("n4"), &v4, &[], &g, Some("eth1")).unwrap();
        write_ip_batch(&dir.join("n6"), &[], &v6, &g, Some("eth1")).unwrap();
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
        assert_eq!(read("l.txt"), "1.2.3.0/24 10.0.2.2\n8.0.0.0/8 10.0.2.3\n2a00:1::/32 fd00:2::3\n");
        assert_eq!(read("p.txt"), "1.2.3.0/24\n8.0.0.0/8\n2a00:1::/32\n");
        assert_eq!(read("b"), "route add 1.2.3.0/24 via 10.0.2.2\nroute add 8.0.0.0/8 via 10.0.2.3\nroute add 2a00:1::/32 via fd00:2::3\n");
        assert_eq!(
            read("n4"),
            "nexthop add id 1 via 10.0.2.2 dev eth1\nnexthop add id 2 via 10.0.3.2 dev eth1\nnexthop add id 3 via 10.0.2.3 dev eth1\n\
             route add 1.2.3.0/24 nhid 1\nroute add 8.0.0.0/8 nhid 3\n"
        );
        assert_eq!(
            read("n6"),
            "nexthop add id 4 via fd00:2::2 dev eth1\nnexthop add id 5 via fd00:2::3 dev eth1\nnexthop add id 6 via fd00:2::4 dev eth1\n\
             route add 2a00:1::/32 nhid 5\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn traffic_goes_to_every_prefix_with_gen_addressing() {
        let v4: Vec<Route4> = (0..100u32).map(|i| (0x0b00_0000 | i << 8, 24, 0)).collect();
        let v6: Vec<Route6> = (0..100u128).map(|i| (0x2a00_0000u128 << 96 | i << 80, 48, 0)).collect();
        let spec = TrafficSpec { packets: 2000, seed: 5, dst_mac: [2, 0, 0, 0, 0, 1], rate_pps: 1_000_000 };
        let t4 = traffic4(&v4, &spec);
        assert_eq!(t4.len(), 2000);
        assert_eq!(t4, traffic4(&v4, &spec), "seeded");
        let mut hit = std::collections::HashSet::new();
        for (i, (ts, f)) in t4.iter().enumerate() {
            assert_eq!((f.len(), *ts), (60, i as u64 * 1000));
            assert_eq!((&f[0..6], &f[6..12], &f[12..14]), (&[2u8, 0, 0, 0, 0, 1][..], &SRC_MAC[..], &[8u8, 0][..]));
            assert_eq!(&f[26..30], &[192, 168, 0, 1]);
            assert_eq!(f[30], 11);
            hit.insert(f[32]);
            let route = f[32] as u16;
            assert_eq!(u16::from_be_bytes([f[34], f[35]]), 1024 + route, "sport = 1024 + route");
            assert_eq!(read_stamp(frame_payload(f).unwrap()), Some((i as u64, i as u64 * 1000)));
        }
        assert_eq!(hit.len(), 100);
        let t6 = traffic6(&v6, &spec);
        let mut hit6 = std::collections::HashSet::new();
        for (_, f) in &t6 {
            assert_eq!((f.len(), &f[12..14]), (62, &[0x86u8, 0xdd][..]));
            assert_eq!(&f[38..42], &[0x2a, 0, 0, 0]);
            hit6.insert(u16::from_be_bytes([f[42], f[43]]));
        }
        assert_eq!(hit6.len(), 100);
    }
}
