//! The traffic engine: a [`Traffic`] description (flow sets, packet count,
//! rate, malformed share) in, packets out. Everything the generator writes
//! or sends comes from here: the command-line kinds are presets of it
//! ([`presets`](super::presets)), mix files are read into it
//! ([`mixfile`](super::mixfile)), and the live generator prebuilds its
//! frames with it ([`prebuilt`](super::prebuilt)). The same description and
//! seed always give the same bytes.

use super::flow::{FlowKind, FlowSet};
use super::malformed::{Bad, Malformation, NewIpMalformation};
use newipd_core::sched::port::WIRE_OVERHEAD;
use newipd_core::wire::build::{Udp4, Udp6};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// How the pcap timestamps are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Packets per second: packet `i` at `i * 1e9 / pps` ns.
    Pps(u64),
    /// Bits per second on the wire: each packet starts when the previous
    /// ones (each `len + 24` bytes: preamble, FCS, gap) have been sent.
    Bps(u64),
}

/// The order in which the engine draws each packet's flow set, flow,
/// size and malformation from its random generator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Order {
    /// Mix files and the New IP kinds. Flow sets take turns by smooth
    /// weighted round robin on their shares (exact to within one packet at
    /// any count); then the flow number (drawn only for sets of more than
    /// one flow), the size (only for a size range) and the malformed coin;
    /// the malformations are taken in turn, so every reason comes up, built
    /// on fixed templates.
    Weighted,
    /// The UDP kinds (`ipv4`, `ipv6`, `mix`), in the order they have always
    /// had, so their files keep their bytes: per packet, the flow number,
    /// uniform over the flow sets' common count; the malformed coin; a
    /// malformed packet draws one of the legacy malformations uniformly and
    /// breaks that flow's own packet (see [`Uniform`]); a good one goes to
    /// a flow set drawn by share among those with a VLAN tag (packets `i`
    /// with `i % tag_every == tag_every - 1`) or those without (the others).
    /// Pps timestamps fall on whole-ns gaps, `i * (1e9 / pps)`.
    Uniform(Uniform),
}

/// What the [`Order::Uniform`] order needs beyond the flow sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uniform {
    /// A malformed packet of flow `n` breaks a UDP packet to `dst4 + n`
    /// (IPv4) or `dst6 + n` (IPv6) from source port `1024 + n % 50000`, of
    /// `size` bytes.
    pub dst4: u32,
    pub dst6: u128,
    pub size: usize,
    /// One packet in this many goes to the flow sets with a VLAN tag (0:
    /// never).
    pub tag_every: u32,
}

/// A complete traffic description: flow sets, count, rate, malformed share.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// Random seed; the same description and seed give the same bytes.
    pub seed: u64,
    /// Number of packets.
    pub packets: usize,
    /// Timestamp spacing.
    pub rate: Rate,
    /// Share of packets made malformed on purpose (0.0..=1.0).
    pub malformed: f64,
    /// Destination MAC of every frame.
    pub dst_mac: [u8; 6],
    /// The flow sets; packets are spread over them by `share`.
    pub flows: Vec<FlowSet>,
    /// How packets are drawn.
    pub order: Order,
}

/// One generated packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// Timestamp, ns from the first packet.
    pub ts: u64,
    pub frame: Vec<u8>,
    /// The flow set it belongs to (its index in [`Traffic::flows`]) and its
    /// flow number in that set (for a malformed packet: the one drawn).
    pub set: usize,
    pub flow: u32,
    /// The malformation it carries; `None` for a well-formed packet.
    pub bad: Option<Bad>,
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    pub frames: Vec<(u64, Vec<u8>)>,
    pub good: usize,
    /// How many of each legacy malformation, in [`Malformation::ALL`] order.
    pub malformed: Vec<(Malformation, usize)>,
    /// How many malformed packets were generated per drop-reason name
    /// (legacy ones under [`Malformation::reason`]`().name()`, New IP ones
    /// under `malformed-newip-...` / `malformed-hbh-...`). Only reasons
    /// with at least one packet appear; the values sum to the number of
    /// malformed frames.
    pub by_reason: std::collections::BTreeMap<&'static str, usize>,
}

impl Generated {
    fn new(capacity: usize) -> Generated {
        Generated {
            frames: Vec::with_capacity(capacity),
            malformed: Malformation::ALL.iter().map(|m| (*m, 0)).collect(),
            ..Default::default()
        }
    }

