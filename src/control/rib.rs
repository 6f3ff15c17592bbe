//! The routes newipd forwards by, from every source, and what the FIB
//! holds of them. Sources, from the strongest:
//!
//! 1. **newipd's own addresses** (the kernel's addresses on the host
//!    interfaces, and the IPv4 / IPv6 `addresses` of the pipeline's ports):
//!    a host route to a *local* next hop, whose packets go to the kernel
//!    (`for-router`);
//! 2. **the pipeline file's `[[route]]`s**: an operator who names a prefix
//!    there means it, whatever the kernel holds for the same prefix;
//! 3. **the kernel's routes** (main table, as the netlink mirror tells them):
//!    for one prefix the lowest metric; the next hop is the gateway's
//!    neighbour entry (its MAC, updated in place by neighbour events) or,
//!    for a connected route, "resolve first" (punted to the kernel, which
//!    resolves the address and forwards the packet itself);
//! 4. **the kernel's neighbours**: a host route per resolved neighbour, so
//!    a connected destination the kernel has resolved is forwarded here.
//!
//! Each prefix's winner is in the FIB; when a source changes, only that
//! prefix is looked at again ([`Rib::settle`]). Path figures of kernel
//! routes come from the `[[policy]]` entries and, if asked, the metric.
//!
//! Runs on control threads only (the mirror's, the signal thread's), behind
//! one mutex; the lcores read the FIB, never this.

use super::config::{PolicySpec, RouteSpec};
use super::netlink::model::{self, NudState, RouteKind};
use super::netlink::MirrorEvent;
use newipd_core::fib::nhtable::mac_id;
use newipd_core::fib::{Fib, Link, NhKey, NhState, Prefix};
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Neighbour names of the next hops that are no neighbour: their own
/// namespace at the top of the u128 range, where no IP address and no MAC
/// name ([`mac_id`]) falls.
const GLEAN: u128 = u128::MAX;
const LOCAL: u128 = u128::MAX - 1;
const BLACKHOLE: u128 = u128::MAX - 2;

/// Who a next hop is on its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbour {
    /// A fixed MAC (pipeline routes).
    Mac([u8; 6]),
    /// A gateway by address ([`ip_id`], as bytes: a `u128` field would
    /// align `Want` to 16 bytes and make every RIB entry half as big again):
    /// its MAC is whatever the kernel's neighbour entry says, unresolved
    /// until it has one.
    Gateway([u8; 16]),
    /// The destination itself, on a connected subnet: resolved by the
    /// kernel (packets are punted until a neighbour host route exists).
    Glean,
}

/// Most next hops of one ECMP route newipd uses (the kernel's first ones).
pub const MAX_PATHS: usize = 8;

/// One path of a multipath route: (port, neighbour, weight).
pub type Path = (u16, Neighbour, u16);

/// What a source wants for a prefix. Small (32 bytes): a full table keeps
/// one per route twice (the kernel's routes and what the FIB holds), so a
/// multipath set lives behind a shared pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    Via { port: u16, neighbour: Neighbour, to_hops: u16, to_delay_ns: u32 },
    /// ECMP: two to [`MAX_PATHS`] paths.
    Paths { paths: Arc<[Path]>, to_hops: u16, to_delay_ns: u32 },
    Local,
    Blackhole,
}

/// An IP address as a neighbour name (IPv4 as its IPv4-mapped IPv6 form).
pub fn ip_id(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The host prefix of one address.
pub fn host(ip: IpAddr) -> Prefix {
    match ip {
        IpAddr::V4(a) => Prefix::V4 { addr: u32::from(a), len: 32 },
        IpAddr::V6(a) => Prefix::V6 { addr: u128::from(a), len: 128 },
    }
}

/// A kernel prefix in the FIB's terms (host bits cleared).
pub fn prefix_of(p: &model::Prefix) -> Prefix {
    let raw = match p.addr {
        IpAddr::V4(a) => Prefix::V4 { addr: u32::from(a), len: p.len.min(32) },
        IpAddr::V6(a) => Prefix::V6 { addr: u128::from(a), len: p.len.min(128) },
    };
    raw.masked()
}

/// Counters of what the RIB did (the control-plane side; aggregate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RibStats {
    /// Routes written into the FIB (added or given another next hop).
    pub fib_writes: u64,
    /// Routes deleted from the FIB.
    pub fib_deletes: u64,
    /// Updates the FIB refused (full tables, next-hop table full).
    pub fib_errors: u64,
    /// Neighbour changes written into next-hop entries.
    pub neighbour_updates: u64,
    /// Routes of the kernel not followed (no next hop on a host interface,
    /// source-specific, throw).
    pub kernel_routes_skipped: u64,
    /// Routes in the FIB now, by source (gauges).
    #[serde(default)]
    pub own_addresses: u64,
    #[serde(default)]
    pub pipeline_routes: u64,
    #[serde(default)]
    pub kernel_routes: u64,
    #[serde(default)]
    pub neighbour_routes: u64,
}

/// The route owner. See the module documentation.
pub struct Rib {
    fib: FibRef,
    /// Each port's host interface name (pipeline order).
    host_interfaces: Vec<Option<String>>,
    /// Host interface ifindex -> port.
    ports_by_ifindex: HashMap<u32, u16>,
    statics: HashMap<Prefix, Want>,
    /// Per prefix of the kernel's routes or of the FIB: the kernel's routes
    /// by metric (the lowest wins) and what the FIB holds (and which source
    /// won it). One map for both: a full table's route looks up one entry.
    /// Boxed: growing to a full table, the map moves a key and a pointer
    /// per prefix (56 bytes), not the entry (160): about 9 % of the mirror's
    /// CPU for 1.22 M routes.
    prefixes: HashMap<Prefix, Box<Entry>>,
    neighbour_routes: HashMap<Prefix, Want>,
    /// Resolved neighbours: (port, name) -> MAC.
    neighbours: HashMap<(u16, u128), [u8; 6]>,
    /// newipd's own addresses (a count: one address may be on two interfaces).
    locals: HashMap<Prefix, u32>,
    /// Each port's IPv4 / IPv6 addresses from the pipeline file, then those
    /// the kernel has on its host interface: the sources of its ICMP errors.
    configured_sources: Vec<Vec<Prefix>>,
    kernel_sources: HashMap<u16, Vec<Prefix>>,
    /// Routes in the FIB by source, kept as they change (a report must not
    /// walk a full table under the RIB's lock).
    by_source: [usize; 4],
    policies: Vec<PolicySpec>,
    metric_is_delay_us: bool,
    stats: RibStats,
}

