//! The mirror's state machine, without a socket: dump rounds, notifications
//! applied in order, resyncs. mirror.rs feeds it what the socket reads; the
//! tests feed it by hand.
//!
//! How notifications and dumps mix (the socket joins the groups before it
//! asks for the first dump, so nothing falls between the two):
//! * The kinds of a round are dumped one after the other, links first.
//! * A notification for the kind being dumped is applied, in arrival order,
//!   to that dump's fresh copy. A dump part is not as new as its place in
//!   the socket says: the kernel fills a part from its tables, lets go of
//!   them, and only then queues the part, behind the notifications of the
//!   changes made meanwhile (a trace on Linux 6.18 caught a route deleted
//!   in that window: its deletion came first, then a part listing it). So
//!   a notification read before a dump entry of the same object is
//!   at least as new as that entry (every change before the part was queued
//!   has its notification before it, or an overrun says it was lost), and
//!   wins: a dump entry of an object a notification already gave whole in
//!   this dump is dropped, and one listing a route or next hop deleted
//!   earlier in this dump loses it ([`Dump::judge`]). A dump the kernel
//!   marks interrupted (NLM_F_DUMP_INTR) is dropped and asked again.
//! * A notification for a kind still waiting for its dump in this round is
//!   dropped: that dump is made after it and includes it. (An overrun
//!   during a dump makes that kind wait again: its copy may then miss
//!   dropped notifications, and the dump asked after it repairs that.)
//! * Any other notification is applied to the model and emitted at once.
//! * When a dump ends, the model's map of that kind is replaced by the fresh
//!   copy and the differences are emitted. The first round starts from an
//!   empty model, so it emits every object as added.
//! * An overrun (ENOBUFS) means lost notifications: a resync round of every
//!   kind.
//! * The kernel also changes some state without telling anyone: IPv4 routes
//!   go when their link goes down or their preferred source address is
//!   removed; the engine does the same to the model ([`consequences`]), and
//!   dumps the IPv4 routes again if their dump was under way (it may have
//!   listed the flushed ones). When a link is removed, or renamed across the
//!   filter, it resyncs what is on links instead.

use super::diff::{diff, Change};
use super::event::MirrorEvent;
use super::model::{Address, Kind, Link, Model, NeighbourKey, NextHop, Route, RouteKey};
use super::update::Update;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Which interfaces the mirror follows: all, or those with these names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    names: Option<BTreeSet<String>>,
}

impl Filter {
    /// Every interface.
    pub fn all() -> Filter {
        Filter { names: None }
    }

    /// Only the interfaces with these names (and what is on them).
    pub fn interfaces<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Filter {
        Filter { names: Some(names.into_iter().map(Into::into).collect()) }
    }

    pub fn is_all(&self) -> bool {
        self.names.is_none()
    }

    pub fn wants(&self, name: &str) -> bool {
        self.names.as_ref().is_none_or(|n| n.contains(name))
    }
}

/// Counters of the mirror's work, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    /// Dump rounds completed (the first one and every resync).
    pub rounds: u64,
    /// Rounds after the first.
    pub resyncs: u64,
    /// Overruns (ENOBUFS) reported by the socket.
    pub overruns: u64,
    /// Dumps asked.
    pub dumps: u64,
    /// Dumps the kernel marked interrupted, asked again.
    pub dumps_interrupted: u64,
    /// Notifications applied (to the model or to a dump in progress).
    pub notifications: u64,
    /// Notifications dropped because a dump that includes them was still to come.
    pub superseded: u64,
    /// Dump entries dropped because a notification read before them in the
    /// same dump is as new or newer (the kernel may build a part before a
    /// change and queue it after the change's notification).
    pub entries_superseded: u64,
    /// Change events emitted.
    pub changes: u64,
}

/// Follow-up work a change asks for: resync these kinds, for this reason.
type Resync = (&'static [Kind], &'static str);

/// The events after which the kernel changes state without telling: kept
/// (cloned, they are few) to work out the consequences once the change is in.
fn has_consequences(ev: &MirrorEvent) -> bool {
    match ev {
        MirrorEvent::LinkRemoved { .. } => true,
        MirrorEvent::LinkChanged { old, new } => old.up && !new.up,
        MirrorEvent::AddressRemoved { address } => !address.prefix.is_v6(),
        _ => false,
    }
}

/// What the kernel does silently after `ev`, done to the model as well
/// (emitting the changes), or a resync where that cannot be worked out:
/// * a link going down: IPv4 routes whose every next hop leaves by it are
///   flushed (multipath routes keep their other next hops, the kernel marks
///   the dead one; IPv6 routes go with notifications);
/// * an IPv4 address removed (and not configured elsewhere): the IPv4 routes
///   with it as preferred source are flushed;
/// * a link removed: resync everything on links (IPv4 routes through it went
///   silently; what the kernel does tell comes after the link's removal).
fn consequences(m: &mut Model, ev: &MirrorEvent, emit: &mut dyn FnMut(MirrorEvent)) -> Option<Resync> {
    let gone: Vec<RouteKey> = match ev {
        MirrorEvent::LinkRemoved { .. } => return Some((&Kind::ON_LINKS, "link removed")),
        MirrorEvent::LinkChanged { new, .. } => m
            .routes4
            .values()
            .filter(|r| !r.next_hops.is_empty() && r.next_hops.iter().all(|h| h.ifindex == new.index))
            .map(|r| r.key.clone())
            .collect(),
        MirrorEvent::AddressRemoved { address } => {
            let ip = address.prefix.addr;
            if m.addresses.keys().any(|a| a.prefix.addr == ip) {
                return None;
            }
            m.routes4.values().filter(|r| r.pref_src == Some(ip)).map(|r| r.key.clone()).collect()
        }
        _ => return None,
    };
    for k in gone {
        if let Some(r) = m.routes4.remove(&k) {
            emit(MirrorEvent::route(Change::Removed(r)));
        }
    }
    None
}

struct Round {
    number: u64,
    /// An `Overrun` event was emitted for this round.
    overrun: bool,
    resync: bool,
    reasons: Vec<&'static str>,
    kinds: BTreeSet<Kind>,
    changes: u64,
}

/// An object a notification gave whole (its state, or its removal).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Told {
    Link(u32),
    Address(Address),
    Route(RouteKey),
    Neighbour(NeighbourKey),
}

/// A dump in progress and the fresh copy it fills.
struct Dump {
    kind: Kind,
    fresh: Model,
    names: BTreeMap<u32, String>,
    twins4: BTreeSet<RouteKey>,
    /// What the notifications read during this dump said, to judge the dump
    /// entries read after them ([`Dump::judge`]): the objects they gave whole,
    told: BTreeSet<Told>,
    /// and the routes they deleted, by key (IPv6: the next hops deleted).
    deleted: BTreeMap<RouteKey, Vec<Route>>,
    /// The key of this dump's previous IPv4 route entry: the kernel lists
    /// the routes of one key one after the other, so a key listed twice has
    /// an inactive twin.
    last4: Option<RouteKey>,
}

impl Dump {
    fn new(kind: Kind) -> Dump {
        Dump {
            kind,
            fresh: Model::default(),
            names: BTreeMap::new(),
            twins4: BTreeSet::new(),
            told: BTreeSet::new(),
            deleted: BTreeMap::new(),
            last4: None,
        }
    }