    fn push(&mut self, p: Packet) {
        match p.bad {
            None => self.good += 1,
            Some(b) => {
                *self.by_reason.entry(b.name()).or_insert(0) += 1;
                if let Bad::Legacy(m) = b {
                    if let Some(e) = self.malformed.iter_mut().find(|e| e.0 == m) {
                        e.1 += 1;
                    }
                }
            }
        }
        self.frames.push((p.ts, p.frame));
    }
}

impl Traffic {
    /// Whether any flow set sends New IP or the IPv6 Hop-by-Hop option.
    pub fn has_newip(&self) -> bool {
        self.flows.iter().any(|f| matches!(f.kind, FlowKind::Newip | FlowKind::Ipv6Hbh))
    }

    /// The malformations taken in turn by the weighted order: the New IP and
    /// Hop-by-Hop ones first (when the traffic has New IP), then the legacy
    /// ones.
    pub fn malformations(&self) -> Vec<Bad> {
        let mut v = Vec::new();
        if self.has_newip() {
            v.extend(NewIpMalformation::ALL.iter().map(|m| Bad::NewIp(*m)));
        }
        v.extend(Malformation::ALL.iter().map(|m| Bad::Legacy(*m)));
        v
    }

    /// Check every flow set and the top-level values; messages name the
    /// field (`flow[2].src: ...`).
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.malformed) {
            return Err(format!("malformed: must be between 0.0 and 1.0, not {}", self.malformed));
        }
        match self.rate {
            Rate::Pps(0) => return Err("rate_pps: must be at least 1".into()),
            Rate::Bps(0) => return Err("rate_bps: must be at least 1".into()),
            _ => {}
        }
        if self.flows.is_empty() && self.packets > 0 {
            return Err("flow: no flows to send".into());
        }
        for (i, f) in self.flows.iter().enumerate() {
            f.validate().map_err(|e| format!("flow[{i}].{e}"))?;
        }
        if let Order::Uniform(_) = self.order {
            if self.flows.iter().any(|f| f.count != self.flows[0].count) {
                return Err("flow: the uniform order needs flow sets of one count".into());
            }
        }
        Ok(())
    }

    /// The packets, one at a time. Panics if the description does not
    /// [`validate`](Traffic::validate).
    pub fn packets(&self) -> Packets<'_> {
        if let Err(e) = self.validate() {
            panic!("invalid traffic description: {e}");
        }
        Packets {
            t: self,
            rng: Pcg64Mcg::seed_from_u64(self.seed),
            i: 0,
            bits: 0,
            current: vec![0.0; self.flows.len()],
            total: self.flows.iter().map(|f| f.share).sum(),
            bad: self.malformations(),
            next_bad: 0,
        }
    }

    /// Generate every packet. Panics if the description does not
    /// [`validate`](Traffic::validate).
    pub fn generate(&self) -> Generated {
        let mut g = Generated::new(self.packets);
        for p in self.packets() {
            g.push(p);
        }
        g
    }
}

/// The engine's state while it generates a [`Traffic`]'s packets.
pub struct Packets<'a> {
    t: &'a Traffic,
    rng: Pcg64Mcg,
    i: usize,
    /// Bits on the wire so far (for [`Rate::Bps`]).
    bits: u128,
    /// Smooth weighted round robin state, per flow set.
    current: Vec<f64>,
    total: f64,
    /// The malformations taken in turn ([`Order::Weighted`]).
    bad: Vec<Bad>,
    next_bad: usize,
}

