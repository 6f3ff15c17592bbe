//! What the mirror tells its consumer: every change to the mirrored state as
//! a typed event, and the marks around resyncs.

use super::diff::Change;
use super::model::{Address, Link, Model, Neighbour, Route};
use serde::Serialize;

/// One change to the mirrored state, or a mark in the stream. A consumer that
/// applies every `*Added`/`*Changed`/`*Removed` event in order to its own copy
/// holds the kernel's state (filtered) after each [`MirrorEvent::Synced`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum MirrorEvent {
    LinkAdded { link: Link },
    /// Name, MAC, MTU, up or carrier changed.
    LinkChanged { old: Link, new: Link },
    LinkRemoved { link: Link },
    AddressAdded { address: Address },
    AddressRemoved { address: Address },
    RouteAdded { route: Route },
    /// Same key (table, destination, TOS, metric), other next hops, kind,
    /// protocol or preferred source.
    RouteChanged { old: Route, new: Route },
    RouteRemoved { route: Route },
    NeighbourAdded { neighbour: Neighbour },
    /// MAC or state changed (reachable -> stale and back are changes too).
    NeighbourChanged { old: Neighbour, new: Neighbour },
    NeighbourRemoved { neighbour: Neighbour },
    /// The socket overran (ENOBUFS): the kernel dropped notifications. A
    /// resync of every kind follows; until its `Synced`, the state may lag.
    /// Told once per resync (`total` counts every overrun so far).
    Overrun { total: u64 },
    /// A dump round ended: every kind it dumped now equals the kernel's as of
    /// its dump (the first round at start; later ones are resyncs, with the
    /// reason: an overrun, a link going down, ...). `changes` counts the events
    /// the round emitted.
    Synced { round: u64, resync: bool, reason: String, kinds: Vec<&'static str>, changes: u64 },
}

impl MirrorEvent {
    pub fn link(c: Change<Link>) -> MirrorEvent {
        match c {
            Change::Added(link) => MirrorEvent::LinkAdded { link },
            Change::Changed(old, new) => MirrorEvent::LinkChanged { old, new },
            Change::Removed(link) => MirrorEvent::LinkRemoved { link },
        }
    }

    /// An address has no other content than its key: a change cannot happen.
    pub fn address(c: Change<Address>) -> MirrorEvent {
        match c {
            Change::Added(address) | Change::Changed(_, address) => MirrorEvent::AddressAdded { address },
            Change::Removed(address) => MirrorEvent::AddressRemoved { address },
        }
    }

    pub fn route(c: Change<Route>) -> MirrorEvent {
        match c {
            Change::Added(route) => MirrorEvent::RouteAdded { route },
            Change::Changed(old, new) => MirrorEvent::RouteChanged { old, new },
            Change::Removed(route) => MirrorEvent::RouteRemoved { route },
        }
    }

    pub fn neighbour(c: Change<Neighbour>) -> MirrorEvent {
        match c {
            Change::Added(neighbour) => MirrorEvent::NeighbourAdded { neighbour },
            Change::Changed(old, new) => MirrorEvent::NeighbourChanged { old, new },
            Change::Removed(neighbour) => MirrorEvent::NeighbourRemoved { neighbour },
        }
    }

    /// Applies the event to a copy of the state, as a consumer does (marks
    /// change nothing). Applying every event from an empty model on gives
    /// the mirror's own model.
    pub fn apply_to(&self, m: &mut Model) {
        match self {
            MirrorEvent::LinkAdded { link } | MirrorEvent::LinkChanged { new: link, .. } => {
                m.links.insert(link.index, link.clone());
            }
            MirrorEvent::LinkRemoved { link } => {
                m.links.remove(&link.index);
            }
            MirrorEvent::AddressAdded { address } => {
                m.addresses.insert(address.clone(), address.clone());
            }
            MirrorEvent::AddressRemoved { address } => {
                m.addresses.remove(address);
            }
            MirrorEvent::RouteAdded { route } | MirrorEvent::RouteChanged { new: route, .. } => {
                m.routes_mut(route.is_v6()).insert(route.key.clone(), route.clone());
            }
            MirrorEvent::RouteRemoved { route } => {
                m.routes_mut(route.is_v6()).remove(&route.key);
            }
            MirrorEvent::NeighbourAdded { neighbour } | MirrorEvent::NeighbourChanged { new: neighbour, .. } => {
                m.neighbours_mut(neighbour.key.ip.is_ipv6()).insert(neighbour.key, neighbour.clone());
            }
            MirrorEvent::NeighbourRemoved { neighbour } => {
                m.neighbours_mut(neighbour.key.ip.is_ipv6()).remove(&neighbour.key);
            }
            MirrorEvent::Overrun { .. } | MirrorEvent::Synced { .. } => {}
        }
    }

    /// A change to the state (not a mark).
    pub fn is_change(&self) -> bool {
        !matches!(self, MirrorEvent::Overrun { .. } | MirrorEvent::Synced { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::netlink::model::{NextHop, Prefix, Protocol, RouteKey, RouteKind};

    #[test]
    fn events_serialize_with_a_kebab_case_tag() {
        let route = Route {
            key: RouteKey { table: 254, dst: Prefix::new("10.0.0.0".parse().unwrap(), 8), src: None, tos: 0, metric: 0 },
            kind: RouteKind::Unicast,
            protocol: Protocol::STATIC,
            pref_src: None,
            next_hops: vec![NextHop { gateway: Some("192.0.2.1".parse().unwrap()), ifindex: 3, weight: 1, onlink: false }],
        };
        let j = serde_json::to_value(MirrorEvent::route(Change::Added(route))).unwrap();
        assert_eq!(j["event"], "route-added");
        assert_eq!(j["route"]["dst"], "10.0.0.0/8");
        assert_eq!(j["route"]["next_hops"][0]["gateway"], "192.0.2.1");
        assert_eq!(j["route"]["protocol"], "static", "named as iproute2 names it");
        assert_eq!(serde_json::to_value(Protocol(77)).unwrap(), "77", "a number it has no name for");
        let s = serde_json::to_value(MirrorEvent::Synced { round: 2, resync: true, reason: "overrun".into(), kinds: vec!["links"], changes: 0 }).unwrap();
        assert_eq!(s["event"], "synced");
        assert!(!MirrorEvent::Overrun { total: 1 }.is_change());
    }
}
