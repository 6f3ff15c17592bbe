//! The mirrored state and its events as text (for operators) and JSON (for
//! scripts and tests): what `newipd mirror` prints.

use super::event::MirrorEvent;
use super::model::{Address, Link, Model, Neighbour, Route};
use serde::Serialize;
use std::fmt::Write;

/// The state as one JSON object: `{"state": LABEL, "links": [...],
/// "addresses": [...], "routes": [...], "neighbours": [...], "stats": ...}`.
pub fn state_json(label: &str, m: &Model, stats: &impl Serialize) -> serde_json::Value {
    serde_json::json!({
        "state": label,
        "links": m.links.values().collect::<Vec<_>>(),
        "addresses": m.addresses.values().collect::<Vec<_>>(),
        "routes": m.all_routes().collect::<Vec<_>>(),
        "neighbours": m.all_neighbours().collect::<Vec<_>>(),
        "stats": stats,
    })
}

pub fn link(l: &Link) -> String {
    let mac = l.mac.map_or("none".to_string(), |m| m.to_string());
    format!(
        "{} {} mac {} mtu {} {} {}",
        l.index,
        l.name,
        mac,
        l.mtu,
        if l.up { "up" } else { "down" },
        if l.carrier { "carrier" } else { "no-carrier" }
    )
}

pub fn address(m: &Model, a: &Address) -> String {
    format!("{} dev {}", a.prefix, m.link_name(a.ifindex))
}

pub fn route(m: &Model, r: &Route) -> String {
    let mut s = String::new();
    if r.kind != super::model::RouteKind::Unicast {
        let _ = write!(s, "{} ", r.kind.name());
    }
    let _ = write!(s, "{}", r.key.dst);
    if let Some(src) = r.key.src {
        let _ = write!(s, " from {src}");
    }
    if r.key.table != 254 {
        let _ = write!(s, " table {}", r.key.table);
    }
    if r.key.tos != 0 {
        let _ = write!(s, " tos {:#x}", r.key.tos);
    }
    let _ = write!(s, " metric {} proto {}", r.key.metric, r.protocol);
    if let Some(p) = r.pref_src {
        let _ = write!(s, " src {p}");
    }
    let multi = r.next_hops.len() > 1;
    for h in &r.next_hops {
        s.push_str(if multi { " nexthop" } else { "" });
        if let Some(g) = h.gateway {
            let _ = write!(s, " via {g}");
        }
        let _ = write!(s, " dev {}", m.link_name(h.ifindex));
        if multi {
            let _ = write!(s, " weight {}", h.weight);
        }
        if h.onlink {
            s.push_str(" onlink");
        }
    }
    s
}

pub fn neighbour(m: &Model, n: &Neighbour) -> String {
    let mac = n.mac.map_or("none".to_string(), |m| m.to_string());
    format!("{} dev {} lladdr {} {}{}", n.key.ip, m.link_name(n.key.ifindex), mac, n.state.name(), if n.router { " router" } else { "" })
}

/// The state as text, one object a line under a heading per kind.
pub fn state_text(label: &str, m: &Model) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "== {label} state: {} links, {} addresses, {} routes, {} neighbours", m.links.len(), m.addresses.len(), m.routes4.len() + m.routes6.len(), m.neighbours4.len() + m.neighbours6.len());
    for l in m.links.values() {
        let _ = writeln!(s, "link {}", link(l));
    }
    for a in m.addresses.values() {
        let _ = writeln!(s, "address {}", address(m, a));
    }
    for r in m.all_routes() {
        let _ = writeln!(s, "route {}", route(m, r));
    }
    for n in m.all_neighbours() {
        let _ = writeln!(s, "neighbour {}", neighbour(m, n));
    }
    s
}

/// One event as a line of text: `+` added, `~` changed, `-` removed, `!`
/// overrun, `=` a round of dumps done. Interface names come from `m`, the
/// state as it was when the event was printed.
pub fn event_text(m: &Model, ev: &MirrorEvent) -> String {
    match ev {
        MirrorEvent::LinkAdded { link: l } => format!("+ link {}", link(l)),
        MirrorEvent::LinkChanged { old, new } => format!("~ link {} -> {}", link(old), link(new)),
        MirrorEvent::LinkRemoved { link: l } => format!("- link {}", link(l)),
        MirrorEvent::AddressAdded { address: a } => format!("+ address {}", address(m, a)),
        MirrorEvent::AddressRemoved { address: a } => format!("- address {}", address(m, a)),
        MirrorEvent::RouteAdded { route: r } => format!("+ route {}", route(m, r)),
        MirrorEvent::RouteChanged { old, new } => format!("~ route {} -> {}", route(m, old), route(m, new)),
        MirrorEvent::RouteRemoved { route: r } => format!("- route {}", route(m, r)),
        MirrorEvent::NeighbourAdded { neighbour: n } => format!("+ neighbour {}", neighbour(m, n)),
        MirrorEvent::NeighbourChanged { old, new } => format!("~ neighbour {} -> {}", neighbour(m, old), neighbour(m, new)),
        MirrorEvent::NeighbourRemoved { neighbour: n } => format!("- neighbour {}", neighbour(m, n)),
        MirrorEvent::Overrun { total } => format!("! overrun (ENOBUFS, {total} so far): notifications lost, resync follows"),
        MirrorEvent::Synced { round, resync, reason, kinds, changes } => {
            format!("= round {round} done ({}: {reason}; {}): {changes} changes", if *resync { "resync" } else { "first dump" }, kinds.join(", "))
        }
    }
}