/// What the RIB knows of one prefix.
#[derive(Default)]
struct Entry {
    kernel: Metrics,
    installed: Option<(Want, Source)>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.kernel.is_empty() && self.installed.is_none()
    }
}

/// One prefix's kernel routes by metric, lowest first. Nearly every prefix
/// has one, kept inline (no allocation per route of a full table); the
/// others of a prefix go to a sorted vector.
#[derive(Default)]
struct Metrics {
    lowest: Option<(u32, Want)>,
    rest: Vec<(u32, Want)>,
}

impl Metrics {
    fn insert(&mut self, metric: u32, w: Want) {
        match &mut self.lowest {
            None => self.lowest = Some((metric, w)),
            Some(l) if l.0 == metric => l.1 = w,
            Some(l) if metric < l.0 => {
                let old = std::mem::replace(l, (metric, w));
                self.rest.insert(0, old);
            }
            Some(_) => match self.rest.binary_search_by_key(&metric, |e| e.0) {
                Ok(i) => self.rest[i].1 = w,
                Err(i) => self.rest.insert(i, (metric, w)),
            },
        }
    }
    fn remove(&mut self, metric: u32) {
        if self.lowest.as_ref().is_some_and(|l| l.0 == metric) {
            self.lowest = (!self.rest.is_empty()).then(|| self.rest.remove(0));
        } else if let Ok(i) = self.rest.binary_search_by_key(&metric, |e| e.0) {
            self.rest.remove(i);
        }
    }
    fn is_empty(&self) -> bool {
        self.lowest.is_none()
    }
    fn best(&self) -> Option<&Want> {
        self.lowest.as_ref().map(|e| &e.1)
    }
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut (u32, Want)> {
        self.lowest.iter_mut().chain(self.rest.iter_mut())
    }
}

/// Which source a route in the FIB came from (an index of `Rib::by_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Local = 0,
    Static = 1,
    Kernel = 2,
    Neighbour = 3,
}

/// How the RIB reaches the FIB: the router's, shared with the lcores.
pub type FibRef = std::sync::Arc<newipd_core::path::Router>;

impl Rib {
    /// A RIB over `router`'s FIB, which already holds `statics` (built with
    /// the router) and gets the ports' configured IPv4 / IPv6 addresses as
    /// local routes now.
    pub fn new(
        router: FibRef,
        host_interfaces: Vec<Option<String>>,
        statics: &[RouteSpec],
        configured_locals: &[Vec<Prefix>],
        policies: Vec<PolicySpec>,
        metric_is_delay_us: bool,
    ) -> Rib {
        let mut rib = Rib {
            fib: router,
            host_interfaces,
            ports_by_ifindex: HashMap::default(),
            statics: HashMap::default(),
            prefixes: HashMap::default(),
            neighbour_routes: HashMap::default(),
            neighbours: HashMap::default(),
            locals: HashMap::default(),
            configured_sources: configured_locals.to_vec(),
            kernel_sources: HashMap::default(),
            by_source: [0; 4],
            policies,
            metric_is_delay_us,
            stats: RibStats::default(),
        };
        for r in statics {
            let w = static_want(r);
            rib.statics.insert(r.prefix, w.clone());
            rib.put(r.prefix, w, Source::Static);
        }
        for p in configured_locals.iter().flatten().filter(|p| matches!(p, Prefix::V4 { .. } | Prefix::V6 { .. })) {
            *rib.locals.entry(*p).or_insert(0) += 1;
            rib.settle(*p);
        }
        rib
    }

    fn fib(&self) -> &Fib {
        self.fib.fib()
    }

    /// The counters, and the routes in the FIB by source now.
    pub fn stats(&self) -> RibStats {
        let (l, s, k, n) = self.counts();
        RibStats { own_addresses: l as u64, pipeline_routes: s as u64, kernel_routes: k as u64, neighbour_routes: n as u64, ..self.stats }
    }