impl Packets<'_> {
    fn timestamp(&self) -> u64 {
        let i = self.i as u128;
        match (self.t.rate, self.t.order) {
            (Rate::Pps(pps), Order::Uniform(_)) => (i as u64).wrapping_mul(1_000_000_000 / pps.max(1)),
            (Rate::Pps(pps), Order::Weighted) => (i * 1_000_000_000 / pps.max(1) as u128) as u64,
            (Rate::Bps(bps), _) => (self.bits * 1_000_000_000 / bps.max(1) as u128) as u64,
        }
    }

    fn coin(&mut self) -> bool {
        let p = self.t.malformed.clamp(0.0, 1.0);
        p > 0.0 && self.rng.gen_bool(p)
    }

    fn size(&mut self, set: usize) -> usize {
        let (lo, hi) = self.t.flows[set].size;
        if lo == hi {
            lo
        } else {
            self.rng.gen_range(lo..=hi)
        }
    }

    /// [`Order::Weighted`]: set, flow, size, then the malformed coin.
    fn weighted(&mut self, seq: u64, ts: u64) -> Packet {
        let t = self.t;
        let mut set = 0;
        for (j, f) in t.flows.iter().enumerate() {
            self.current[j] += f.share;
            if self.current[j] > self.current[set] {
                set = j;
            }
        }
        self.current[set] -= self.total;
        let f = &t.flows[set];
        let flow = if f.count > 1 { self.rng.gen_range(0..f.count) } else { 0 };
        let size = self.size(set);
        if self.coin() {
            let b = self.bad[self.next_bad % self.bad.len()];
            self.next_bad += 1;
            let frame = match b {
                Bad::Legacy(m) => {
                    m.make(&Udp4 { dst_mac: t.dst_mac, ..Default::default() }, &Udp6 { dst_mac: t.dst_mac, ..Default::default() })
                }
                Bad::NewIp(m) => m.make(t.dst_mac),
            };
            return Packet { ts, frame, set, flow, bad: Some(b) };
        }
        Packet { ts, frame: f.frame(t.dst_mac, flow, size, seq, ts), set, flow, bad: None }
    }

    /// [`Order::Uniform`]: flow, the malformed coin, then malformation or set.
    fn uniform(&mut self, u: Uniform, seq: u64, ts: u64) -> Packet {
        let t = self.t;
        let flow = self.rng.gen_range(0..t.flows[0].count.max(1));
        if self.coin() {
            let m = Malformation::ALL[self.rng.gen_range(0..Malformation::ALL.len())];
            let sport = 1024 + (flow % 50_000) as u16;
            let v4 = Udp4 {
                dst_mac: t.dst_mac,
                dst: u.dst4.wrapping_add(flow),
                sport,
                ident: seq as u16,
                frame_len: u.size,
                ..Default::default()
            };
            let v6 =
                Udp6 { dst_mac: t.dst_mac, dst: u.dst6.wrapping_add(flow as u128), sport, frame_len: u.size.max(62), ..Default::default() };
            return Packet { ts, frame: m.make(&v4, &v6), set: 0, flow, bad: Some(Bad::Legacy(m)) };
        }
        let tagged = u.tag_every > 0 && seq % u.tag_every as u64 == u.tag_every as u64 - 1;
        let set = self.draw_set(tagged);
        let size = self.size(set);
        Packet { ts, frame: t.flows[set].frame(t.dst_mac, flow, size, seq, ts), set, flow, bad: None }
    }

    /// A flow set among those with (or without) a VLAN tag, by share: each
    /// but the last is taken with probability share / (shares left), so one
    /// candidate takes no draw and two equal ones a fair coin.
    fn draw_set(&mut self, tagged: bool) -> usize {
        let flows = &self.t.flows;
        let mut candidates: Vec<usize> = (0..flows.len()).filter(|&j| flows[j].vlan.is_some() == tagged).collect();
        if candidates.is_empty() {
            candidates = (0..flows.len()).collect();
        }
        let mut left: f64 = candidates.iter().map(|&j| flows[j].share).sum();
        for &j in &candidates[..candidates.len() - 1] {
            if self.rng.gen_bool((flows[j].share / left).clamp(0.0, 1.0)) {
                return j;
            }
            left -= flows[j].share;
        }
        candidates[candidates.len() - 1]
    }
}

