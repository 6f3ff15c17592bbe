//! Traffic classes of legacy (IPv4 / IPv6 without a latency contract)
//! traffic: a small table of rules built once from the pipeline's
//! `[[class]]` entries, matched in order (the first match wins) on DSCP,
//! IP family, L4 protocol and source / destination port ranges.
//!
//! Class numbers are stable and fit a `u8` ([`TxMeta::class`](crate::path::TxMeta)):
//! * [`BEST_EFFORT`] (0, `best-effort`): legacy traffic no rule matches, and
//!   New IP without a deadline or on-time contract;
//! * [`CONTRACT`] (1, `contract`): packets whose deadline comes from a
//!   contract (New IP types 1 and 2, 0x8001, 0x8002, the IPv6 option 0x3E);
//! * [`FIRST_CONFIGURED`].. (2..): the `[[class]]` entries in file order.
//!
//! Matching allocates nothing: a linear scan over at most
//! [`MAX_CONFIGURED`] rules, or one lookup in a 64-entry DSCP table when
//! every rule matches on DSCP alone.

/// Class of unmatched legacy traffic and of New IP without a deadline.
pub const BEST_EFFORT: u8 = 0;
/// Class of packets scheduled by a contract's deadline.
pub const CONTRACT: u8 = 1;
/// Class number of the first `[[class]]` entry.
pub const FIRST_CONFIGURED: u8 = 2;
pub use crate::kinds::MAX_CLASSES;
/// Most `[[class]]` entries.
pub const MAX_CONFIGURED: usize = MAX_CLASSES - FIRST_CONFIGURED as usize;
/// Names of the built-in classes, by number.
pub const BUILTIN_NAMES: [&str; 2] = ["best-effort", "contract"];

/// L4 protocols whose first four bytes are the source and destination ports.
const fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 132 | 136) // TCP, UDP, SCTP, UDP-Lite
}

/// IP family a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 and IPv6.
    #[default]
    Any,
    Ipv4,
    Ipv6,
}

/// What a class does to its packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassAction {
    /// Per-hop deadline from arrival in ns; 0: best effort (the port's
    /// `best_effort_us`).
    pub budget_ns: u64,
    /// A late packet is demoted to best effort instead of dropped.
    pub late_ok: bool,
}

/// One `[[class]]` rule: every field given must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Bit `d` set: DSCP `d` matches (all ones: any).
    pub dscp: u64,
    pub family: Family,
    /// L4 protocol (IPv4 protocol, IPv6 last next header); `None`: any.
    pub proto: Option<u8>,
    /// Inclusive port ranges; `None`: any (a given range needs a protocol with ports).
    pub src_ports: Option<(u16, u16)>,
    pub dst_ports: Option<(u16, u16)>,
}

impl Rule {
    /// A rule matching everything.
    pub const ANY: Rule = Rule { dscp: u64::MAX, family: Family::Any, proto: None, src_ports: None, dst_ports: None };

    fn dscp_only(&self) -> bool {
        self.family == Family::Any && self.proto.is_none() && self.src_ports.is_none() && self.dst_ports.is_none()
    }

    fn needs_ports(&self) -> bool {
        self.src_ports.is_some() || self.dst_ports.is_some()
    }

    #[inline]
    fn matches(&self, k: &Key) -> bool {
        let in_range = |r: Option<(u16, u16)>, p: Option<u16>| match (r, p) {
            (None, _) => true,
            (Some((lo, hi)), Some(p)) => lo <= p && p <= hi,
            (Some(_), None) => false,
        };
        self.dscp & (1u64 << (k.dscp & 63)) != 0
            && (self.family == Family::Any || (self.family == Family::Ipv6) == k.v6)
            && self.proto.is_none_or(|p| p == k.proto)
            && in_range(self.src_ports, k.ports.map(|p| p.0))
            && in_range(self.dst_ports, k.ports.map(|p| p.1))
    }
}