    /// Routes in the FIB, by source kind: (local, static, kernel, neighbour).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let [l, s, k, n] = self.by_source;
        (l, s, k, n)
    }

    /// Record that the FIB holds `w` for `p`, won by `src`.
    fn put(&mut self, p: Prefix, w: Want, src: Source) {
        if let Some((_, old)) = self.prefixes.entry(p).or_default().installed.replace((w, src)) {
            self.by_source[old as usize] -= 1;
        }
        self.by_source[src as usize] += 1;
    }

    /// What the FIB holds for `p`, as the RIB put it there.
    pub fn installed(&self, p: &Prefix) -> Option<Want> {
        self.prefixes.get(p).and_then(|e| e.installed.as_ref()).map(|(w, _)| w.clone())
    }

    /// The winner for `p` among the sources.
    fn wanted(&self, p: &Prefix) -> Option<(Want, Source)> {
        if self.locals.contains_key(p) {
            return Some((Want::Local, Source::Local));
        }
        if let Some(w) = self.statics.get(p) {
            return Some((w.clone(), Source::Static));
        }
        if let Some(w) = self.prefixes.get(p).and_then(|e| e.kernel.best()) {
            return Some((w.clone(), Source::Kernel));
        }
        self.neighbour_routes.get(p).map(|w| (w.clone(), Source::Neighbour))
    }

    /// The next-hop key and link a want names now.
    fn next_hop(&self, w: &Want) -> (NhKey, Link) {
        let key = |port: u16, neighbour: u128, to_hops: u16, to_delay_ns: u32| NhKey { port, neighbour, to_hops, to_delay_ns };
        let blocked = |port: u16, state: NhState| Link { port, mac: [0; 6], state };
        match w {
            Want::Local => (key(0, LOCAL, 1, 0), blocked(0, NhState::Local)),
            Want::Blackhole => (key(0, BLACKHOLE, 1, 0), blocked(0, NhState::Blackhole)),
            &Want::Paths { ref paths, to_hops, to_delay_ns } => {
                // One path stands for the group here (see `members`).
                let (port, neighbour, _) = paths[0];
                self.next_hop(&Want::Via { port, neighbour, to_hops, to_delay_ns })
            }
            &Want::Via { port, neighbour, to_hops, to_delay_ns } => match neighbour {
                Neighbour::Mac(mac) => (key(port, mac_id(&mac), to_hops, to_delay_ns), Link::resolved(port, mac)),
                Neighbour::Gateway(id) => {
                    let id = u128::from_ne_bytes(id);
                    let link = match self.neighbours.get(&(port, id)) {
                        Some(mac) => Link::resolved(port, *mac),
                        None => blocked(port, NhState::Unresolved),
                    };
                    (key(port, id, to_hops, to_delay_ns), link)
                }
                Neighbour::Glean => (key(port, GLEAN, to_hops, to_delay_ns), blocked(port, NhState::Unresolved)),
            },
        }
    }

    /// The ECMP members of a multipath want.
    fn members(&self, w: &Want) -> Vec<newipd_core::fib::Member> {
        match *w {
            Want::Paths { ref paths, to_hops, to_delay_ns } => paths
                .iter()
                .map(|&(port, neighbour, weight)| {
                    let (key, link) = self.next_hop(&Want::Via { port, neighbour, to_hops, to_delay_ns });
                    (key, link, weight)
                })
                .collect(),
            _ => {
                let (key, link) = self.next_hop(w);
                vec![(key, link, 1)]
            }
        }
    }

    /// Make the FIB hold `p`'s winner (or nothing).
    fn settle(&mut self, p: Prefix) {
        let want = self.wanted(&p);
        let now = self.prefixes.get(&p).and_then(|e| e.installed.as_ref());
        if want.as_ref().map(|(w, _)| w) == now.map(|(w, _)| w) {
            match (want, now) {
                // The same route from another source: only the tally moves.
                (Some((w, src)), Some(&(_, old))) if src != old => self.put(p, w, src),
                // Nothing wanted, nothing installed: a kernel route the FIB
                // never took may leave an entry to forget.
                (None, _) => self.forget_if_empty(&p),
                _ => {}
            }
            return;
        }
        match want {
            Some((w, src)) => {
                let added = match w {
                    Want::Paths { .. } => self.fib().add_route_multi(p, &self.members(&w)),
                    _ => {
                        let (key, link) = self.next_hop(&w);
                        self.fib().add_route(p, key, link)
                    }
                };
                match added {
                    Ok(_) => {
                        self.put(p, w, src);
                        self.stats.fib_writes += 1;
                    }
                    Err(e) => {
                        self.stats.fib_errors += 1;
                        eprintln!("newipd: route {p}: not installed: {e}");
                    }
                }
            }
            None => {
                if let Some((_, old)) = self.prefixes.get_mut(&p).and_then(|e| e.installed.take()) {
                    self.forget_if_empty(&p);
                    self.by_source[old as usize] -= 1;
                    match self.fib().delete_route(p) {
                        Ok(()) => self.stats.fib_deletes += 1,
                        Err(e) => {
                            self.stats.fib_errors += 1;
                            eprintln!("newipd: route {p}: not removed: {e}");
                        }
                    }
                }
            }
        }
    }

    /// Replace the pipeline file's routes (a reload). Returns one line per
    /// change, for the log.
    pub fn set_statics(&mut self, routes: &[RouteSpec]) -> Vec<String> {
        let new: HashMap<Prefix, Want> = routes.iter().map(|r| (r.prefix, static_want(r))).collect();
        let mut changes = Vec::new();
        let mut touched: Vec<Prefix> = Vec::new();
        for (p, w) in &new {
            match self.statics.get(p) {
                None => changes.push(format!("route {p} added")),
                Some(old) if old != w => changes.push(format!("route {p} changed")),
                Some(_) => continue,
            }
            touched.push(*p);
        }
        for p in self.statics.keys().filter(|p| !new.contains_key(p)) {
            changes.push(format!("route {p} removed"));
            touched.push(*p);
        }
        self.statics = new;
        for p in touched {
            self.settle(p);
        }
        changes.sort();
        changes
    }

    /// Replace the path-figure policy (a reload): every kernel route is
    /// looked at again.
    pub fn set_policies(&mut self, policies: Vec<PolicySpec>, metric_is_delay_us: bool) -> bool {
        if policies == self.policies && metric_is_delay_us == self.metric_is_delay_us {
            return false;
        }
        self.policies = policies;
        self.metric_is_delay_us = metric_is_delay_us;
        let prefixes: Vec<Prefix> =
            self.prefixes.iter().filter(|(_, e)| !e.kernel.is_empty()).map(|(p, _)| p).chain(self.neighbour_routes.keys()).copied().collect();
        for p in prefixes {
            self.repath(p);
        }
        true
    }

    /// Recompute the path figures of `p`'s kernel and neighbour wants.
    fn repath(&mut self, p: Prefix) {
        let policy = self.policy(&p);
        let metric_delay = self.metric_is_delay_us;
        if let Some(e) = self.prefixes.get_mut(&p) {
            for (metric, w) in e.kernel.iter_mut() {
                *w = with_path(w.clone(), policy.clone(), metric_delay.then_some(*metric));
            }
        }
        if let Some(w) = self.neighbour_routes.get_mut(&p) {
            *w = with_path(w.clone(), policy, None);
        }
        self.settle(p);
    }

    /// The policy whose prefix contains `p`, the most specific.
    fn policy(&self, p: &Prefix) -> Option<PolicySpec> {
        self.policies.iter().find(|q| q.prefix.contains(p)).cloned()
    }

    /// Apply one event of the netlink mirror.
    pub fn apply(&mut self, ev: &MirrorEvent) {
        match ev {
            MirrorEvent::LinkAdded { link } => self.link(None, Some(link)),
            MirrorEvent::LinkChanged { old, new } => self.link(Some(old), Some(new)),
            MirrorEvent::LinkRemoved { link } => self.link(Some(link), None),
            MirrorEvent::AddressAdded { address } => self.address(address, true),
            MirrorEvent::AddressRemoved { address } => self.address(address, false),
            MirrorEvent::RouteAdded { route } => self.route(None, Some(route)),
            MirrorEvent::RouteChanged { old, new } => self.route(Some(old), Some(new)),
            MirrorEvent::RouteRemoved { route } => self.route(Some(route), None),
            MirrorEvent::NeighbourAdded { neighbour } => self.neighbour(neighbour, true),
            MirrorEvent::NeighbourChanged { new, .. } => self.neighbour(new, true),
            MirrorEvent::NeighbourRemoved { neighbour } => self.neighbour(neighbour, false),
            MirrorEvent::Synced { .. } => {
                self.fib().reclaim();
            }
            MirrorEvent::Overrun { .. } => {}
        }
    }

    fn link(&mut self, old: Option<&model::Link>, new: Option<&model::Link>) {
        if let Some(o) = old {
            self.ports_by_ifindex.remove(&o.index);
        }
        if let Some(n) = new {
            if let Some(port) = self.host_interfaces.iter().position(|h| h.as_deref() == Some(n.name.as_str())) {
                self.ports_by_ifindex.retain(|_, p| *p != port as u16);
                self.ports_by_ifindex.insert(n.index, port as u16);
            }
        }
    }

    fn address(&mut self, a: &model::Address, added: bool) {
        let p = host(a.prefix.addr);
        if let Some(&port) = self.ports_by_ifindex.get(&a.ifindex) {
            let list = self.kernel_sources.entry(port).or_default();
            list.retain(|q| *q != p);
            // Global addresses first: an error from a link-local source
            // names the router to nobody beyond the link.
            let link_local = matches!(a.prefix.addr, IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80);
            match (added, link_local) {
                (true, false) => list.insert(0, p),
                (true, true) => list.push(p),
                (false, _) => {}
            }
            self.publish_sources();
        }
        if added {
            *self.locals.entry(p).or_insert(0) += 1;
        } else if let Some(n) = self.locals.get_mut(&p) {
            *n -= 1;
            if *n == 0 {
                self.locals.remove(&p);
            }
        }
        self.settle(p);
    }

    /// The ICMP error sources of every port: its configured addresses, then
    /// the kernel's on its host interface.
    fn publish_sources(&self) {
        let n = self.host_interfaces.len().max(self.configured_sources.len());
        let ports: Vec<Vec<Prefix>> = (0..n)
            .map(|i| {
                let mut v = self.configured_sources.get(i).cloned().unwrap_or_default();
                v.extend(self.kernel_sources.get(&(i as u16)).into_iter().flatten().copied());
                v
            })
            .collect();
        self.fib.set_icmp_sources(newipd_core::path::icmp::Sources::new(&ports));
    }

    /// A kernel route as a want (None: not followed).
    fn kernel_want(&self, r: &model::Route) -> Option<Want> {
        if r.key.src.is_some() || r.key.tos != 0 {
            return None;
        }
        let p = prefix_of(&r.key.dst);
        let policy = self.policy(&p);
        let metric = self.metric_is_delay_us.then_some(r.key.metric);
        match r.kind {
            RouteKind::Blackhole | RouteKind::Unreachable | RouteKind::Prohibit => Some(Want::Blackhole),
            RouteKind::Throw => None,
            RouteKind::Unicast => {
                // The next hops on host interfaces (the others are not newipd's).
                let mut paths = [(0u16, Neighbour::Glean, 0u16); MAX_PATHS];
                let mut n = 0;
                for h in r.next_hops.iter() {
                    let Some(&port) = self.ports_by_ifindex.get(&h.ifindex) else { continue };
                    if n == MAX_PATHS {
                        break;
                    }
                    let neighbour = match h.gateway {
                        Some(gw) => Neighbour::Gateway(ip_id(gw).to_ne_bytes()),
                        None => Neighbour::Glean,
                    };
                    paths[n] = (port, neighbour, h.weight.max(1));
                    n += 1;
                }
                let w = match n {
                    0 => return None,
                    1 => Want::Via { port: paths[0].0, neighbour: paths[0].1, to_hops: 1, to_delay_ns: 0 },
                    _ => Want::Paths { paths: paths[..n].into(), to_hops: 1, to_delay_ns: 0 },
                };
                Some(with_path(w, policy, metric))
            }
        }
    }

    fn route(&mut self, old: Option<&model::Route>, new: Option<&model::Route>) {
        if let Some(o) = old {
            let p = prefix_of(&o.key.dst);
            if let Some(e) = self.prefixes.get_mut(&p) {
                e.kernel.remove(o.key.metric);
            }
            if new.is_none() {
                self.settle(p);
            }
        }
        if let Some(n) = new {
            let p = prefix_of(&n.key.dst);
            match self.kernel_want(n) {
                Some(w) => {
                    self.prefixes.entry(p).or_default().kernel.insert(n.key.metric, w);
                }
                None => self.stats.kernel_routes_skipped += 1,
            }
            self.settle(p);
        }
    }

    /// Drop `p`'s entry once neither the kernel nor the FIB has it.
    fn forget_if_empty(&mut self, p: &Prefix) {
        if self.prefixes.get(p).is_some_and(|e| e.is_empty()) {
            self.prefixes.remove(p);
        }
    }

    fn neighbour(&mut self, n: &model::Neighbour, present: bool) {
        let Some(&port) = self.ports_by_ifindex.get(&n.key.ifindex) else { return };
        let id = ip_id(n.key.ip);
        let usable = present && usable(n.state);
        let mac = n.mac.map(|m| m.0).filter(|_| usable);
        let before = self.neighbours.get(&(port, id)).copied();
        if before == mac {
            return;
        }
        match mac {
            Some(m) => {
                self.neighbours.insert((port, id), m);
            }
            None => {
                self.neighbours.remove(&(port, id));
            }
        }
        let state = if mac.is_some() { NhState::Resolved } else { NhState::Unresolved };
        self.fib().next_hops.neighbour(port, id, mac.unwrap_or([0; 6]), state);
        self.stats.neighbour_updates += 1;
        // Link-local neighbours are gateways only: nothing is routed to fe80::/10.
        let link_local = matches!(n.key.ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80);
        if link_local {
            return;
        }
        let p = host(n.key.ip);
        match mac {
            Some(_) => {
                let policy = self.policy(&p);
                let w = with_path(Want::Via { port, neighbour: Neighbour::Gateway(id.to_ne_bytes()), to_hops: 1, to_delay_ns: 0 }, policy, None);
                self.neighbour_routes.insert(p, w);
            }
            None => {
                self.neighbour_routes.remove(&p);
            }
        }
        self.settle(p);
    }
}

