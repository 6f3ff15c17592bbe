//! rtnetlink messages (netlink-packet-route's types) into the model's terms,
//! keeping what the mirror follows: links of the AF_UNSPEC family, IPv4 and
//! IPv6 addresses, routes of the chosen table(s) that forward or refuse
//! (unicast, blackhole, unreachable, prohibit, throw: not local, broadcast,
//! anycast, multicast, nor cloned cache entries), ARP and NDP neighbours
//! that have or had a MAC (not proxy entries, not NOARP ones, which map
//! multicast and loopback addresses and which the kernel makes without a
//! notification, not incomplete ones, which the kernel makes silently too
//! while it resolves and which have no MAC yet).

use super::model::{Address, Link, Mac, Neighbour, NeighbourKey, NextHop, NudState, Prefix, Protocol, Route, RouteKey, RouteKind};
use super::update::Update;
use netlink_packet_core::{NLM_F_APPEND, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteNextHopFlags, RouteVia};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::IpAddr;

/// Which routing tables the mirror follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tables {
    /// The main table (254), the one `ip route` shows.
    #[default]
    Main,
    /// One table by number.
    Id(u32),
    /// Every table (the local table's local and broadcast routes stay out).
    All,
}

impl Tables {
    pub const MAIN: u32 = 254;

    pub fn wants(self, table: u32) -> bool {
        match self {
            Tables::Main => table == Self::MAIN,
            Tables::Id(t) => table == t,
            Tables::All => true,
        }
    }

    /// `main`, `all`, `local` or a number 1..=2^32-1.
    pub fn parse(s: &str) -> Result<Tables, String> {
        match s {
            "main" => Ok(Tables::Main),
            "all" => Ok(Tables::All),
            "local" => Ok(Tables::Id(255)),
            "default" => Ok(Tables::Id(253)),
            n => match n.parse::<u32>() {
                Ok(t) if t > 0 => Ok(Tables::Id(t)),
                _ => Err(format!("{s:?}: expected main, all, local, default or a table number above 0")),
            },
        }
    }
}

/// The update a message carries, or None for what the mirror does not follow.
/// `flags` are the netlink header's (NLM_F_APPEND and NLM_F_REPLACE matter).
pub fn update(msg: RouteNetlinkMessage, flags: u16, tables: Tables) -> Option<Update> {
    match msg {
        RouteNetlinkMessage::NewLink(m) => link(&m).map(Update::NewLink),
        RouteNetlinkMessage::DelLink(m) => link(&m).map(Update::DelLink),
        RouteNetlinkMessage::NewAddress(m) => address(&m).map(Update::NewAddress),
        RouteNetlinkMessage::DelAddress(m) => address(&m).map(Update::DelAddress),
        RouteNetlinkMessage::NewRoute(m) => {
            route(&m, tables).map(|route| Update::NewRoute { route, append: flags & NLM_F_APPEND != 0, replace: flags & NLM_F_REPLACE != 0 })
        }
        RouteNetlinkMessage::DelRoute(m) => route(&m, tables).map(Update::DelRoute),
        RouteNetlinkMessage::NewNeighbour(m) => neighbour(&m).map(|n| {
            if matches!(n.state, NudState::Noarp | NudState::Incomplete) {
                // Not mirrored (see `neighbour`); if it was, it is no more.
                Update::DelNeighbour(n.key)
            } else {
                Update::NewNeighbour(n)
            }
        }),
        RouteNetlinkMessage::DelNeighbour(m) => neighbour(&m).map(|n| Update::DelNeighbour(n.key)),
        _ => None,
    }
}

/// A link message of the AF_UNSPEC family (the bridge's AF_BRIDGE port
/// messages and IPv6's per-interface AF_INET6 ones are not about the link).
pub fn link(m: &LinkMessage) -> Option<Link> {
    if m.header.interface_family != AddressFamily::Unspec {
        return None;
    }
    let mut l = Link {
        index: m.header.index,
        name: String::new(),
        mac: None,
        mtu: 0,
        up: m.header.flags.contains(LinkFlags::Up),
        carrier: m.header.flags.contains(LinkFlags::LowerUp),
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n.clone(),
            LinkAttribute::Address(b) => l.mac = Mac::from_slice(b),
            LinkAttribute::Mtu(v) => l.mtu = *v,
            _ => {}
        }
    }
    Some(l)
}