    /// Notes what a notification of this dump's kind says, before it is
    /// applied to the fresh copy. Whole: every link, address and neighbour
    /// notification; an IPv4 route added or replaced (it is the key's
    /// active route); an IPv6 route replaced. Not whole: an IPv4 append
    /// (an inactive twin), an IPv4 deletion (a twin may take its place), an
    /// IPv6 append or deletion (next hops of the route, not all of them).
    fn note(&mut self, u: &Update) {
        let told = match u {
            Update::NewLink(l) | Update::DelLink(l) => Told::Link(l.index),
            Update::NewAddress(a) | Update::DelAddress(a) => Told::Address(a.clone()),
            Update::NewNeighbour(n) => Told::Neighbour(n.key),
            Update::DelNeighbour(k) => Told::Neighbour(*k),
            Update::NewRoute { route, append, replace } => {
                if route.is_v6() && !replace {
                    // Next hops named again are no longer deleted.
                    if let Some(gone) = self.deleted.get_mut(&route.key) {
                        gone.retain_mut(|g| {
                            if g.next_hops.is_empty() {
                                return !route.next_hops.is_empty();
                            }
                            g.next_hops.retain(|h| !route.next_hops.iter().any(|n| same_hop(h, n)));
                            !g.next_hops.is_empty()
                        });
                    }
                    return;
                }
                if !route.is_v6() && *append {
                    return;
                }
                Told::Route(route.key.clone())
            }
            Update::DelRoute(route) => {
                if !route.is_v6() {
                    self.told.remove(&Told::Route(route.key.clone()));
                }
                self.deleted.entry(route.key.clone()).or_default().push(route.clone());
                return;
            }
        };
        self.told.insert(told);
    }

    /// A dump entry as it is to be applied, or None if a notification read
    /// earlier in this dump supersedes it: the object was given whole (the
    /// notification is as new as the entry or newer), or the entry lists a
    /// route deleted since (IPv4: the same route; IPv6: its deleted next
    /// hops are taken out, and nothing is left of it without them).
    fn judge(&self, u: Update) -> Option<Update> {
        if self.told.is_empty() && self.deleted.is_empty() {
            return Some(u);
        }
        let told = match &u {
            Update::NewLink(l) | Update::DelLink(l) => Told::Link(l.index),
            Update::NewAddress(a) | Update::DelAddress(a) => Told::Address(a.clone()),
            Update::NewNeighbour(n) => Told::Neighbour(n.key),
            Update::DelNeighbour(k) => Told::Neighbour(*k),
            Update::NewRoute { route, .. } | Update::DelRoute(route) => Told::Route(route.key.clone()),
        };
        if self.told.contains(&told) {
            return None;
        }
        let Update::NewRoute { mut route, append, replace } = u else { return Some(u) };
        if let Some(gone) = self.deleted.get(&route.key) {
            if !route.is_v6() {
                if gone.iter().any(|g| same_route(g, &route)) {
                    return None;
                }
            } else if route.next_hops.is_empty() {
                if gone.iter().any(|g| g.next_hops.is_empty()) {
                    return None;
                }
            } else {
                route.next_hops.retain(|h| !gone.iter().any(|g| g.next_hops.iter().any(|n| same_hop(h, n))));
                if route.next_hops.is_empty() {
                    return None;
                }
            }
        }
        Some(Update::NewRoute { route, append, replace })
    }
}

/// The state machine. See the module documentation.
pub struct Engine {
    model: Model,
    filter: Filter,
    /// Every interface the kernel has (index to name), followed or not: the
    /// filter needs it to notice a rename into or out of the set.
    names: BTreeMap<u32, String>,
    /// IPv4 route keys with a second, inactive route of the same key
    /// (`ip route append`): deleting the active one makes the other active
    /// without a notification of it.
    twins4: BTreeSet<RouteKey>,
    pending: BTreeSet<Kind>,
    dump: Option<Dump>,
    round: Option<Round>,
    stats: EngineStats,
}