/// What classification looks at in one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub v6: bool,
    pub dscp: u8,
    pub proto: u8,
    /// (source, destination) when the protocol has ports and this is the
    /// first fragment.
    pub ports: Option<(u16, u16)>,
}

/// The compiled class table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classes {
    rules: Vec<Rule>,
    /// When every rule is DSCP-only: DSCP -> class number.
    by_dscp: Option<[u8; 64]>,
    /// Whether some rule looks at L4 ports (else they are never read).
    ports: bool,
    actions: [ClassAction; MAX_CLASSES],
    names: Vec<String>,
}

impl Classes {
    /// Build from `(name, rule, action)` in match order (the caller checked
    /// names and counts; extra entries beyond [`MAX_CONFIGURED`] are ignored).
    pub fn new(entries: &[(String, Rule, ClassAction)]) -> Classes {
        let entries = &entries[..entries.len().min(MAX_CONFIGURED)];
        let mut c = Classes {
            rules: entries.iter().map(|e| e.1).collect(),
            by_dscp: None,
            ports: entries.iter().any(|e| e.1.needs_ports()),
            actions: [ClassAction::default(); MAX_CLASSES],
            names: BUILTIN_NAMES.iter().map(|s| s.to_string()).chain(entries.iter().map(|e| e.0.clone())).collect(),
        };
        for (i, e) in entries.iter().enumerate() {
            c.actions[FIRST_CONFIGURED as usize + i] = e.2;
        }
        if c.rules.iter().all(Rule::dscp_only) {
            let mut t = [BEST_EFFORT; 64];
            for (d, slot) in t.iter_mut().enumerate() {
                if let Some(i) = c.rules.iter().position(|r| r.dscp & (1 << d) != 0) {
                    *slot = FIRST_CONFIGURED + i as u8;
                }
            }
            c.by_dscp = Some(t);
        }
        c
    }

    /// No `[[class]]`: everything legacy is best effort.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Number of classes, built-in ones included.
    pub fn len(&self) -> usize {
        self.names.len().max(BUILTIN_NAMES.len())
    }

    /// Every class name, by number (built-in ones first).
    pub fn names(&self) -> Vec<String> {
        (0..self.len()).map(|n| self.name(n as u8).to_string()).collect()
    }

    /// Name of class `n` (stable for the life of the pipeline).
    pub fn name(&self, n: u8) -> &str {
        match self.names.get(n as usize) {
            Some(s) => s,
            None => BUILTIN_NAMES.get(n as usize).copied().unwrap_or("?"),
        }
    }

    /// The rule of configured class `n` (None for the built-in classes and
    /// numbers past the table).
    pub fn rule(&self, n: u8) -> Option<&Rule> {
        self.rules.get((n as usize).checked_sub(FIRST_CONFIGURED as usize)?)
    }

    /// What class `n` does.
    #[inline(always)]
    pub fn action(&self, n: u8) -> ClassAction {
        self.actions[n as usize % MAX_CLASSES]
    }

    /// The class of a packet described by `k` (first matching rule).
    #[inline]
    pub fn lookup(&self, k: &Key) -> u8 {
        if let Some(t) = &self.by_dscp {
            return t[(k.dscp & 63) as usize];
        }
        match self.rules.iter().position(|r| r.matches(k)) {
            Some(i) => FIRST_CONFIGURED + i as u8,
            None => BEST_EFFORT,
        }
    }

    /// Class of the IPv4 packet whose header (checked, `ihl` bytes) starts `ip`.
    #[inline]
    pub fn ipv4(&self, ip: &[u8], tos: u8, proto: u8, ihl: usize) -> u8 {
        if let Some(t) = &self.by_dscp {
            return t[(tos >> 2) as usize];
        }
        // Only the first fragment carries the L4 header.
        let first = ip.get(6..8).is_some_and(|f| u16::from_be_bytes([f[0], f[1]]) & 0x1fff == 0);
        let ports = if self.ports && first && has_ports(proto) { ports_at(ip, ihl) } else { None };
        self.lookup(&Key { v6: false, dscp: tos >> 2, proto, ports })
    }