fn family_v6(f: AddressFamily) -> Option<bool> {
    match f {
        AddressFamily::Inet => Some(false),
        AddressFamily::Inet6 => Some(true),
        _ => None,
    }
}

pub fn address(m: &AddressMessage) -> Option<Address> {
    family_v6(m.header.family)?;
    let mut local = None;
    let mut addr = None;
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => addr = Some(*ip),
            _ => {}
        }
    }
    let ip = local.or(addr)?;
    Some(Address { ifindex: m.header.index, prefix: Prefix::new(ip, m.header.prefix_len) })
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn via_ip(v: &RouteVia) -> Option<IpAddr> {
    match v {
        RouteVia::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteVia::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// The gateway among a route's (or a next hop's) attributes: RTA_GATEWAY, or
/// RTA_VIA (an IPv4 route through an IPv6 gateway).
fn gateway(attrs: &[RouteAttribute]) -> Option<IpAddr> {
    attrs.iter().find_map(|a| match a {
        RouteAttribute::Gateway(g) => route_ip(g),
        RouteAttribute::Via(v) => via_ip(v),
        _ => None,
    })
}

/// The routes followed by their type (RTN_*): those that forward or refuse.
fn route_kind(t: u8) -> Option<RouteKind> {
    match t {
        1 => Some(RouteKind::Unicast),
        6 => Some(RouteKind::Blackhole),
        7 => Some(RouteKind::Unreachable),
        8 => Some(RouteKind::Prohibit),
        9 => Some(RouteKind::Throw),
        _ => None,
    }
}

pub fn route(m: &RouteMessage, tables: Tables) -> Option<Route> {
    let h = &m.header;
    let v6 = family_v6(h.address_family)?;
    if h.flags.contains(RouteFlags::Cloned) {
        return None;
    }
    let kind = route_kind(u8::from(h.kind))?;
    let mut table = u32::from(h.table);
    let mut dst = Prefix::default_of(v6);
    dst.len = h.destination_prefix_length;
    let mut src = None;
    let mut metric = 0;
    let mut oif = 0;
    let mut pref_src = None;
    let mut multipath = None;
    for a in &m.attributes {
        match a {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(d) => dst.addr = route_ip(d)?,
            RouteAttribute::Source(s) if h.source_prefix_length > 0 => src = Some(Prefix::new(route_ip(s)?, h.source_prefix_length)),
            RouteAttribute::Priority(p) => metric = *p,
            RouteAttribute::Oif(i) => oif = *i,
            RouteAttribute::PrefSource(p) => pref_src = route_ip(p),
            RouteAttribute::MultiPath(hops) => multipath = Some(hops),
            _ => {}
        }
    }
    if !tables.wants(table) {
        return None;
    }
    let next_hops = if kind != RouteKind::Unicast {
        // An IPv6 blackhole says `dev lo`: it leaves by no interface.
        Vec::new()
    } else if let Some(hops) = multipath {
        hops.iter()
            .map(|n| NextHop {
                gateway: gateway(&n.attributes),
                ifindex: n.interface_index,
                weight: u16::from(n.hops) + 1,
                onlink: n.flags.contains(RouteNextHopFlags::Onlink),
            })
            .collect()
    } else {
        vec![NextHop { gateway: gateway(&m.attributes), ifindex: oif, weight: 1, onlink: h.flags.contains(RouteFlags::Onlink) }]
    };
    let mut r = Route { key: RouteKey { table, dst, src, tos: h.tos, metric }, kind, protocol: Protocol(u8::from(h.protocol)), pref_src, next_hops };
    r.sort_next_hops();
    Some(r)
}

/// A route message straight from its bytes (header included), as
/// [`update`] would make it from netlink-packet-route's parse, without that
/// parse's allocations: a full table is a million of these. None where the
/// message is not a route message or holds something this reader leaves to
/// the general path (an attribute of an unexpected size, an RTA_VIA of
/// another family, anything malformed): the caller then takes that path, so
/// the outcome is the same either way (a test holds the two equal).
pub fn route_update(msg: &[u8], tables: Tables) -> Option<Option<Update>> {
    const RTM_NEWROUTE: u16 = 24;
    const RTM_DELROUTE: u16 = 25;
    const RTM_F_CLONED: u32 = 0x200;
    const RTNH_F_ONLINK: u8 = 4;
    let ty = u16::from_ne_bytes(msg.get(4..6)?.try_into().ok()?);
    if ty != RTM_NEWROUTE && ty != RTM_DELROUTE {
        return None;
    }
    let nl_flags = u16::from_ne_bytes(msg.get(6..8)?.try_into().ok()?);
    let body = msg.get(16..)?;
    let h = body.get(..12)?;
    let v6 = match h[0] {
        2 => false,
        10 => true,
        _ => return None,
    };
    let (dst_len, src_len, tos, table8, protocol, ty_route) = (h[1], h[2], h[3], h[4], h[5], h[7]);
    let rt_flags = u32::from_ne_bytes(h[8..12].try_into().ok()?);
    let alen = if v6 { 16 } else { 4 };
    let ip = |b: &[u8]| -> Option<IpAddr> {
        match b.len() {
            4 if !v6 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
            16 if v6 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
            _ => None,
        }
    };
    // RTA_VIA: a 2-byte family, then the address (only IP ones here).
    let via = |b: &[u8]| -> Option<IpAddr> {
        let fam = u16::from_ne_bytes(b.get(..2)?.try_into().ok()?);
        match (fam, b.len() - 2) {
            (2, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(&b[2..]).ok()?)),
            (10, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(&b[2..]).ok()?)),
            _ => None,
        }
    };
    // RTA_GATEWAY (5) or RTA_VIA (18): the first one is the gateway; later
    // ones are only checked. None: leave the message to the general path.
    let gateway_attr = |kind: u16, v: &[u8], gw: &mut Option<IpAddr>| -> Option<()> {
        let a = if kind == 5 { ip(v)? } else { via(v)? };
        gw.get_or_insert(a);
        Some(())
    };
    let u32_of = |b: &[u8]| -> Option<u32> { Some(u32::from_ne_bytes(b.try_into().ok()?)) };
    let mut table = u32::from(table8);
    let mut dst = None;
    let mut src = None;
    let mut metric = 0;
    let mut oif = 0;
    let mut pref_src = None;
    let mut gateway: Option<IpAddr> = None;
    let mut multipath: Option<&[u8]> = None;
    for (kind, v) in nlas(body.get(12..)?)? {
        match kind {
            1 => dst = Some(ip(v)?),
            2 if src_len > 0 => src = Some(ip(v)?),
            2 if v.len() != alen => return None,
            4 => oif = u32_of(v)?,
            5 | 18 => gateway_attr(kind, v, &mut gateway)?,
            6 => metric = u32_of(v)?,
            7 => pref_src = Some(ip(v)?),
            9 => multipath = Some(v),
            15 => table = u32_of(v)?,
            _ => {}
        }
    }
    let Some(kind) = route_kind(ty_route) else {
        return Some(None);
    };
    if rt_flags & RTM_F_CLONED != 0 || !tables.wants(table) {
        return Some(None);
    }
    let mut next_hops = Vec::new();
    if kind == RouteKind::Unicast {
        match multipath {
            Some(mut m) => {
                // rtnexthop: length (u16), flags, hops, ifindex (i32), attributes.
                while !m.is_empty() {
                    let len = usize::from(u16::from_ne_bytes(m.get(..2)?.try_into().ok()?));
                    if len < 8 || len > m.len() {
                        return None;
                    }
                    let (flags, hops, ifindex) = (m[2], m[3], u32::from_ne_bytes(m[4..8].try_into().ok()?));
                    let mut gw = None;
                    for (k, v) in nlas(&m[8..len])? {
                        if k == 5 || k == 18 {
                            gateway_attr(k, v, &mut gw)?;
                        }
                    }
                    next_hops.push(NextHop { gateway: gw, ifindex, weight: u16::from(hops) + 1, onlink: flags & RTNH_F_ONLINK != 0 });
                    m = m.get((len + 3) & !3..).unwrap_or(&[]);
                }
            }
            None => next_hops.push(NextHop { gateway, ifindex: oif, weight: 1, onlink: rt_flags & u32::from(RTNH_F_ONLINK) != 0 }),
        }
    }
    let dst = Prefix::new(dst.unwrap_or_else(|| Prefix::default_of(v6).addr), dst_len);
    let src = src.map(|a| Prefix::new(a, src_len));
    let mut r = Route { key: RouteKey { table, dst, src, tos, metric }, kind, protocol: Protocol(protocol), pref_src, next_hops };
    r.sort_next_hops();
    Some(Some(if ty == RTM_NEWROUTE {
        Update::NewRoute { route: r, append: nl_flags & NLM_F_APPEND != 0, replace: nl_flags & NLM_F_REPLACE != 0 }
    } else {
        Update::DelRoute(r)
    }))
}