impl Engine {
    pub fn new(filter: Filter) -> Engine {
        Engine {
            model: Model::default(),
            filter,
            names: BTreeMap::new(),
            twins4: BTreeSet::new(),
            pending: BTreeSet::new(),
            dump: None,
            round: None,
            stats: EngineStats::default(),
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn into_model(self) -> Model {
        self.model
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// A round is under way (kinds dumped or waiting to be).
    pub fn busy(&self) -> bool {
        self.round.is_some()
    }

    /// The kind whose dump is in progress.
    pub fn dumping(&self) -> Option<Kind> {
        self.dump.as_ref().map(|d| d.kind)
    }

    /// Schedules dumps of `kinds` (a new round, or more work for the current one).
    pub fn start(&mut self, kinds: &[Kind], reason: &'static str) {
        let stats = &self.stats;
        let round = self.round.get_or_insert_with(|| Round {
            number: stats.rounds + 1,
            overrun: false,
            resync: stats.rounds > 0,
            reasons: Vec::new(),
            kinds: BTreeSet::new(),
            changes: 0,
        });
        if !round.reasons.contains(&reason) {
            round.reasons.push(reason);
        }
        round.kinds.extend(kinds);
        self.pending.extend(kinds);
    }

    /// The next dump to ask for, if none is in progress and one is waiting.
    pub fn next_dump(&mut self) -> Option<Kind> {
        if self.dump.is_some() {
            return None;
        }
        let kind = self.pending.pop_first()?;
        self.stats.dumps += 1;
        self.dump = Some(Dump::new(kind));
        Some(kind)
    }

    /// One entry of the dump in progress.
    pub fn dump_entry(&mut self, u: Update) {
        let Some(d) = self.dump.as_mut() else { return };
        if u.kind() != d.kind {
            return;
        }
        if let Update::NewRoute { route, .. } = &u {
            if !route.is_v6() {
                if d.last4.as_ref() == Some(&route.key) {
                    d.twins4.insert(route.key.clone());
                }
                d.last4 = Some(route.key.clone());
            }
        }
        // A notification read before this entry may be newer than it (see
        // the module documentation): a route deleted while the kernel built
        // this part would otherwise come back, and stay until the next dump.
        let Some(u) = d.judge(u) else {
            self.stats.entries_superseded += 1;
            return;
        };
        apply(&mut d.fresh, &mut d.names, &mut d.twins4, &self.filter, Some(&self.model.links), u, true, &mut |_| {});
    }

    /// The dump in progress ended (NLMSG_DONE): replace that kind's map,
    /// emit the differences; `interrupted`: the kernel marked it
    /// inconsistent, so drop it and ask again.
    pub fn dump_done(&mut self, interrupted: bool, out: &mut dyn FnMut(MirrorEvent)) {
        let Some(d) = self.dump.take() else { return };
        if interrupted {
            self.stats.dumps_interrupted += 1;
            self.start(&[d.kind], "dump interrupted");
            return;
        }
        let mut follows: Vec<Resync> = Vec::new();
        let mut triggers: Vec<MirrorEvent> = Vec::new();
        let mut changes = 0u64;
        let mut emit = |ev: MirrorEvent| {
            if has_consequences(&ev) {
                triggers.push(ev.clone());
            }
            changes += 1;
            out(ev);
        };
        let Dump { kind, fresh, names, twins4, .. } = d;
        let m = &mut self.model;
        match kind {
            Kind::Links => {
                diff(&m.links, &fresh.links, |c| emit(MirrorEvent::link(c)));
                let crossed = names.iter().any(|(i, new)| self.names.get(i).is_some_and(|old| self.filter.wants(old) != self.filter.wants(new)));
                if crossed {
                    follows.push((&Kind::ON_LINKS, "interface renamed"));
                }
                m.links = fresh.links;
                self.names = names;
            }
            Kind::Addresses => {
                diff(&m.addresses, &fresh.addresses, |c| emit(MirrorEvent::address(c)));
                m.addresses = fresh.addresses;
            }
            Kind::Routes4 => {
                diff(&m.routes4, &fresh.routes4, |c| emit(MirrorEvent::route(c)));
                m.routes4 = fresh.routes4;
                self.twins4 = twins4;
            }
            Kind::Routes6 => {
                diff(&m.routes6, &fresh.routes6, |c| emit(MirrorEvent::route(c)));
                m.routes6 = fresh.routes6;
            }
            Kind::Neighbours4 => {
                diff(&m.neighbours4, &fresh.neighbours4, |c| emit(MirrorEvent::neighbour(c)));
                m.neighbours4 = fresh.neighbours4;
            }
            Kind::Neighbours6 => {
                diff(&m.neighbours6, &fresh.neighbours6, |c| emit(MirrorEvent::neighbour(c)));
                m.neighbours6 = fresh.neighbours6;
            }
        }
        self.settle(&triggers, changes, follows, out);
        self.finish_round(out);
    }

    /// After applying changes: the kernel's silent consequences of the
    /// `triggers` (emitted too), the change counts, and the resyncs asked for.
    fn settle(&mut self, triggers: &[MirrorEvent], mut changes: u64, mut follows: Vec<Resync>, out: &mut dyn FnMut(MirrorEvent)) {
        for ev in triggers {
            follows.extend(consequences(&mut self.model, ev, &mut |ev| {
                changes += 1;
                out(ev);
            }));
        }
        if !triggers.is_empty() && self.dumping() == Some(Kind::Routes4) {
            // The kernel flushed IPv4 routes silently; the dump in progress
            // may have listed some before, and its copy replaces the model's.
            follows.push((&[Kind::Routes4], "ipv4 routes flushed during their dump"));
        }
        self.stats.changes += changes;
        if let Some(r) = self.round.as_mut() {
            r.changes += changes;
        }
        for (kinds, reason) in follows {
            self.start(kinds, reason);
        }
    }

    fn finish_round(&mut self, out: &mut dyn FnMut(MirrorEvent)) {
        if self.dump.is_some() || !self.pending.is_empty() {
            return;
        }
        let Some(r) = self.round.take() else { return };
        self.stats.rounds += 1;
        if r.resync {
            self.stats.resyncs += 1;
        }
        out(MirrorEvent::Synced {
            round: r.number,
            resync: r.resync,
            reason: r.reasons.join(", "),
            kinds: r.kinds.iter().map(|k| k.name()).collect(),
            changes: r.changes,
        });
    }

    /// A notification from the kernel.
    pub fn notification(&mut self, u: Update, out: &mut dyn FnMut(MirrorEvent)) {
        let kind = u.kind();
        if self.pending.contains(&kind) {
            self.stats.superseded += 1;
            return;
        }
        self.stats.notifications += 1;
        if let Some(d) = self.dump.as_mut().filter(|d| d.kind == kind) {
            d.note(&u);
            // What the update needs beyond itself (an IPv4 route with a twin
            // deleted: which is active now is untold) holds for the fresh
            // copy as for the model.
            if let Some((kinds, reason)) = apply(&mut d.fresh, &mut d.names, &mut d.twins4, &self.filter, Some(&self.model.links), u, false, &mut |_| {}) {
                self.start(kinds, reason);
            }
            return;
        }
        let mut triggers: Vec<MirrorEvent> = Vec::new();
        let mut changes = 0u64;
        let mut follows: Vec<Resync> = Vec::new();
        follows.extend(apply(&mut self.model, &mut self.names, &mut self.twins4, &self.filter, None, u, false, &mut |ev| {
            if has_consequences(&ev) {
                triggers.push(ev.clone());
            }
            changes += 1;
            out(ev);
        }));
        self.settle(&triggers, changes, follows, out);
    }

    /// The socket overran: notifications were lost. Resync everything. One
    /// `Overrun` event per round: more overruns before its `Synced` only
    /// extend the round (and are counted).
    pub fn overrun(&mut self, out: &mut dyn FnMut(MirrorEvent)) {
        self.stats.overruns += 1;
        let told = self.round.as_ref().is_some_and(|r| r.overrun);
        if !told {
            out(MirrorEvent::Overrun { total: self.stats.overruns });
        }
        self.start(&Kind::ALL, "overrun");
        if let Some(r) = self.round.as_mut() {
            r.overrun = true;
        }
    }
}

/// Applies one update to `m` (the model, or a dump's fresh copy), emitting
/// the changes it makes. `links` names the followed interfaces when `m` is a
/// fresh copy without them (None: `m`'s own). `from_dump`: a dump entry, not
/// a notification. Returns a resync the update needs beyond its events.
#[allow(clippy::too_many_arguments)]
fn apply(
    m: &mut Model,
    names: &mut BTreeMap<u32, String>,
    twins4: &mut BTreeSet<RouteKey>,
    filter: &Filter,
    links: Option<&BTreeMap<u32, Link>>,
    u: Update,
    from_dump: bool,
    emit: &mut dyn FnMut(MirrorEvent),
) -> Option<Resync> {
    let Model { links: own_links, addresses, routes4, routes6, neighbours4, neighbours6 } = m;
    if let Update::NewLink(l) | Update::DelLink(l) = &u {
        let new = matches!(u, Update::NewLink(_));
        return apply_link(own_links, names, filter, l.clone(), new, emit);
    }
    let known = links.unwrap_or(own_links);
    let wanted = |i: u32| filter.is_all() || known.contains_key(&i);
    match u {
        Update::NewLink(_) | Update::DelLink(_) => None,
        Update::NewAddress(a) => {
            if wanted(a.ifindex) && addresses.insert(a.clone(), a.clone()).is_none() {
                emit(MirrorEvent::address(Change::Added(a)));
            }
            None
        }
        Update::DelAddress(a) => {
            // Deletions apply whatever the filter says: what is there goes.
            if let Some(old) = addresses.remove(&a) {
                emit(MirrorEvent::address(Change::Removed(old)));
            }
            None
        }
        Update::NewRoute { route, append, replace } => {
            let v6 = route.is_v6();
            let routes = if v6 { routes6 } else { routes4 };
            new_route(routes, twins4, route, append, replace, from_dump, &wanted, emit);
            None
        }
        Update::DelRoute(route) => {
            let v6 = route.is_v6();
            let routes = if v6 { routes6 } else { routes4 };
            del_route(routes, twins4, route, &wanted, emit)
        }
        Update::NewNeighbour(n) => {
            let map = if n.key.ip.is_ipv6() { neighbours6 } else { neighbours4 };
            if wanted(n.key.ifindex) {
                set(map, n.key, n, MirrorEvent::neighbour, emit);
            }
            None
        }
        Update::DelNeighbour(k) => {
            let map = if k.ip.is_ipv6() { neighbours6 } else { neighbours4 };
            if let Some(old) = map.remove(&k) {
                emit(MirrorEvent::neighbour(Change::Removed(old)));
            }
            None
        }
    }
}

/// Inserts or replaces `v` under `k`, emitting Added or Changed (nothing if equal).
fn set<K: Ord, T: Clone + PartialEq>(map: &mut BTreeMap<K, T>, k: K, v: T, ev: fn(Change<T>) -> MirrorEvent, emit: &mut dyn FnMut(MirrorEvent)) {
    match map.insert(k, v.clone()) {
        None => emit(ev(Change::Added(v))),
        Some(old) if old != v => emit(ev(Change::Changed(old, v))),
        Some(_) => {}
    }
}

fn apply_link(
    links: &mut BTreeMap<u32, Link>,
    names: &mut BTreeMap<u32, String>,
    filter: &Filter,
    l: Link,
    new: bool,
    emit: &mut dyn FnMut(MirrorEvent),
) -> Option<Resync> {
    if !new {
        names.remove(&l.index);
        if let Some(old) = links.remove(&l.index) {
            emit(MirrorEvent::link(Change::Removed(old)));
        }
        return None;
    }
    let before = names.insert(l.index, l.name.clone());
    let crossed = before.is_some_and(|old| filter.wants(&old) != filter.wants(&l.name));
    if filter.wants(&l.name) {
        set(links, l.index, l, MirrorEvent::link, emit);
    } else if let Some(old) = links.remove(&l.index) {
        emit(MirrorEvent::link(Change::Removed(old)));
    }
    crossed.then_some((&Kind::ON_LINKS, "interface renamed"))
}

/// Same gateway and interface: the same next hop (weights may differ).
fn same_hop(a: &NextHop, b: &NextHop) -> bool {
    a.gateway == b.gateway && a.ifindex == b.ifindex
}

/// The same IPv4 route (a twin of its key differs in something): equal but
/// for the order of the next hops.
fn same_route(a: &Route, b: &Route) -> bool {
    let sorted = |r: &Route| {
        let mut r = r.clone();
        r.next_hops.sort();
        r
    };
    sorted(a) == sorted(b)
}

/// The part of a route the filter follows: its next hops on followed
/// interfaces (and those whose interface the kernel does not say). None if
/// it has next hops and none is followed; a route without any (blackhole,
/// unreachable, prohibit, throw) concerns every interface and stays whole.
/// The next hops come out sorted (see [`Route::sort_next_hops`]).
fn trim(mut r: Route, wanted: &dyn Fn(u32) -> bool) -> Option<Route> {
    if r.next_hops.is_empty() {
        return Some(r);
    }
    r.next_hops.retain(|h| h.ifindex == 0 || wanted(h.ifindex));
    r.sort_next_hops();
    (!r.next_hops.is_empty()).then_some(r)
}

#[allow(clippy::too_many_arguments)]
fn new_route(
    routes: &mut BTreeMap<RouteKey, Route>,
    twins4: &mut BTreeSet<RouteKey>,
    route: Route,
    append: bool,
    replace: bool,
    from_dump: bool,
    wanted: &dyn Fn(u32) -> bool,
    emit: &mut dyn FnMut(MirrorEvent),
) {
    let key = route.key.clone();
    let Some(route) = trim(route, wanted) else {
        // Not followed. It takes the place of a followed route of the same
        // key when it replaces it (IPv6), or goes before it (IPv4, but for
        // an append or a dump, which list it behind).
        let takes_place = if key.dst.is_v6() { replace } else { !append && !from_dump };
        if takes_place {
            if let Some(old) = routes.remove(&key) {
                emit(MirrorEvent::route(Change::Removed(old)));
            }
        }
        return;
    };
    // One descent of the tree: a full table takes a million of these.
    let mut slot = match routes.entry(key) {
        std::collections::btree_map::Entry::Vacant(v) => {
            v.insert(route.clone());
            emit(MirrorEvent::route(Change::Added(route)));
            return;
        }
        std::collections::btree_map::Entry::Occupied(o) => o,
    };
    let old = slot.get();
    let result = if route.is_v6() {
        // IPv6 multipath routes grow by siblings: an append (or an older
        // kernel's dump of each sibling apart) names only the new next
        // hops; a notification naming at least every old one is whole.
        // Routes of one key through several interfaces without a
        // gateway (`fe80::/64 dev v0`, `dev v1`) are separate routes in
        // the kernel; they gather here the same way, as next hops, and a
        // deletion of one takes its next hop only.
        if replace || old.next_hops.iter().all(|h| route.next_hops.iter().any(|n| same_hop(h, n))) {
            route
        } else {
            let mut merged = route.clone();
            merged.next_hops = old.next_hops.clone();
            merged.next_hops.extend(route.next_hops.into_iter().filter(|n| !old.next_hops.iter().any(|h| same_hop(h, n))));
            merged.sort_next_hops();
            merged
        }
    } else {
        // IPv4 keeps routes of the same key in a list and uses the first:
        // a dump lists the active one first, an append goes behind it
        // (inactive), a plain add (prepend) goes before it.
        // A dump entry of a key already in the copy: a twin listed
        // after the active route (the caller notes the twin: the key is
        // listed twice), or a route a notification gave during the dump
        // (kept: it is as new or newer).
        if replace {
            route
        } else if from_dump {
            return;
        } else {
            twins4.insert(slot.key().clone());
            if append {
                return;
            }
            route
        }
    };
    if *slot.get() != result {
        let old = slot.insert(result.clone());
        emit(MirrorEvent::route(Change::Changed(old, result)));
    }
}

fn del_route(
    routes: &mut BTreeMap<RouteKey, Route>,
    twins4: &mut BTreeSet<RouteKey>,
    route: Route,
    wanted: &dyn Fn(u32) -> bool,
    emit: &mut dyn FnMut(MirrorEvent),
) -> Option<Resync> {
    // A route not followed was not mirrored (nor its next hops).
    let route = trim(route, wanted)?;
    let old = routes.get(&route.key)?;
    if route.is_v6() {
        // Deleting some next hops of a multipath route names only those.
        let partial = !route.next_hops.is_empty()
            && route.next_hops.len() < old.next_hops.len()
            && route.next_hops.iter().all(|n| old.next_hops.iter().any(|h| same_hop(h, n)));
        if partial {
            let mut rest = old.clone();
            rest.next_hops.retain(|h| !route.next_hops.iter().any(|n| same_hop(h, n)));
            set(routes, route.key.clone(), rest, MirrorEvent::route, emit);
            return None;
        }
    } else if old.kind != route.kind || old.next_hops != route.next_hops {
        // The inactive twin of the route went: nothing changes for lookups.
        return None;
    }
    let old = routes.remove(&route.key)?;
    emit(MirrorEvent::route(Change::Removed(old)));
    if !route.is_v6() && twins4.remove(&route.key) {
        // Its inactive twin is the active one now, untold: read them again.
        return Some((&[Kind::Routes4], "ipv4 route with a twin deleted"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::netlink::model::{Mac, Neighbour, NudState, Prefix, Protocol, RouteKind};

    fn link(index: u32, name: &str, up: bool) -> Link {
        Link { index, name: name.into(), mac: Some(Mac([2, 0, 0, 0, 0, index as u8])), mtu: 1500, up, carrier: up }
    }

    fn hop(gw: &str, ifindex: u32, weight: u16) -> NextHop {
        NextHop { gateway: Some(gw.parse().unwrap()), ifindex, weight, onlink: false }
    }

    fn route(dst: &str, hops: Vec<NextHop>) -> Route {
        let (a, l) = dst.split_once('/').unwrap();
        Route {
            key: RouteKey { table: 254, dst: Prefix::new(a.parse().unwrap(), l.parse().unwrap()), src: None, tos: 0, metric: 0 },
            kind: RouteKind::Unicast,
            protocol: Protocol::STATIC,
            pref_src: None,
            next_hops: hops,
        }
    }

    fn new_route(r: Route) -> Update {
        Update::NewRoute { route: r, append: false, replace: false }
    }

    fn addr(ifindex: u32, p: &str) -> Address {
        let (a, l) = p.split_once('/').unwrap();
        Address { ifindex, prefix: Prefix::new(a.parse().unwrap(), l.parse().unwrap()) }
    }

    fn neigh(ifindex: u32, ip: &str, state: NudState) -> Neighbour {
        Neighbour { key: NeighbourKey { ifindex, ip: ip.parse().unwrap() }, mac: Some(Mac([2, 0, 0, 0, 9, 9])), state, router: false }
    }

    /// Runs the engine's dumps until its round is done, each kind's dump
    /// holding what `dump` says; returns the events and checks that a
    /// consumer applying them holds the model.
    fn round(e: &mut Engine, copy: &mut Model, dump: &dyn Fn(Kind) -> Vec<Update>) -> Vec<MirrorEvent> {
        let mut evs = Vec::new();
        while let Some(k) = e.next_dump() {
            for u in dump(k) {
                e.dump_entry(u);
            }
            e.dump_done(false, &mut |ev| evs.push(ev));
        }
        for ev in &evs {
            ev.apply_to(copy);
        }
        assert_eq!(copy, e.model(), "the events reproduce the model");
        evs
    }

    fn kernel(k: Kind) -> Vec<Update> {
        match k {
            Kind::Links => vec![Update::NewLink(link(1, "v0", true)), Update::NewLink(link(2, "v1", true))],
            Kind::Addresses => vec![Update::NewAddress(addr(1, "10.1.0.1/24")), Update::NewAddress(addr(2, "2001:db8::1/64"))],
            Kind::Routes4 => vec![
                new_route(route("10.9.0.0/16", vec![hop("10.1.0.2", 1, 1), hop("10.2.0.2", 2, 3)])),
                new_route(route("10.8.0.0/16", vec![hop("10.2.0.2", 2, 1)])),
            ],
            Kind::Routes6 => vec![new_route(route("2001:db8:9::/64", vec![hop("2001:db8::2", 2, 1)]))],
            Kind::Neighbours4 => vec![Update::NewNeighbour(neigh(1, "10.1.0.2", NudState::Reachable))],
            Kind::Neighbours6 => vec![],
        }
    }

    fn started(filter: Filter) -> (Engine, Model, Vec<MirrorEvent>) {
        let mut e = Engine::new(filter);
        e.start(&Kind::ALL, "start");
        let mut copy = Model::default();
        let evs = round(&mut e, &mut copy, &kernel);
        (e, copy, evs)
    }

    #[test]
    fn the_first_round_adds_everything_then_says_synced() {
        let (e, _, evs) = started(Filter::all());
        assert!(!e.busy());
        let m = e.model();
        assert_eq!((m.links.len(), m.addresses.len(), m.routes4.len(), m.routes6.len(), m.neighbours4.len()), (2, 2, 2, 1, 1));
        assert_eq!(m.routes4[&route("10.9.0.0/16", vec![]).key].next_hops[1].weight, 3);
        assert_eq!(evs.iter().filter(|e| e.is_change()).count(), 8);
        let Some(MirrorEvent::Synced { round, resync, reason, kinds, changes }) = evs.last() else { panic!("{evs:?}") };
        assert_eq!((*round, *resync, reason.as_str(), kinds.len(), *changes), (1, false, "start", 6, 8));
        assert_eq!(e.stats().rounds, 1);
    }

    #[test]
    fn notifications_during_a_dump_apply_in_order_and_pending_kinds_wait_for_their_dump() {
        let mut e = Engine::new(Filter::all());
        e.start(&Kind::ALL, "start");
        let mut evs = Vec::new();
        let mut out = |ev| evs.push(ev);
        assert_eq!(e.next_dump(), Some(Kind::Links));
        e.dump_entry(Update::NewLink(link(1, "v0", true)));
        // A route notification while links are dumped: the route dump comes later and includes it.
        e.notification(new_route(route("10.7.0.0/16", vec![hop("10.1.0.9", 1, 1)])), &mut out);
        assert_eq!(e.stats().superseded, 1);
        // A link notification during the link dump: applied to the fresh copy, after the entry.
        e.notification(Update::NewLink(link(1, "v0", false)), &mut out);
        e.dump_done(false, &mut out);
        assert!(!e.model().links[&1].up, "the later notification wins over the earlier dump entry");
        assert_eq!(e.next_dump(), Some(Kind::Addresses));
        e.dump_done(false, &mut out);
        assert_eq!(e.next_dump(), Some(Kind::Routes4));
        e.dump_entry(new_route(route("10.7.0.0/16", vec![hop("10.1.0.9", 1, 1)])));
        e.notification(Update::DelRoute(route("10.7.0.0/16", vec![hop("10.1.0.9", 1, 1)])), &mut out);
        e.dump_entry(new_route(route("10.6.0.0/16", vec![hop("10.1.0.9", 1, 1)])));
        e.dump_done(false, &mut out);
        let dsts: Vec<String> = e.model().routes4.keys().map(|k| k.dst.to_string()).collect();
        assert_eq!(dsts, vec!["10.6.0.0/16"]);
        // Links were dumped in this round already: a link notification now is applied and told at once.
        let n = evs.len();
        e.notification(Update::NewLink(link(1, "v0", true)), &mut |ev| evs.push(ev));
        assert!(matches!(&evs[n..], [MirrorEvent::LinkChanged { new, .. }] if new.up), "{:?}", &evs[n..]);
    }

    #[test]
    fn an_overrun_resyncs_every_kind_and_emits_only_the_differences() {
        let (mut e, mut copy, _) = started(Filter::all());
        let mut evs = Vec::new();
        e.overrun(&mut |ev| evs.push(ev));
        e.overrun(&mut |ev| evs.push(ev));
        assert_eq!(evs, vec![MirrorEvent::Overrun { total: 1 }], "one event until the resync is done");
        // Meanwhile in the kernel: 10.8/16 went, 10.9/16 lost a next hop, 10.5/16 came, a neighbour went stale.
        let later = |k: Kind| match k {
            Kind::Routes4 => vec![
                new_route(route("10.9.0.0/16", vec![hop("10.1.0.2", 1, 1)])),
                new_route(route("10.5.0.0/16", vec![hop("10.1.0.3", 1, 1)])),
            ],
            Kind::Neighbours4 => vec![Update::NewNeighbour(neigh(1, "10.1.0.2", NudState::Stale))],
            k => kernel(k),
        };
        let evs = round(&mut e, &mut copy, &later);
        let kinds: Vec<&str> = evs
            .iter()
            .map(|ev| match ev {
                MirrorEvent::RouteAdded { .. } => "route+",
                MirrorEvent::RouteChanged { .. } => "route~",
                MirrorEvent::RouteRemoved { .. } => "route-",
                MirrorEvent::NeighbourChanged { .. } => "neigh~",
                MirrorEvent::Synced { .. } => "synced",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, vec!["route+", "route-", "route~", "neigh~", "synced"]);
        let Some(MirrorEvent::Synced { resync, reason, changes, .. }) = evs.last() else { panic!() };
        assert_eq!((*resync, reason.as_str(), *changes), (true, "overrun", 4));
        assert_eq!((e.stats().resyncs, e.stats().overruns), (1, 2));
        let mut evs = Vec::new();
        e.overrun(&mut |ev| evs.push(ev));
        assert_eq!(evs, vec![MirrorEvent::Overrun { total: 3 }], "a new round, a new event");
    }

    #[test]
    fn the_interface_filter_keeps_what_concerns_the_named_interfaces() {
        let (e, _, _) = started(Filter::interfaces(["v0"]));
        let m = e.model();
        assert_eq!(m.links.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(m.addresses.len(), 1, "the address on v1 is left out");
        let dsts: Vec<String> = m.routes4.keys().map(|k| k.dst.to_string()).collect();
        assert_eq!(dsts, vec!["10.9.0.0/16"], "the multipath route has a next hop on v0; 10.8/16 only on v1");
        assert_eq!(m.routes4.values().next().unwrap().next_hops, vec![hop("10.1.0.2", 1, 1)], "only the next hop on v0");
        assert!(m.routes6.is_empty() && m.neighbours4.len() == 1);
    }

    #[test]
    fn a_rename_across_the_filter_resyncs_what_is_on_links() {
        let (mut e, mut copy, _) = started(Filter::interfaces(["v0", "wan"]));
        let mut evs = Vec::new();
        e.notification(Update::NewLink(link(2, "wan", true)), &mut |ev| evs.push(ev));
        assert!(matches!(&evs[..], [MirrorEvent::LinkAdded { link }] if link.name == "wan"));
        assert!(e.busy(), "a resync is due");
        for ev in &evs {
            ev.apply_to(&mut copy);
        }
        let evs = round(&mut e, &mut copy, &|k| match k {
            Kind::Links => vec![Update::NewLink(link(1, "v0", true)), Update::NewLink(link(2, "wan", true))],
            k => kernel(k),
        });
        assert!(e.model().routes4.values().any(|r| r.key.dst.to_string() == "10.8.0.0/16"), "the route on the renamed link is followed now");
        assert!(matches!(evs.last(), Some(MirrorEvent::Synced { reason, .. }) if reason == "interface renamed"), "{evs:?}");
    }

    #[test]
    fn a_link_going_down_flushes_the_ipv4_routes_only_through_it_as_the_kernel_does() {
        let (mut e, mut copy, _) = started(Filter::all());
        let mut evs = Vec::new();
        e.notification(Update::NewLink(link(2, "v1", false)), &mut |ev| evs.push(ev));
        let dsts: Vec<String> = evs
            .iter()
            .map(|ev| match ev {
                MirrorEvent::LinkChanged { .. } => "link~".to_string(),
                MirrorEvent::RouteRemoved { route } => format!("route- {}", route.key.dst),
                other => format!("{other:?}"),
            })
            .collect();
        // 10.8/16 leaves only by v1: gone; the multipath 10.9/16 keeps its
        // next hop on v0 (the kernel marks the other dead, not removed); the
        // IPv6 route through v1 goes with a notification of its own.
        assert_eq!(dsts, vec!["link~", "route- 10.8.0.0/16"]);
        assert!(!e.busy(), "nothing to read again");
        for ev in &evs {
            ev.apply_to(&mut copy);
        }
        assert_eq!(&copy, e.model());
    }

    #[test]
    fn an_ipv4_address_removed_takes_the_routes_preferring_it_unless_configured_elsewhere() {
        let (mut e, _, _) = started(Filter::all());
        let mut r = route("10.70.0.0/16", vec![hop("10.1.0.2", 1, 1)]);
        r.pref_src = Some("10.1.0.1".parse().unwrap());
        let mut evs = Vec::new();
        e.notification(new_route(r.clone()), &mut |ev| evs.push(ev));
        e.notification(Update::NewAddress(addr(2, "10.1.0.1/32")), &mut |ev| evs.push(ev));
        e.notification(Update::DelAddress(addr(1, "10.1.0.1/24")), &mut |ev| evs.push(ev));
        assert!(e.model().routes4.contains_key(&r.key), "10.1.0.1 is still on v1");
        e.notification(Update::DelAddress(addr(2, "10.1.0.1/32")), &mut |ev| evs.push(ev));
        assert!(!e.model().routes4.contains_key(&r.key));
        assert!(matches!(evs.last(), Some(MirrorEvent::RouteRemoved { route }) if route.key == r.key));
    }

    #[test]
    fn ipv6_multipath_grows_by_append_and_shrinks_by_partial_delete() {
        let (mut e, _, _) = started(Filter::all());
        let r = |hops| route("2001:db8:9::/64", hops);
        let mut evs = Vec::new();
        let mut out = |ev| evs.push(ev);
        e.notification(Update::NewRoute { route: r(vec![hop("2001:db8::3", 1, 1)]), append: true, replace: false }, &mut out);
        assert_eq!(e.model().routes6[&r(vec![]).key].next_hops, vec![hop("2001:db8::3", 1, 1), hop("2001:db8::2", 2, 1)], "sorted by interface");
        // A notification naming every next hop is the whole route (weights may change).
        e.notification(Update::NewRoute { route: r(vec![hop("2001:db8::2", 2, 5), hop("2001:db8::3", 1, 1)]), append: true, replace: false }, &mut out);
        assert_eq!(e.model().routes6[&r(vec![]).key].next_hops[1].weight, 5);
        e.notification(Update::DelRoute(r(vec![hop("2001:db8::2", 2, 1)])), &mut out);
        assert_eq!(e.model().routes6[&r(vec![]).key].next_hops, vec![hop("2001:db8::3", 1, 1)]);
        e.notification(Update::NewRoute { route: r(vec![hop("2001:db8::7", 1, 1)]), append: false, replace: true }, &mut out);
        assert_eq!(e.model().routes6[&r(vec![]).key].next_hops, vec![hop("2001:db8::7", 1, 1)]);
        e.notification(Update::DelRoute(r(vec![hop("2001:db8::7", 1, 1)])), &mut out);
        assert!(e.model().routes6.is_empty());
        let n = evs.iter().filter(|e| matches!(e, MirrorEvent::RouteChanged { .. })).count();
        assert_eq!(n, 4);
    }

    #[test]
    fn ipv4_twins_keep_the_active_route_and_resync_when_it_goes() {
        let (mut e, _, _) = started(Filter::all());
        let a = route("10.8.0.0/16", vec![hop("10.2.0.2", 2, 1)]);
        let b = route("10.8.0.0/16", vec![hop("10.1.0.7", 1, 1)]);
        let mut evs = Vec::new();
        // `ip route append`: an inactive twin behind the active route.
        e.notification(Update::NewRoute { route: b.clone(), append: true, replace: false }, &mut |ev| evs.push(ev));
        assert!(evs.is_empty() && e.model().routes4[&a.key] == a);
        // Deleting the twin changes nothing.
        e.notification(Update::DelRoute(b.clone()), &mut |ev| evs.push(ev));
        assert!(evs.is_empty() && !e.busy());
        // Deleting the active one with a twin (possibly) behind it: resync.
        e.notification(Update::DelRoute(a.clone()), &mut |ev| evs.push(ev));
        assert!(matches!(&evs[..], [MirrorEvent::RouteRemoved { .. }]));
        assert!(e.busy(), "the twin may be active now: the IPv4 routes are read again");
    }

    #[test]
    fn an_interrupted_dump_is_asked_again() {
        let mut e = Engine::new(Filter::all());
        e.start(&[Kind::Routes4], "start");
        assert_eq!(e.next_dump(), Some(Kind::Routes4));
        e.dump_entry(new_route(route("10.8.0.0/16", vec![hop("10.2.0.2", 2, 1)])));
        let mut evs = Vec::new();
        e.dump_done(true, &mut |ev| evs.push(ev));
        assert!(evs.is_empty() && e.model().routes4.is_empty());
        assert_eq!(e.next_dump(), Some(Kind::Routes4), "asked again");
        e.dump_done(false, &mut |ev| evs.push(ev));
        assert!(matches!(evs.last(), Some(MirrorEvent::Synced { reason, .. }) if reason == "start, dump interrupted"));
        assert_eq!(e.stats().dumps_interrupted, 1);
    }

    #[test]
    fn a_removed_link_takes_what_was_on_it() {
        let (mut e, mut copy, _) = started(Filter::interfaces(["v0"]));
        let mut evs = Vec::new();
        // v0 goes; its address deletion comes after the link's (and the
        // kernel flushes its IPv4 routes silently): a resync of what is on links.
        e.notification(Update::DelLink(link(1, "v0", true)), &mut |ev| evs.push(ev));
        e.notification(Update::DelAddress(addr(1, "10.1.0.1/24")), &mut |ev| evs.push(ev));
        assert!(matches!(&evs[..], [MirrorEvent::LinkRemoved { .. }]), "{evs:?}");
        assert_eq!(e.stats().superseded, 1, "the address dump to come covers the deletion");
        for ev in &evs {
            ev.apply_to(&mut copy);
        }
        let evs = round(&mut e, &mut copy, &|k| match k {
            Kind::Links => vec![Update::NewLink(link(2, "v1", true))],
            Kind::Addresses => vec![Update::NewAddress(addr(2, "2001:db8::1/64"))],
            Kind::Routes4 => vec![new_route(route("10.8.0.0/16", vec![hop("10.2.0.2", 2, 1)]))],
            Kind::Neighbours4 => vec![],
            k => kernel(k),
        });
        assert!(e.model().is_empty(), "{:?}", e.model());
        assert!(matches!(evs.last(), Some(MirrorEvent::Synced { reason, .. }) if reason.starts_with("link removed")), "{evs:?}");
    }

    fn dsts(routes: &BTreeMap<RouteKey, Route>) -> Vec<String> {
        routes.keys().map(|k| k.dst.to_string()).collect()
    }

    /// Starts a resync (an overrun) and runs its dumps before the IPv4
    /// routes' as the kernel gives them; the IPv4 route dump is then in progress.
    fn resync_up_to_routes4(e: &mut Engine, evs: &mut Vec<MirrorEvent>) {
        e.overrun(&mut |ev| evs.push(ev));
        while let Some(k) = e.next_dump() {
            if k == Kind::Routes4 {
                return;
            }
            for u in kernel(k) {
                e.dump_entry(u);
            }
            e.dump_done(false, &mut |ev| evs.push(ev));
        }
        panic!("no IPv4 route dump");
    }

    #[test]
    fn a_route_deleted_while_the_kernel_builds_a_dump_part_is_not_taken_back_from_it() {
        // The failing run's last resync, as the mirror read it: the kernel
        // deletes 20.0.119.207, .208, .209, ... in order while the IPv4 route
        // dump walks its table. It walked past .208 before .208 went, but
        // queued the part after the deletion's notification; .207 went
        // before the walk got there. Read order: the deletions of .207 and
        // .208, then the part listing .208 and .209.
        let r = |d: &str| route(d, vec![hop("10.1.0.2", 1, 1)]);
        let mut e = Engine::new(Filter::all());
        e.start(&Kind::ALL, "start");
        let mut copy = Model::default();
        round(&mut e, &mut copy, &|k| match k {
            Kind::Routes4 => ["20.0.119.207/32", "20.0.119.208/32", "20.0.119.209/32"].iter().map(|d| new_route(r(d))).collect(),
            k => kernel(k),
        });
        let mut evs = Vec::new();
        resync_up_to_routes4(&mut e, &mut evs);
        e.notification(Update::DelRoute(r("20.0.119.207/32")), &mut |ev| evs.push(ev));
        e.notification(Update::DelRoute(r("20.0.119.208/32")), &mut |ev| evs.push(ev));
        e.dump_entry(new_route(r("20.0.119.208/32")));
        e.dump_entry(new_route(r("20.0.119.209/32")));
        e.dump_done(false, &mut |ev| evs.push(ev));
        while let Some(k) = e.next_dump() {
            for u in kernel(k) {
                e.dump_entry(u);
            }
            e.dump_done(false, &mut |ev| evs.push(ev));
        }
        assert_eq!(dsts(&e.model().routes4), vec!["20.0.119.209/32"], "the kernel has only .209");
        assert!(matches!(evs.last(), Some(MirrorEvent::Synced { resync: true, .. })), "{evs:?}");
        assert_eq!(e.stats().entries_superseded, 1);
        for ev in &evs {
            ev.apply_to(&mut copy);
        }
        assert_eq!(&copy, e.model(), "a consumer of the events holds the same");
        // Later notifications apply as usual: .209 goes, and stays gone.
        e.notification(Update::DelRoute(r("20.0.119.209/32")), &mut |_| {});
        assert!(e.model().routes4.is_empty() && !e.busy());
    }

    #[test]
    fn a_notification_read_before_a_dump_entry_of_the_same_object_wins() {
        let (mut e, _, _) = started(Filter::all());
        let mut evs = Vec::new();
        // Links: v1 went down after the kernel listed it up.
        e.overrun(&mut |ev| evs.push(ev));
        assert_eq!(e.next_dump(), Some(Kind::Links));
        e.dump_entry(Update::NewLink(link(1, "v0", true)));
        e.notification(Update::NewLink(link(2, "v1", false)), &mut |ev| evs.push(ev));
        e.dump_entry(Update::NewLink(link(2, "v1", true)));
        e.dump_done(false, &mut |ev| evs.push(ev));
        assert!(!e.model().links[&2].up, "the notification is newer than the entry after it");
        // Addresses: one removed after the kernel listed it.
        assert_eq!(e.next_dump(), Some(Kind::Addresses));
        e.notification(Update::DelAddress(addr(1, "10.1.0.1/24")), &mut |ev| evs.push(ev));
        for u in kernel(Kind::Addresses) {
            e.dump_entry(u);
        }
        e.dump_done(false, &mut |ev| evs.push(ev));
        assert_eq!(e.model().addresses.len(), 1);
        // IPv4 routes: 10.8/16 replaced (the entry lists the old one), 10.9/16
        // deleted, and the active 10.7/16 deleted with a twin behind it: the
        // twin is the kernel's route now (the entry of the deleted one goes).
        assert_eq!(e.next_dump(), Some(Kind::Routes4));
        let mut r8 = route("10.8.0.0/16", vec![hop("10.1.0.5", 1, 1)]);
        e.notification(Update::NewRoute { route: r8.clone(), append: false, replace: true }, &mut |ev| evs.push(ev));
        e.notification(Update::DelRoute(route("10.9.0.0/16", vec![hop("10.1.0.2", 1, 1), hop("10.2.0.2", 2, 3)])), &mut |ev| evs.push(ev));
        let (active, twin) = (route("10.7.0.0/16", vec![hop("10.1.0.2", 1, 1)]), route("10.7.0.0/16", vec![hop("10.2.0.2", 2, 1)]));
        e.notification(Update::DelRoute(active.clone()), &mut |ev| evs.push(ev));
        // The kernel lists multipath next hops in its own order.
        e.dump_entry(new_route(route("10.9.0.0/16", vec![hop("10.2.0.2", 2, 3), hop("10.1.0.2", 1, 1)])));
        e.dump_entry(new_route(route("10.8.0.0/16", vec![hop("10.2.0.2", 2, 1)])));
        e.dump_entry(new_route(active));
        e.dump_entry(new_route(twin.clone()));
        e.dump_done(false, &mut |ev| evs.push(ev));
        r8.sort_next_hops();
        assert_eq!(e.model().routes4.values().cloned().collect::<Vec<_>>(), vec![twin, r8]);
        assert_eq!(e.stats().entries_superseded, 5, "v1, the address, 10.9/16, 10.8/16, the deleted 10.7/16");
        // IPv6: a next hop appended to 2001:db8:9::/64, then the other one
        // deleted; the entry, built before the deletion, lists both.
        assert_eq!(e.next_dump(), Some(Kind::Routes6));
        let r6 = |hops| route("2001:db8:9::/64", hops);
        e.notification(Update::NewRoute { route: r6(vec![hop("2001:db8::3", 1, 1)]), append: true, replace: false }, &mut |ev| evs.push(ev));
        e.notification(Update::DelRoute(r6(vec![hop("2001:db8::2", 2, 1)])), &mut |ev| evs.push(ev));
        e.dump_entry(new_route(r6(vec![hop("2001:db8::2", 2, 1), hop("2001:db8::3", 1, 1)])));
        e.dump_done(false, &mut |ev| evs.push(ev));
        assert_eq!(e.model().routes6[&r6(vec![]).key].next_hops, vec![hop("2001:db8::3", 1, 1)], "the deleted next hop stays deleted");
        // Neighbours: 10.1.0.2 deleted after the kernel listed it.
        assert_eq!(e.next_dump(), Some(Kind::Neighbours4));
        e.notification(Update::DelNeighbour(neigh(1, "10.1.0.2", NudState::Reachable).key), &mut |ev| evs.push(ev));
        for u in kernel(Kind::Neighbours4) {
            e.dump_entry(u);
        }
        e.dump_done(false, &mut |ev| evs.push(ev));
        assert!(e.model().neighbours4.is_empty());
        assert_eq!(e.next_dump(), Some(Kind::Neighbours6));
        e.dump_done(false, &mut |ev| evs.push(ev));
        assert!(!e.busy(), "nothing asks for another dump");
    }

    #[test]
    fn an_ipv6_next_hop_deleted_then_added_again_during_a_dump_is_kept() {
        let (mut e, _, _) = started(Filter::all());
        let r6 = |hops| route("2001:db8:9::/64", hops);
        e.start(&[Kind::Routes6], "test");
        assert_eq!(e.next_dump(), Some(Kind::Routes6));
        e.notification(Update::DelRoute(r6(vec![hop("2001:db8::2", 2, 1)])), &mut |_| {});
        e.notification(Update::NewRoute { route: r6(vec![hop("2001:db8::2", 2, 1)]), append: true, replace: false }, &mut |_| {});
        e.dump_entry(new_route(r6(vec![hop("2001:db8::2", 2, 1)])));
        e.dump_done(false, &mut |_| {});
        assert_eq!(e.model().routes6[&r6(vec![]).key].next_hops, vec![hop("2001:db8::2", 2, 1)]);
        assert_eq!(e.stats().entries_superseded, 0);
    }

    #[test]
    fn a_route_both_notified_and_dumped_is_no_twin() {
        // A route added during the dump comes twice (its notification, then
        // the entry of a part built after it): not an inactive twin, so
        // deleting it later needs no resync.
        let (mut e, _, _) = started(Filter::all());
        let r = route("10.60.0.0/16", vec![hop("10.1.0.2", 1, 1)]);
        e.start(&[Kind::Routes4], "test");
        assert_eq!(e.next_dump(), Some(Kind::Routes4));
        e.notification(new_route(r.clone()), &mut |_| {});
        for u in kernel(Kind::Routes4) {
            e.dump_entry(u);
        }
        e.dump_entry(new_route(r.clone()));
        e.dump_done(false, &mut |_| {});
        assert!(e.model().routes4.contains_key(&r.key) && !e.busy());
        e.notification(Update::DelRoute(r.clone()), &mut |_| {});
        assert!(!e.busy(), "no resync for a twin that is not");
    }

    #[test]
    fn an_overrun_during_a_dump_asks_that_kind_again_before_the_round_ends() {
        // The notifications of the kind being dumped are dropped after the
        // overrun (the dump asked again covers them), so the copy this dump
        // ends with may be stale: the round goes on to the next dump.
        let (mut e, _, _) = started(Filter::all());
        let r = route("10.8.0.0/16", vec![hop("10.2.0.2", 2, 1)]);
        e.start(&[Kind::Routes4], "test");
        assert_eq!(e.next_dump(), Some(Kind::Routes4));
        let mut evs = Vec::new();
        for u in kernel(Kind::Routes4) {
            e.dump_entry(u);
        }
        e.overrun(&mut |ev| evs.push(ev));
        e.notification(Update::DelRoute(r.clone()), &mut |ev| evs.push(ev));
        assert_eq!(e.stats().superseded, 1);
        e.dump_done(false, &mut |ev| evs.push(ev));
        assert!(e.model().routes4.contains_key(&r.key) && e.busy());
        assert!(!evs.iter().any(|ev| matches!(ev, MirrorEvent::Synced { .. })), "{evs:?}");
        let mut seen = Vec::new();
        while let Some(k) = e.next_dump() {
            seen.push(k);
            let entries = match k {
                Kind::Routes4 => vec![new_route(route("10.9.0.0/16", vec![hop("10.1.0.2", 1, 1), hop("10.2.0.2", 2, 3)]))],
                k => kernel(k),
            };
            for u in entries {
                e.dump_entry(u);
            }
            e.dump_done(false, &mut |ev| evs.push(ev));
        }
        assert!(seen.contains(&Kind::Routes4));
        assert!(!e.model().routes4.contains_key(&r.key));
        assert!(matches!(evs.last(), Some(MirrorEvent::Synced { .. })));
    }

    #[test]
    fn a_link_going_down_during_the_route_dump_dumps_the_routes_again() {
        // The kernel flushes the IPv4 routes through the link silently; the
        // dump in progress may have listed them already.
        let (mut e, _, _) = started(Filter::all());
        e.start(&[Kind::Routes4], "test");
        assert_eq!(e.next_dump(), Some(Kind::Routes4));
        for u in kernel(Kind::Routes4) {
            e.dump_entry(u);
        }
        e.notification(Update::NewLink(link(2, "v1", false)), &mut |_| {});
        e.dump_done(false, &mut |_| {});
        assert!(e.model().routes4.contains_key(&route("10.8.0.0/16", vec![]).key), "listed before the flush");
        assert_eq!(e.next_dump(), Some(Kind::Routes4), "asked again");
        e.dump_entry(new_route(route("10.9.0.0/16", vec![hop("10.1.0.2", 1, 1), hop("10.2.0.2", 2, 3)])));
        let mut evs = Vec::new();
        e.dump_done(false, &mut |ev| evs.push(ev));
        assert_eq!(dsts(&e.model().routes4), vec!["10.9.0.0/16"]);
        assert!(matches!(evs.last(), Some(MirrorEvent::Synced { reason, .. }) if reason.contains("flushed during their dump")), "{evs:?}");
    }
}