impl Iterator for Packets<'_> {
    type Item = Packet;

    fn next(&mut self) -> Option<Packet> {
        if self.i >= self.t.packets {
            return None;
        }
        let ts = self.timestamp();
        let seq = self.i as u64;
        let p = match self.t.order {
            Order::Weighted => self.weighted(seq, ts),
            Order::Uniform(u) => self.uniform(u, seq, ts),
        };
        self.bits += ((p.frame.len().max(60) as u64 + WIRE_OVERHEAD) * 8) as u128;
        self.i += 1;
        Some(p)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.t.packets - self.i;
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use newipd_core::wire::newip::build::Address;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn traffic(flows: Vec<FlowSet>, order: Order) -> Traffic {
        Traffic { seed: 3, packets: 400, rate: Rate::Pps(1_000_000), malformed: 0.0, dst_mac: [2, 0, 0, 0, 0, 1], flows, order }
    }

    #[test]
    fn shares_are_exact_and_rate_bps_spaces_by_size() {
        let mut f1 = FlowSet::new(FlowKind::Ipv4, a("1.1.1.1"), a("10.0.0.1"));
        f1.share = 3.0;
        let mut f2 = FlowSet::new(FlowKind::Ipv6, a("::1"), a("::2"));
        f2.size = (100, 100);
        let t = Traffic { rate: Rate::Bps(1_000_000_000), ..traffic(vec![f1, f2], Order::Weighted) };
        let g = t.generate();
        let n4 = g.frames.iter().filter(|f| f.1.len() == 60).count();
        assert_eq!(n4, 300);
        assert_eq!(g.frames.len() - n4, 100);
        for w in g.frames.windows(2) {
            // (len + 24) bytes at 1 Gb/s = 8 ns per byte.
            assert_eq!(w[1].0 - w[0].0, ((w[0].1.len() + 24) * 8) as u64);
        }
        assert_eq!(g, t.generate());
    }

    #[test]
    fn packets_say_where_they_come_from() {
        let mut f1 = FlowSet::new(FlowKind::Ipv4, a("1.1.1.1"), a("10.0.0.1"));
        f1.count = 5;
        let f2 = FlowSet::new(FlowKind::Newip, a("8bit:1"), a("8bit:2"));
        let t = Traffic { malformed: 0.2, ..traffic(vec![f1, f2], Order::Weighted) };
        let g = t.generate();
        let ps: Vec<Packet> = t.packets().collect();
        assert_eq!(ps.len(), 400);
        assert_eq!(g.frames, ps.iter().map(|p| (p.ts, p.frame.clone())).collect::<Vec<_>>());
        assert_eq!(g.good, ps.iter().filter(|p| p.bad.is_none()).count());
        for p in ps.iter().filter(|p| p.bad.is_none()) {
            if p.set == 0 {
                assert_eq!(p.frame[33], 1 + p.flow as u8, "IPv4 flow n goes to 10.0.0.1 + n");
                assert!(p.flow < 5);
            } else {
                assert_eq!((&p.frame[12..14], p.flow), (&[0x88, 0xb6][..], 0));
            }
        }
        // Weighted order: the malformations come in turn, New IP ones first.
        let bad: Vec<Bad> = ps.iter().filter_map(|p| p.bad).collect();
        assert!(bad.len() > 40);
        assert_eq!(&bad[..3], &t.malformations()[..3]);
    }

    #[test]
    fn uniform_order_tags_every_nth_and_draws_among_equal_shares() {
        let base = |kind, vlan: Option<u16>| {
            let (src, dst) = if kind == FlowKind::Ipv4 { (a("1.1.1.1"), a("10.0.0.1")) } else { (a("::1"), a("::2")) };
            FlowSet { vlan, count: 4, share: if vlan.is_some() { 1.0 } else { 7.0 }, ..FlowSet::new(kind, src, dst) }
        };
        let flows =
            vec![base(FlowKind::Ipv4, None), base(FlowKind::Ipv6, None), base(FlowKind::Ipv4, Some(100)), base(FlowKind::Ipv6, Some(100))];
        let u = Uniform { dst4: 1, dst6: 2, size: 60, tag_every: 8 };
        let t = Traffic { packets: 800, ..traffic(flows, Order::Uniform(u)) };
        let mut per_set = [0; 4];
        for (i, p) in t.packets().enumerate() {
            let tagged = p.frame[12..14] == [0x81, 0x00];
            assert_eq!(tagged, i % 8 == 7, "packet {i}");
            per_set[p.set] += 1;
            assert_eq!(p.ts, i as u64 * 1000);
        }
        assert_eq!(per_set[2] + per_set[3], 100);
        assert!(per_set.iter().all(|n| *n > 30), "{per_set:?}");
        // Flow sets of different counts cannot share one flow draw.
        let mut bad = t.clone();
        bad.flows[1].count = 5;
        assert!(bad.validate().unwrap_err().contains("one count"));
    }

    #[test]
    fn uniform_pps_timestamps_fall_on_whole_ns_gaps() {
        let f = FlowSet::new(FlowKind::Ipv4, a("1.1.1.1"), a("10.0.0.1"));
        let u = Uniform { dst4: 1, dst6: 2, size: 60, tag_every: 0 };
        let ts = |order| -> Vec<u64> {
            Traffic { packets: 4, rate: Rate::Pps(3_000_000), ..traffic(vec![f.clone()], order) }.packets().map(|p| p.ts).collect()
        };
        // 1e9 / 3e6 = 333.3 ns: the UDP kinds' whole-ns gap, the weighted order's exact time.
        assert_eq!(ts(Order::Uniform(u)), vec![0, 333, 666, 999]);
        assert_eq!(ts(Order::Weighted), vec![0, 333, 666, 1000]);
    }
}