/// The attributes in `b` as (type without the nested / byte-order bits,
/// value); None if one's length runs past the end or is under 4.
fn nlas(b: &[u8]) -> Option<impl Iterator<Item = (u16, &[u8])>> {
    let mut off = 0;
    while off < b.len() {
        let len = usize::from(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?));
        if len < 4 || off + len > b.len() {
            return None;
        }
        off += (len + 3) & !3;
    }
    let mut off = 0;
    Some(std::iter::from_fn(move || {
        if off >= b.len() {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([b[off], b[off + 1]]));
        let kind = u16::from_ne_bytes([b[off + 2], b[off + 3]]) & 0x3fff;
        let v = &b[off + 4..off + len];
        off += (len + 3) & !3;
        Some((kind, v))
    }))
}

fn nud(s: NeighbourState) -> NudState {
    match s {
        NeighbourState::Incomplete => NudState::Incomplete,
        NeighbourState::Reachable => NudState::Reachable,
        NeighbourState::Stale => NudState::Stale,
        NeighbourState::Delay => NudState::Delay,
        NeighbourState::Probe => NudState::Probe,
        NeighbourState::Failed => NudState::Failed,
        NeighbourState::Noarp => NudState::Noarp,
        NeighbourState::Permanent => NudState::Permanent,
        NeighbourState::None => NudState::None,
        _ => NudState::Other,
    }
}

