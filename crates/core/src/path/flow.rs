//! Flow hashes for ECMP: which member of a next-hop group a packet takes.
//! Only what is the same for every packet of a flow goes in (addresses,
//! protocol, ports, the IPv6 flow label; never a TTL, a length or a
//! contract field a hop rewrites), so a flow stays on one path while the
//! group is unchanged. Asked only for routes with several next hops.

/// A 64-bit finaliser (murmur3's): every input bit moves every output bit.
#[inline]
fn mix(mut x: u64) -> u32 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x as u32
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be64(b: &[u8], at: usize) -> u64 {
    (be32(b, at) as u64) << 32 | be32(b, at + 4) as u64
}

/// Protocols whose first four bytes are the ports: TCP, UDP, SCTP, UDP-Lite.
fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 132 | 136)
}

/// IPv4 (`ip` from the IPv4 header): addresses, protocol and, for an
/// unfragmented TCP / UDP / SCTP / UDP-Lite packet, the ports.
pub fn v4(ip: &[u8]) -> u32 {
    let proto = ip.get(9).copied().unwrap_or(0);
    let ihl = (ip.first().copied().unwrap_or(0x45) & 0x0f) as usize * 4;
    let frag = ip.get(6..8).map_or(0, |f| u16::from_be_bytes([f[0], f[1]]) & 0x3fff);
    let ports = if has_ports(proto) && frag == 0 { be32(ip, ihl) } else { 0 };
    mix(be64(ip, 12) ^ ((ports as u64) << 8 | proto as u64).rotate_left(29))
}

/// IPv6 (`ip` from the IPv6 header): addresses, flow label, next header
/// and, directly after the fixed header, the ports.
pub fn v6(ip: &[u8]) -> u32 {
    let nh = ip.get(6).copied().unwrap_or(0);
    let label = be32(ip, 0) & 0x000f_ffff;
    let ports = if has_ports(nh) { be32(ip, 40) } else { 0 };
    let a = be64(ip, 8) ^ be64(ip, 16).rotate_left(17) ^ be64(ip, 24).rotate_left(31) ^ be64(ip, 32).rotate_left(47);
    mix(a ^ ((ports as u64) << 28 | (label as u64) << 8 | nh as u64))
}

/// New IP: the bytes of the shipping spec (source and destination
/// addresses, cast), FNV-1a then mixed.
pub fn bytes(b: &[u8]) -> u32 {
    mix(b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| (h ^ x as u64).wrapping_mul(0x0000_0100_0000_01b3)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build;

    #[test]
    fn a_flow_hashes_the_same_whatever_a_hop_rewrites() {
        let a = build::udp4(build::Udp4 { src: 0x0a00_0001, dst: 0x0a00_0002, sport: 1000, dport: 2000, ttl: 64, ..Default::default() });
        let mut b = a.clone();
        b[14 + 8] = 3; // TTL
        b[14 + 10] ^= 0xff; // checksum
        assert_eq!(v4(&a[14..]), v4(&b[14..]));
        let c = build::udp4(build::Udp4 { src: 0x0a00_0001, dst: 0x0a00_0002, sport: 1001, dport: 2000, ..Default::default() });
        assert_ne!(v4(&a[14..]), v4(&c[14..]), "another source port, another flow");
        let x = build::udp6(build::Udp6 { src: 1, dst: 2, sport: 5, dport: 6, hop_limit: 64, ..Default::default() });
        let mut y = x.clone();
        y[14 + 7] = 9;
        assert_eq!(v6(&x[14..]), v6(&y[14..]));
        let z = build::udp6(build::Udp6 { src: 1, dst: 2, sport: 5, dport: 7, ..Default::default() });
        assert_ne!(v6(&x[14..]), v6(&z[14..]));
    }

    #[test]
    fn flows_spread_evenly_over_buckets() {
        let mut count = [0u32; 64];
        for i in 0..64_000u32 {
            let f = build::udp4(build::Udp4 { src: 0x0a00_0000 | (i >> 8), dst: 0xc000_0201, sport: 1024 + (i & 0xff) as u16, dport: 80, ..Default::default() });
            count[v4(&f[14..]) as usize % 64] += 1;
        }
        let (lo, hi) = (count.iter().min().unwrap(), count.iter().max().unwrap());
        assert!(*lo > 800 && *hi < 1200, "1000 a bucket expected: {lo}..{hi}");
    }
}