    /// Class of the IPv6 packet whose (checked) header starts `ip`; up to
    /// four extension headers (hop-by-hop, routing, fragment, destination
    /// options) are skipped to find the protocol.
    #[inline]
    pub fn ipv6(&self, ip: &[u8], traffic_class: u8, next_header: u8) -> u8 {
        if let Some(t) = &self.by_dscp {
            return t[(traffic_class >> 2) as usize];
        }
        let (proto, l4) = ipv6_l4(ip, next_header);
        let ports = match l4 {
            Some(off) if self.ports && has_ports(proto) => ports_at(ip, off),
            _ => None,
        };
        self.lookup(&Key { v6: true, dscp: traffic_class >> 2, proto, ports })
    }
}

#[inline(always)]
fn ports_at(b: &[u8], off: usize) -> Option<(u16, u16)> {
    let p = b.get(off..off.checked_add(4)?)?;
    Some((u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]])))
}

/// The upper-layer protocol of an IPv6 packet and where its header starts
/// (`None` past a non-first fragment or a cut-off chain).
fn ipv6_l4(ip: &[u8], mut nh: u8) -> (u8, Option<usize>) {
    let mut off = 40usize;
    for _ in 0..4 {
        match nh {
            0 | 43 | 60 => {
                let Some(h) = ip.get(off..off + 2) else { return (nh, None) };
                nh = h[0];
                off += (h[1] as usize + 1) * 8;
            }
            44 => {
                let Some(h) = ip.get(off..off + 4) else { return (nh, None) };
                let first = u16::from_be_bytes([h[2], h[3]]) & 0xfff8 == 0;
                nh = h[0];
                off += 8;
                if !first {
                    return (nh, None);
                }
            }
            _ => break,
        }
    }
    (nh, Some(off))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build::{self, Udp4, Udp6};
    use proptest::prelude::*;

    fn dscp(v: &[u8]) -> u64 {
        v.iter().fold(0, |m, d| m | 1 << d)
    }

    fn table(rules: &[Rule]) -> Classes {
        let e: Vec<_> =
            rules.iter().enumerate().map(|(i, r)| (format!("c{i}"), *r, ClassAction { budget_ns: (i as u64 + 1) * 1000, late_ok: false })).collect();
        Classes::new(&e)
    }

    fn v4(c: &Classes, f: &[u8]) -> u8 {
        let ip = &f[14..];
        c.ipv4(ip, ip[1], ip[9], ((ip[0] & 15) * 4) as usize)
    }

    fn v6(c: &Classes, f: &[u8]) -> u8 {
        let ip = &f[14..];
        c.ipv6(ip, (ip[0] << 4) | (ip[1] >> 4), ip[6])
    }

    #[test]
    fn dscp_only_rules_use_the_table_first_match_wins() {
        let c = table(&[Rule { dscp: dscp(&[46]), ..Rule::ANY }, Rule { dscp: dscp(&[46, 34]), ..Rule::ANY }]);
        assert!(c.by_dscp.is_some());
        for (d, want) in [(46u8, 2u8), (34, 3), (0, 0), (63, 0)] {
            let f = build::udp4(Udp4 { tos: d << 2 | 1, ..Default::default() });
            assert_eq!(v4(&c, &f), want, "dscp {d}");
            let f = build::udp6(Udp6 { traffic_class: d << 2, ..Default::default() });
            assert_eq!(v6(&c, &f), want, "v6 dscp {d}");
        }
        assert_eq!((c.name(0), c.name(1), c.name(2), c.name(3)), ("best-effort", "contract", "c0", "c1"));
        assert_eq!(c.names(), ["best-effort", "contract", "c0", "c1"]);
        assert_eq!(c.action(3).budget_ns, 2000);
        assert_eq!(c.action(0), ClassAction::default());
    }

    #[test]
    fn ports_protocol_and_family() {
        let c = table(&[
            Rule { proto: Some(17), dst_ports: Some((5000, 5010)), family: Family::Ipv4, ..Rule::ANY },
            Rule { proto: Some(17), src_ports: Some((7, 7)), ..Rule::ANY },
            Rule { dscp: dscp(&[10]), family: Family::Ipv6, ..Rule::ANY },
        ]);
        assert!(c.by_dscp.is_none());
        let f = |dport, sport| build::udp4(Udp4 { dport, sport, ..Default::default() });
        assert_eq!(v4(&c, &f(5000, 1)), 2);
        assert_eq!(v4(&c, &f(5010, 1)), 2);
        assert_eq!(v4(&c, &f(5011, 1)), 0);
        assert_eq!(v4(&c, &f(4999, 7)), 3);
        // A later fragment has no ports: only the port-free rules can match.
        let mut g = f(5000, 7);
        g[14 + 7] = 1;
        assert_eq!(v4(&c, &g), 0);
        let h = |dport, tc| build::udp6(Udp6 { dport, traffic_class: tc, ..Default::default() });
        assert_eq!(v6(&c, &h(5000, 0)), 0, "rule 0 is IPv4 only");
        assert_eq!(v6(&c, &h(5000, 10 << 2)), 4);
        let mut t = build::udp6(Udp6 { sport: 7, ..Default::default() });
        assert_eq!(v6(&c, &t), 3);
        t[14 + 6] = 6; // TCP: rule 1 wants UDP
        assert_eq!(v6(&c, &t), 0);
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        let c = table(&[Rule { proto: Some(17), dst_ports: Some((53, 53)), ..Rule::ANY }]);
        // IPv6 header, then an 8-byte hop-by-hop header (next: UDP), then UDP.
        let mut ip = vec![0u8; 40 + 8 + 8];
        ip[0] = 0x60;
        ip[6] = 0;
        ip[40] = 17;
        ip[40 + 8 + 2..40 + 8 + 4].copy_from_slice(&53u16.to_be_bytes());
        assert_eq!(c.ipv6(&ip, 0, 0), 2);
        ip[40] = 44; // a fragment header next
        assert_eq!(c.ipv6(&ip, 0, 0), 0, "cut-off chain: no ports");
        assert_eq!(ipv6_l4(&ip[..41], 0), (0, None));
    }

    #[test]
    fn empty_table_is_best_effort() {
        let c = Classes::new(&[]);
        assert!(c.is_empty());
        assert_eq!(c.len(), 2);
        assert_eq!(c.names(), ["best-effort", "contract"]);
        let f = build::udp4(Udp4::default());
        assert_eq!(v4(&c, &f), BEST_EFFORT);
    }

    proptest! {
        /// The DSCP table and the rule scan agree, and both agree with a
        /// plain reading of "first rule whose DSCP set contains the value".
        #[test]
        fn dscp_table_matches_the_scan(sets in proptest::collection::vec(any::<u64>(), 1..6), d in 0u8..64) {
            let rules: Vec<Rule> = sets.iter().map(|&s| Rule { dscp: s, ..Rule::ANY }).collect();
            let c = table(&rules);
            let want = sets.iter().position(|s| s & (1 << d) != 0).map_or(0, |i| i as u8 + 2);
            prop_assert_eq!(c.lookup(&Key { v6: false, dscp: d, proto: 17, ports: None }), want);
            let mut scan = c.clone();
            scan.by_dscp = None;
            prop_assert_eq!(scan.lookup(&Key { v6: true, dscp: d, proto: 6, ports: Some((1, 2)) }), want);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100), nh in any::<u8>(), ihl in 0usize..80) {
            let c = table(&[Rule { proto: Some(17), dst_ports: Some((1, 2)), ..Rule::ANY }]);
            let _ = c.ipv6(&bytes, 0, nh);
            let _ = c.ipv4(&bytes, 0, 17, ihl);
        }
    }
}