pub fn neighbour(m: &NeighbourMessage) -> Option<Neighbour> {
    family_v6(m.header.family)?;
    if m.header.flags.contains(NeighbourFlags::Proxy) {
        return None;
    }
    let mut ip = None;
    let mut mac = None;
    for a in &m.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => ip = Some(IpAddr::V4(*v4)),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => ip = Some(IpAddr::V6(*v6)),
            NeighbourAttribute::LinkLayerAddress(b) => mac = Mac::from_slice(b),
            _ => {}
        }
    }
    Some(Neighbour {
        key: NeighbourKey { ifindex: m.header.ifindex, ip: ip? },
        mac,
        state: nud(m.header.state),
        router: m.header.flags.contains(NeighbourFlags::Router),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::route::{RouteNextHop, RouteProtocol, RouteType};
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A message as the socket hands it over.
    fn bytes_of(msg: RouteNetlinkMessage, flags: u16) -> Vec<u8> {
        let mut m = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(msg));
        m.header.flags = flags;
        m.finalize();
        let mut buf = vec![0; m.buffer_len()];
        m.serialize(&mut buf);
        buf
    }

    /// Through the bytes and back, as the socket would hand it over.
    fn wire(msg: RouteNetlinkMessage, flags: u16) -> Option<Update> {
        let buf = bytes_of(msg, flags);
        let back = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf).unwrap();
        let NetlinkPayload::InnerMessage(inner) = back.payload else { panic!("not an inner message") };
        update(inner, back.header.flags, Tables::Main)
    }

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn a_link_with_name_mac_mtu_and_state() {
        let mut m = LinkMessage::default();
        m.header.index = 7;
        m.header.flags = LinkFlags::Up | LinkFlags::LowerUp | LinkFlags::Broadcast;
        m.attributes = vec![LinkAttribute::IfName("eth7".into()), LinkAttribute::Address(vec![2, 0, 0, 0, 0, 7]), LinkAttribute::Mtu(9000)];
        let want = Link { index: 7, name: "eth7".into(), mac: Some(Mac([2, 0, 0, 0, 0, 7])), mtu: 9000, up: true, carrier: true };
        assert_eq!(wire(RouteNetlinkMessage::NewLink(m.clone()), 0), Some(Update::NewLink(want.clone())));
        m.header.flags = LinkFlags::Broadcast;
        let down = Link { up: false, carrier: false, ..want };
        assert_eq!(wire(RouteNetlinkMessage::DelLink(m.clone()), 0), Some(Update::DelLink(down)));
        m.header.interface_family = AddressFamily::Bridge;
        assert_eq!(wire(RouteNetlinkMessage::NewLink(m), 0), None, "bridge port messages are not about the link");
    }

    #[test]
    fn an_address_prefers_the_local_attribute() {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.index = 3;
        m.header.prefix_len = 30;
        m.attributes = vec![AddressAttribute::Address(IpAddr::V4(v4("192.0.2.2"))), AddressAttribute::Local(IpAddr::V4(v4("192.0.2.1")))];
        let want = Address { ifindex: 3, prefix: Prefix::new("192.0.2.1".parse().unwrap(), 30) };
        assert_eq!(wire(RouteNetlinkMessage::NewAddress(m), 0), Some(Update::NewAddress(want)));
        let mut m6 = AddressMessage::default();
        m6.header.family = AddressFamily::Inet6;
        m6.header.index = 4;
        m6.header.prefix_len = 64;
        m6.attributes = vec![AddressAttribute::Address(IpAddr::V6(v6("2001:db8::1")))];
        let got = wire(RouteNetlinkMessage::DelAddress(m6), 0);
        assert_eq!(got, Some(Update::DelAddress(Address { ifindex: 4, prefix: Prefix::new("2001:db8::1".parse().unwrap(), 64) })));
    }

    fn route_msg(v6: bool, table: u8, kind: RouteType) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = if v6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
        m.header.table = table;
        m.header.kind = kind;
        m.header.protocol = RouteProtocol::Static;
        m
    }

    #[test]
    fn a_multipath_route_keeps_weights_and_gateways() {
        let mut m = route_msg(false, 254, RouteType::Unicast);
        m.header.destination_prefix_length = 16;
        let mut a = RouteNextHop::default();
        a.interface_index = 2;
        a.hops = 0;
        a.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(v4("10.1.0.2")))];
        let mut b = RouteNextHop::default();
        b.interface_index = 3;
        b.hops = 2;
        b.flags = RouteNextHopFlags::Onlink;
        b.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(v4("10.2.0.2")))];
        m.attributes = vec![
            RouteAttribute::Table(254),
            RouteAttribute::Destination(RouteAddress::Inet(v4("10.9.0.0"))),
            RouteAttribute::Priority(20),
            RouteAttribute::MultiPath(vec![a, b]),
        ];
        let Some(Update::NewRoute { route, append, replace }) = wire(RouteNetlinkMessage::NewRoute(m), NLM_F_APPEND) else { panic!() };
        assert!(append && !replace);
        assert_eq!(route.key.dst.to_string(), "10.9.0.0/16");
        assert_eq!(route.key.metric, 20);
        assert_eq!(route.protocol.to_string(), "static");
        assert_eq!(
            route.next_hops,
            vec![
                NextHop { gateway: Some("10.1.0.2".parse().unwrap()), ifindex: 2, weight: 1, onlink: false },
                NextHop { gateway: Some("10.2.0.2".parse().unwrap()), ifindex: 3, weight: 3, onlink: true },
            ]
        );
    }

    #[test]
    fn routes_outside_the_table_or_of_local_kinds_are_left_out() {
        let mut m = route_msg(true, 254, RouteType::Unicast);
        m.attributes = vec![RouteAttribute::Oif(5), RouteAttribute::Gateway(RouteAddress::Inet6(v6("fe80::1")))];
        let Some(Update::NewRoute { route, .. }) = wire(RouteNetlinkMessage::NewRoute(m.clone()), 0) else { panic!() };
        assert_eq!(route.key.dst.to_string(), "::/0", "no destination attribute: the default route");
        assert_eq!(route.next_hops[0].ifindex, 5);
        let local = route_msg(false, 255, RouteType::Local);
        assert_eq!(wire(RouteNetlinkMessage::NewRoute(local), 0), None);
        let other = route_msg(false, 100, RouteType::Unicast);
        assert_eq!(wire(RouteNetlinkMessage::NewRoute(other.clone()), 0), None);
        let RouteNetlinkMessage::NewRoute(o) = RouteNetlinkMessage::NewRoute(other) else { unreachable!() };
        assert!(super::route(&o, Tables::All).is_some() && super::route(&o, Tables::Id(100)).is_some());
        let mut cloned = route_msg(true, 254, RouteType::Unicast);
        cloned.header.flags = RouteFlags::Cloned;
        assert_eq!(wire(RouteNetlinkMessage::NewRoute(cloned), 0), None);
        let mut bh = route_msg(true, 254, RouteType::BlackHole);
        bh.attributes = vec![RouteAttribute::Oif(1)];
        let Some(Update::NewRoute { route, .. }) = wire(RouteNetlinkMessage::NewRoute(bh), NLM_F_REPLACE) else { panic!() };
        assert_eq!((route.kind, route.next_hops.len()), (RouteKind::Blackhole, 0));
    }

    #[test]
    fn neighbours_with_mac_and_state_but_no_proxies() {
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.ifindex = 2;
        m.header.state = NeighbourState::Reachable;
        m.attributes = vec![
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4("10.1.0.2"))),
            NeighbourAttribute::LinkLayerAddress(vec![2, 0, 0, 0, 1, 2]),
        ];
        let want = Neighbour {
            key: NeighbourKey { ifindex: 2, ip: "10.1.0.2".parse().unwrap() },
            mac: Some(Mac([2, 0, 0, 0, 1, 2])),
            state: NudState::Reachable,
            router: false,
        };
        assert_eq!(wire(RouteNetlinkMessage::NewNeighbour(m.clone()), 0), Some(Update::NewNeighbour(want.clone())));
        assert_eq!(wire(RouteNetlinkMessage::DelNeighbour(m.clone()), 0), Some(Update::DelNeighbour(want.key)));
        m.header.state = NeighbourState::Noarp;
        assert_eq!(wire(RouteNetlinkMessage::NewNeighbour(m.clone()), 0), Some(Update::DelNeighbour(want.key)), "NOARP entries are not mirrored");
        m.header.state = NeighbourState::Reachable;
        m.header.flags = NeighbourFlags::Proxy;
        assert_eq!(wire(RouteNetlinkMessage::NewNeighbour(m.clone()), 0), None);
        m.header.flags = NeighbourFlags::empty();
        m.header.family = AddressFamily::Bridge;
        assert_eq!(wire(RouteNetlinkMessage::NewNeighbour(m), 0), None, "bridge FDB entries are not neighbours");
    }

    /// A route message of any shape the kernel sends (and some it does
    /// not): kinds, tables, flags, attributes in any order, multipath next
    /// hops through RTA_GATEWAY or RTA_VIA.
    fn any_route_msg() -> impl Strategy<Value = (RouteNetlinkMessage, u16)> {
        let addr = |v6: bool| -> BoxedStrategy<IpAddr> {
            if v6 {
                any::<[u8; 16]>().prop_map(IpAddr::from).boxed()
            } else {
                any::<[u8; 4]>().prop_map(IpAddr::from).boxed()
            }
        };
        let ra = |ip: IpAddr| match ip {
            IpAddr::V4(a) => RouteAddress::Inet(a),
            IpAddr::V6(a) => RouteAddress::Inet6(a),
        };
        let via = |ip: IpAddr| match ip {
            IpAddr::V4(a) => RouteVia::Inet(a),
            IpAddr::V6(a) => RouteVia::Inet6(a),
        };
        any::<bool>().prop_flat_map(move |v6| {
            let gw = (any::<bool>(), addr(v6), addr(!v6)).prop_map(move |(plain, a, b)| {
                if plain {
                    RouteAttribute::Gateway(ra(a))
                } else {
                    RouteAttribute::Via(via(b))
                }
            });
            let hop = (prop::option::of(gw.clone()), any::<u8>(), any::<bool>(), 0u32..6).prop_map(|(g, hops, onlink, ifindex)| {
                let mut n = RouteNextHop::default();
                n.hops = hops;
                n.interface_index = ifindex;
                if onlink {
                    n.flags = RouteNextHopFlags::Onlink;
                }
                n.attributes = g.into_iter().collect();
                n
            });
            let attr = prop_oneof![
                addr(v6).prop_map(move |a| RouteAttribute::Destination(ra(a))),
                addr(v6).prop_map(move |a| RouteAttribute::Source(ra(a))),
                addr(v6).prop_map(move |a| RouteAttribute::PrefSource(ra(a))),
                any::<u32>().prop_map(RouteAttribute::Priority),
                (0u32..6).prop_map(RouteAttribute::Oif),
                prop::sample::select(vec![254u32, 100, 1000]).prop_map(RouteAttribute::Table),
                gw,
                prop::collection::vec(hop, 0..4).prop_map(RouteAttribute::MultiPath),
                any::<u32>().prop_map(RouteAttribute::Mark),
            ];
            let kinds = vec![RouteType::Unicast, RouteType::BlackHole, RouteType::Unreachable, RouteType::Prohibit, RouteType::Throw, RouteType::Local, RouteType::Broadcast];
            (
                prop::collection::vec(attr, 0..7),
                prop::sample::select(kinds),
                prop::sample::select(vec![254u8, 255, 100, 252]),
                any::<(u8, u8, u8, u8, bool, bool, bool, u8)>(),
            )
                .prop_map(move |(attributes, kind, table, (dst_len, src_len, tos, protocol, cloned, onlink, del, nl))| {
                    let mut m = route_msg(v6, table, kind);
                    m.header.destination_prefix_length = dst_len % if v6 { 129 } else { 33 };
                    m.header.source_prefix_length = if v6 { src_len % 129 } else { 0 };
                    m.header.tos = tos;
                    m.header.protocol = RouteProtocol::from(protocol);
                    if cloned {
                        m.header.flags |= RouteFlags::Cloned;
                    }
                    if onlink {
                        m.header.flags |= RouteFlags::Onlink;
                    }
                    m.attributes = attributes;
                    let msg = if del { RouteNetlinkMessage::DelRoute(m) } else { RouteNetlinkMessage::NewRoute(m) };
                    let flags = [0, NLM_F_APPEND, NLM_F_REPLACE, NLM_F_APPEND | NLM_F_REPLACE][usize::from(nl % 4)];
                    (msg, flags)
                })
        })
    }

    /// What the general path makes of the bytes (None: undecodable).
    fn general(bytes: &[u8], tables: Tables) -> Option<Option<Update>> {
        let back = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes).ok()?;
        let NetlinkPayload::InnerMessage(inner) = back.payload else { return Some(None) };
        Some(update(inner, back.header.flags, tables))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The in-place reader takes every well-formed route message the
        /// general path takes, and makes the same update of it.
        #[test]
        fn route_bytes_read_in_place_as_the_general_path_reads_them((msg, flags) in any_route_msg()) {
            let b = bytes_of(msg, flags);
            for tables in [Tables::Main, Tables::All, Tables::Id(100)] {
                let fast = route_update(&b, tables);
                prop_assert!(fast.is_some(), "the in-place reader left a well-formed message to the general path");
                prop_assert_eq!(fast, general(&b, tables));
            }
        }

        /// Damaged bytes: the in-place reader never panics, and where both
        /// paths read the message they agree.
        #[test]
        fn damaged_route_bytes_never_disagree((msg, flags) in any_route_msg(), hits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
            let mut b = bytes_of(msg, flags);
            for (i, v) in hits {
                let at = 16 + i.index(b.len() - 16);
                b[at] = v;
            }
            if let (Some(fast), Some(slow)) = (route_update(&b, Tables::All), general(&b, Tables::All)) {
                prop_assert_eq!(fast, slow);
            }
        }
    }

    #[test]
    fn table_names() {
        assert_eq!(Tables::parse("main"), Ok(Tables::Main));
        assert_eq!(Tables::parse("all"), Ok(Tables::All));
        assert_eq!(Tables::parse("100"), Ok(Tables::Id(100)));
        assert!(Tables::parse("0").is_err() && Tables::parse("x").is_err());
        assert_eq!(Protocol(186).to_string(), "bgp");
        assert_eq!(Protocol(77).to_string(), "77");
    }
}