/// Neighbour states whose MAC may be used: the kernel itself sends to
/// stale, delay and probe entries while it checks them.
fn usable(s: NudState) -> bool {
    matches!(s, NudState::Reachable | NudState::Stale | NudState::Delay | NudState::Probe | NudState::Permanent | NudState::Noarp)
}

fn static_want(r: &RouteSpec) -> Want {
    Want::Via { port: r.port as u16, neighbour: Neighbour::Mac(r.next_hop_mac), to_hops: r.to_hops.max(1), to_delay_ns: r.to_delay_ns }
}

/// A want with its path figures: the policy's, else the metric read as µs
/// of delay (when asked), else one hop and no delay.
fn with_path(w: Want, policy: Option<PolicySpec>, metric_us: Option<u32>) -> Want {
    let to_hops = policy.as_ref().map_or(1, |p| p.to_hops.max(1));
    let to_delay_ns =
        policy.as_ref().and_then(|p| p.to_delay_ns).or_else(|| metric_us.map(|m| (m as u64 * 1000).min(u32::MAX as u64) as u32)).unwrap_or(0);
    match w {
        Want::Via { port, neighbour, .. } => Want::Via { port, neighbour, to_hops, to_delay_ns },
        Want::Paths { paths, .. } => Want::Paths { paths, to_hops, to_delay_ns },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::netlink::model::{Address, Link as NlLink, Mac, NeighbourKey, NextHop as NlHop, Protocol, Route, RouteKey};
    use newipd_core::kinds::Reason;
    use newipd_core::path::Router;
    use std::sync::Arc;

    const HI0: u32 = 10;
    const HI1: u32 = 11;
    const M1: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const M2: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const S: [u8; 6] = [2, 0, 0, 0, 0, 0x55];

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pfx(s: &str) -> model::Prefix {
        let (a, l) = s.split_once('/').unwrap();
        model::Prefix::new(ip(a), l.parse().unwrap())
    }

    fn rib_with(statics: &[RouteSpec], policies: Vec<PolicySpec>, metric_us: bool) -> (Rib, Arc<Router>) {
        let router = Arc::new(Router::new(&[], &[], vec![], true));
        let mut rib = Rib::new(Arc::clone(&router), vec![Some("hi0".into()), Some("hi1".into())], statics, &[], policies, metric_us);
        for (index, name) in [(HI0, "hi0"), (HI1, "hi1"), (99, "eth9")] {
            rib.apply(&MirrorEvent::LinkAdded { link: NlLink { index, name: name.into(), mac: None, mtu: 1500, up: true, carrier: true } });
        }
        (rib, router)
    }

    fn route(dst: &str, metric: u32, hops: &[(Option<&str>, u32)]) -> Route {
        Route {
            key: RouteKey { table: 254, dst: pfx(dst), src: None, tos: 0, metric },
            kind: RouteKind::Unicast,
            protocol: Protocol::STATIC,
            pref_src: None,
            next_hops: hops.iter().map(|&(gw, ifindex)| NlHop { gateway: gw.map(ip), ifindex, weight: 1, onlink: false }).collect(),
        }
    }

    fn neigh(addr: &str, ifindex: u32, mac: Option<[u8; 6]>, state: NudState) -> model::Neighbour {
        model::Neighbour { key: NeighbourKey { ifindex, ip: ip(addr) }, mac: mac.map(Mac), state, router: false }
    }

    /// The routes in the FIB by source, counted the slow way: the tally
    /// `counts` keeps must always equal it.
    fn recount(rib: &Rib) -> (usize, usize, usize, usize) {
        let (mut l, mut s, mut k, mut n) = (0, 0, 0, 0);
        for (p, _) in rib.prefixes.iter().filter(|(_, e)| e.installed.is_some()) {
            if rib.locals.contains_key(p) {
                l += 1;
            } else if rib.statics.contains_key(p) {
                s += 1;
            } else if !rib.prefixes[p].kernel.is_empty() {
                k += 1;
            } else {
                n += 1;
            }
        }
        (l, s, k, n)
    }

    /// Where `addr` goes: Ok((port, next-hop MAC, to_hops, to_delay_ns)) or the drop reason.
    fn fwd(r: &Router, addr: &str) -> Result<(u16, [u8; 6], u16, u32), Reason> {
        let nh = match ip(addr) {
            IpAddr::V4(a) => r.fib().v4.lookup(u32::from(a)),
            IpAddr::V6(a) => r.fib().v6.lookup(u128::from(a)),
        };
        let nh = r.fib().next_hops.get(nh.ok_or(Reason::NoRoute)?)?;
        Ok((nh.port, nh.macs[..6].try_into().unwrap(), nh.to_hops, nh.to_delay_ns))
    }

    #[test]
    fn connected_routes_punt_until_the_kernel_resolves_the_neighbour() {
        let (mut rib, r) = rib_with(&[], vec![], false);
        rib.apply(&MirrorEvent::RouteAdded { route: route("10.0.2.0/24", 0, &[(None, HI1)]) });
        assert_eq!(fwd(&r, "10.0.2.5"), Err(Reason::NextHopUnresolved), "glean: the kernel resolves it");
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("10.0.2.5", HI1, Some(M1), NudState::Reachable) });
        assert_eq!(fwd(&r, "10.0.2.5"), Ok((1, M1, 1, 0)));
        assert_eq!(fwd(&r, "10.0.2.6"), Err(Reason::NextHopUnresolved));
        // Stale is still used (the kernel checks it when it sends itself).
        let (old, new) = (neigh("10.0.2.5", HI1, Some(M1), NudState::Reachable), neigh("10.0.2.5", HI1, Some(M1), NudState::Stale));
        rib.apply(&MirrorEvent::NeighbourChanged { old, new });
        assert_eq!(fwd(&r, "10.0.2.5"), Ok((1, M1, 1, 0)));
        let (old, new) = (neigh("10.0.2.5", HI1, Some(M1), NudState::Stale), neigh("10.0.2.5", HI1, None, NudState::Failed));
        rib.apply(&MirrorEvent::NeighbourChanged { old, new });
        assert_eq!(fwd(&r, "10.0.2.5"), Err(Reason::NextHopUnresolved), "failed: back to the kernel");
        rib.apply(&MirrorEvent::RouteRemoved { route: route("10.0.2.0/24", 0, &[(None, HI1)]) });
        assert_eq!(fwd(&r, "10.0.2.6"), Err(Reason::NoRoute));
    }

    #[test]
    fn gateway_routes_follow_the_neighbour_in_place() {
        let (mut rib, r) = rib_with(&[], vec![], false);
        rib.apply(&MirrorEvent::RouteAdded { route: route("10.9.0.0/16", 0, &[(Some("10.0.2.5"), HI1)]) });
        rib.apply(&MirrorEvent::RouteAdded { route: route("2001:db8:9::/48", 0, &[(Some("fe80::5"), HI1)]) });
        assert_eq!(fwd(&r, "10.9.1.1"), Err(Reason::NextHopUnresolved));
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("10.0.2.5", HI1, Some(M1), NudState::Reachable) });
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("fe80::5", HI1, Some(M2), NudState::Reachable) });
        let nh_before = r.fib().v4.lookup(0x0a09_0101);
        assert_eq!(fwd(&r, "10.9.1.1"), Ok((1, M1, 1, 0)));
        assert_eq!(fwd(&r, "2001:db8:9::1"), Ok((1, M2, 1, 0)));
        assert_eq!(fwd(&r, "fe80::5"), Err(Reason::NoRoute), "no host route for a link-local neighbour");
        // A new MAC: the same next-hop entry, changed in place.
        let (old, new) = (neigh("10.0.2.5", HI1, Some(M1), NudState::Reachable), neigh("10.0.2.5", HI1, Some(M2), NudState::Reachable));
        rib.apply(&MirrorEvent::NeighbourChanged { old, new });
        assert_eq!(fwd(&r, "10.9.1.1"), Ok((1, M2, 1, 0)));
        assert_eq!(r.fib().v4.lookup(0x0a09_0101), nh_before);
        rib.apply(&MirrorEvent::NeighbourRemoved { neighbour: neigh("10.0.2.5", HI1, Some(M2), NudState::Reachable) });
        assert_eq!(fwd(&r, "10.9.1.1"), Err(Reason::NextHopUnresolved));
        // Through an interface that is no host interface: not followed.
        rib.apply(&MirrorEvent::RouteAdded { route: route("10.8.0.0/16", 0, &[(Some("192.0.2.1"), 99)]) });
        assert_eq!(fwd(&r, "10.8.0.1"), Err(Reason::NoRoute));
        assert_eq!(rib.stats().kernel_routes_skipped, 1);
    }

    #[test]
    fn own_addresses_go_to_the_kernel_and_win_over_everything() {
        let (mut rib, r) = rib_with(&[], vec![], false);
        rib.apply(&MirrorEvent::RouteAdded { route: route("10.0.2.0/24", 0, &[(None, HI1)]) });
        let a = Address { ifindex: HI1, prefix: pfx("10.0.2.1/24") };
        rib.apply(&MirrorEvent::AddressAdded { address: a.clone() });
        let a6 = Address { ifindex: HI0, prefix: pfx("2001:db8:1::1/64") };
        rib.apply(&MirrorEvent::AddressAdded { address: a6.clone() });
        assert_eq!(fwd(&r, "10.0.2.1"), Err(Reason::ForRouter));
        assert_eq!(fwd(&r, "2001:db8:1::1"), Err(Reason::ForRouter));
        // Even a neighbour entry of the same address does not take it.
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("10.0.2.1", HI1, Some(M1), NudState::Reachable) });
        assert_eq!(fwd(&r, "10.0.2.1"), Err(Reason::ForRouter));
        rib.apply(&MirrorEvent::AddressRemoved { address: a });
        assert_eq!(fwd(&r, "10.0.2.1"), Ok((1, M1, 1, 0)), "the neighbour's host route shows again");
        rib.apply(&MirrorEvent::AddressRemoved { address: a6 });
        assert_eq!(fwd(&r, "2001:db8:1::1"), Err(Reason::NoRoute));
    }

    #[test]
    fn icmp_errors_come_from_the_kernels_address_on_the_port() {
        use newipd_core::path::icmp::{Answer, Limiter};
        use newipd_core::wire::build;
        let (mut rib, r) = rib_with(&[], vec![], false);
        let expired = || build::udp4(build::Udp4 { src: 0x0a00_0202, dst: 0x0a09_0001, ttl: 1, ..Default::default() });
        let answer = |f: &mut Vec<u8>| {
            let len = f.len();
            f.resize(len + 64, 0);
            r.answer_icmp(f, len, Reason::TtlExpired, 1, &mut Limiter::new(100, 10), 1)
        };
        let mut f = expired();
        assert_eq!(answer(&mut f), Answer::NotOwed, "no address yet: no source, no error");
        for a in ["fe80::1/64", "10.0.2.1/24", "10.0.1.1/24"] {
            let ifindex = if a.starts_with("10.0.1") { HI0 } else { HI1 };
            rib.apply(&MirrorEvent::AddressAdded { address: Address { ifindex, prefix: pfx(a) } });
        }
        let mut f = expired();
        assert!(matches!(answer(&mut f), Answer::Sent { .. }));
        assert_eq!(&f[14 + 12..14 + 16], &[10, 0, 2, 1], "from port 1's own address");
        rib.apply(&MirrorEvent::AddressRemoved { address: Address { ifindex: HI1, prefix: pfx("10.0.2.1/24") } });
        let mut f = expired();
        assert!(matches!(answer(&mut f), Answer::Sent { .. }));
        assert_eq!(&f[14 + 12..14 + 16], &[10, 0, 1, 1], "port 1 has none left: another port's");
    }

    #[test]
    fn multipath_routes_spread_flows_over_their_next_hops_by_weight() {
        let (mut rib, r) = rib_with(&[], vec![], false);
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("10.0.1.2", HI0, Some(M1), NudState::Reachable) });
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("10.0.2.2", HI1, Some(M2), NudState::Reachable) });
        let mut mp = route("10.30.0.0/16", 0, &[(Some("10.0.1.2"), HI0), (Some("10.0.2.2"), HI1), (Some("192.0.2.1"), 99)]);
        mp.next_hops[1].weight = 3;
        rib.apply(&MirrorEvent::RouteAdded { route: mp.clone() });
        let nh = r.fib().v4.lookup(0x0a1e_0001).unwrap();
        let members = r.fib().next_hops.group_members(nh).expect("an ECMP group");
        assert_eq!(members.iter().map(|m| m.1).collect::<Vec<_>>().len(), 2, "the next hop on eth9 is not newipd's");
        let mut per_port = [0; 2];
        for h in 0..64 {
            per_port[r.fib().next_hops.get_flow(nh, || h).unwrap().port as usize] += 1;
        }
        assert_eq!(per_port, [16, 48], "weights 1:3");
        // Down to one path: a plain next hop again, the group released.
        let single = route("10.30.0.0/16", 0, &[(Some("10.0.2.2"), HI1)]);
        rib.apply(&MirrorEvent::RouteChanged { old: mp, new: single });
        assert_eq!(fwd(&r, "10.30.0.1"), Ok((1, M2, 1, 0)));
        assert_eq!(r.fib().next_hops.refs(nh), 0, "the group is gone");
    }

    /// A full table keeps two wants per route (the kernel's and what the
    /// FIB holds): 32 bytes each, not the 48 a `u128` field would make them.
    #[test]
    fn a_prefix_entry_stays_small() {
        assert_eq!(std::mem::size_of::<Want>(), 32);
        assert!(std::mem::size_of::<Entry>() <= 104, "{}", std::mem::size_of::<Entry>());
    }

    #[test]
    fn metrics_keep_the_lowest_inline_and_the_rest_sorted() {
        let via = |port: u16| Want::Via { port, neighbour: Neighbour::Glean, to_hops: 1, to_delay_ns: 0 };
        // A small LCG: the same sequence every run, checked against a sorted map.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as u32
        };
        for _ in 0..200 {
            let (mut m, mut model) = (Metrics::default(), std::collections::BTreeMap::new());
            for _ in 0..(next() % 30) {
                let metric = next() % 8;
                if next() % 3 == 0 {
                    m.remove(metric);
                    model.remove(&metric);
                } else {
                    let port = (next() % 100) as u16;
                    m.insert(metric, via(port));
                    model.insert(metric, via(port));
                }
                assert_eq!(m.best(), model.values().next());
                assert_eq!(m.is_empty(), model.is_empty());
                let all: Vec<(u32, Want)> = m.iter_mut().map(|e| e.clone()).collect();
                assert_eq!(all, model.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>());
            }
        }
        // A full table keeps a want per route twice: it must stay small.
        assert!(std::mem::size_of::<Want>() <= 64, "Want is {} bytes", std::mem::size_of::<Want>());
    }

    #[test]
    fn the_lowest_metric_wins_and_blackholes_drop() {
        let (mut rib, r) = rib_with(&[], vec![], false);
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("10.0.1.2", HI0, Some(M1), NudState::Reachable) });
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("10.0.2.2", HI1, Some(M2), NudState::Reachable) });
        rib.apply(&MirrorEvent::RouteAdded { route: route("10.7.0.0/16", 200, &[(Some("10.0.2.2"), HI1)]) });
        rib.apply(&MirrorEvent::RouteAdded { route: route("10.7.0.0/16", 100, &[(Some("10.0.1.2"), HI0)]) });
        assert_eq!(fwd(&r, "10.7.0.1").map(|f| f.0), Ok(0));
        rib.apply(&MirrorEvent::RouteRemoved { route: route("10.7.0.0/16", 100, &[(Some("10.0.1.2"), HI0)]) });
        assert_eq!(fwd(&r, "10.7.0.1").map(|f| f.0), Ok(1));
        let mut bh = route("10.7.7.0/24", 0, &[]);
        bh.kind = RouteKind::Blackhole;
        rib.apply(&MirrorEvent::RouteAdded { route: bh });
        assert_eq!(fwd(&r, "10.7.7.7"), Err(Reason::Blackhole));
        assert_eq!(fwd(&r, "10.7.8.7").map(|f| f.0), Ok(1));
        assert_eq!(rib.counts(), recount(&rib));
        assert_eq!(rib.counts(), (0, 0, 2, 2), "10.7.0.0/16 and the blackhole; two neighbours' host routes");
    }

    #[test]
    fn pipeline_routes_win_over_the_kernels_and_reloads_hand_back() {
        let st = RouteSpec { prefix: Prefix::parse("10.9.0.0/16").unwrap(), port: 0, next_hop_mac: S, to_hops: 3, to_delay_ns: 7 };
        let router = Arc::new(Router::new(&[(0x0a09_0000, 16, 0)], &[], vec![newipd_core::fib::NextHop::new(0, S, [0; 6]).with_path(3, 7)], true));
        let mut rib = Rib::new(Arc::clone(&router), vec![Some("hi0".into()), Some("hi1".into())], std::slice::from_ref(&st), &[], vec![], false);
        rib.apply(&MirrorEvent::LinkAdded { link: NlLink { index: HI1, name: "hi1".into(), mac: None, mtu: 1500, up: true, carrier: true } });
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("10.0.2.5", HI1, Some(M1), NudState::Reachable) });
        rib.apply(&MirrorEvent::RouteAdded { route: route("10.9.0.0/16", 0, &[(Some("10.0.2.5"), HI1)]) });
        assert_eq!(fwd(&router, "10.9.0.1"), Ok((0, S, 3, 7)), "the pipeline's route stays");
        assert_eq!(rib.counts(), (0, 1, 0, 1));
        assert_eq!(rib.counts(), recount(&rib));
        assert_eq!(rib.stats().fib_writes, 1, "only the neighbour's host route was written");
        assert_eq!(rib.set_statics(&[]), vec!["route 10.9.0.0/16 removed".to_string()]);
        assert_eq!(fwd(&router, "10.9.0.1"), Ok((1, M1, 1, 0)), "the kernel's takes over");
        assert_eq!(rib.counts(), (0, 0, 1, 1));
        assert_eq!(rib.counts(), recount(&rib));
        let st2 = RouteSpec { prefix: Prefix::parse("10.10.0.0/16").unwrap(), ..st.clone() };
        assert_eq!(rib.set_statics(&[st.clone(), st2.clone()]), vec!["route 10.10.0.0/16 added".to_string(), "route 10.9.0.0/16 added".to_string()]);
        assert_eq!(fwd(&router, "10.9.0.1"), Ok((0, S, 3, 7)));
        assert_eq!(fwd(&router, "10.10.0.1"), Ok((0, S, 3, 7)));
        assert!(rib.set_statics(&[st, st2]).is_empty(), "the same routes: no change");
        assert_eq!(rib.counts(), (0, 2, 0, 1));
        assert_eq!(rib.counts(), recount(&rib));
    }

    #[test]
    fn path_figures_come_from_the_policy_or_the_metric() {
        let policies = vec![
            PolicySpec { prefix: Prefix::parse("10.9.9.0/24").unwrap(), to_hops: 2, to_delay_ns: Some(900) },
            PolicySpec { prefix: Prefix::parse("10.0.0.0/8").unwrap(), to_hops: 5, to_delay_ns: None },
        ];
        let (mut rib, r) = rib_with(&[], policies, true);
        rib.apply(&MirrorEvent::NeighbourAdded { neighbour: neigh("10.0.2.5", HI1, Some(M1), NudState::Reachable) });
        rib.apply(&MirrorEvent::RouteAdded { route: route("10.9.0.0/16", 250, &[(Some("10.0.2.5"), HI1)]) });
        rib.apply(&MirrorEvent::RouteAdded { route: route("10.9.9.0/24", 250, &[(Some("10.0.2.5"), HI1)]) });
        rib.apply(&MirrorEvent::RouteAdded { route: route("192.0.2.0/24", 40, &[(Some("10.0.2.5"), HI1)]) });
        assert_eq!(fwd(&r, "10.9.0.1"), Ok((1, M1, 5, 250_000)), "hops from the /8 policy, delay from the metric (µs)");
        assert_eq!(fwd(&r, "10.9.9.1"), Ok((1, M1, 2, 900)), "the most specific policy, its delay over the metric");
        assert_eq!(fwd(&r, "192.0.2.1"), Ok((1, M1, 1, 40_000)), "no policy: one hop, the metric");
        // A reload without the metric rule: delays from policies only.
        assert!(rib.set_policies(vec![], false));
        assert_eq!(fwd(&r, "10.9.0.1"), Ok((1, M1, 1, 0)));
        assert_eq!(fwd(&r, "192.0.2.1"), Ok((1, M1, 1, 0)));
        assert!(!rib.set_policies(vec![], false), "no change");
    }
}
