//! The mirrored kernel state: links, addresses, routes and neighbours, each
//! keyed the way the kernel tells them apart, and the [`Model`] that holds
//! one map per [`Kind`] (the unit a dump, and so a resync, covers).
//!
//! Pure data: no socket, no netlink types (parse.rs converts those).

use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// An Ethernet MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Six bytes as a MAC; any other length (tunnels, loopback of another
    /// type, InfiniBand) is not one.
    pub fn from_slice(b: &[u8]) -> Option<Mac> {
        <[u8; 6]>::try_from(b).ok().map(Mac)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An IPv4 or IPv6 prefix as the kernel gives it (address and length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    pub fn new(addr: IpAddr, len: u8) -> Prefix {
        Prefix { addr, len }
    }

    /// The default route of a family (`0.0.0.0/0` or `::/0`).
    pub fn default_of(v6: bool) -> Prefix {
        let addr = if v6 { IpAddr::from([0u16; 8]) } else { IpAddr::from([0u8; 4]) };
        Prefix { addr, len: 0 }
    }

    pub fn is_v6(&self) -> bool {
        self.addr.is_ipv6()
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl Serialize for Prefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A network interface (RTM_NEWLINK), with what forwarding needs of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// None for interfaces whose hardware address is not a 6-byte MAC.
    pub mac: Option<Mac>,
    pub mtu: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Carrier present (IFF_LOWER_UP).
    pub carrier: bool,
}

/// An address configured on an interface (RTM_NEWADDR): one of the host's
/// own, so one of newipd's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Address {
    pub ifindex: u32,
    /// The local address (IFA_LOCAL, or IFA_ADDRESS where there is no local)
    /// with the prefix length of the subnet it is in.
    pub prefix: Prefix,
}

/// The key that tells two addresses apart: the whole address.
pub type AddressKey = Address;

/// What a route does with a packet it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// Forward to the next hops.
    Unicast,
    /// Drop silently.
    Blackhole,
    /// Drop, answer host unreachable.
    Unreachable,
    /// Drop, answer administratively prohibited.
    Prohibit,
    /// Continue the lookup in the next table (policy routing).
    Throw,
}

impl RouteKind {
    pub fn name(self) -> &'static str {
        match self {
            RouteKind::Unicast => "unicast",
            RouteKind::Blackhole => "blackhole",
            RouteKind::Unreachable => "unreachable",
            RouteKind::Prohibit => "prohibit",
            RouteKind::Throw => "throw",
        }
    }
}

/// One next hop of a route: a gateway (absent on a directly connected
/// prefix) reached through an interface, with its multipath weight.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NextHop {
    pub gateway: Option<IpAddr>,
    /// 0 where the kernel gives no interface (never for a unicast route).
    pub ifindex: u32,
    /// 1..=256: the share of flows this next hop takes among the route's.
    pub weight: u16,
    /// The gateway is on the link even outside its subnets (`onlink`).
    pub onlink: bool,
}

/// What tells two routes apart in the kernel: the table, the destination
/// (and IPv6's source) prefix, the TOS (IPv4) and the metric. Two routes with
/// the same destination and different metrics both exist; the lower metric wins.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RouteKey {
    pub table: u32,
    pub dst: Prefix,
    /// IPv6 source-specific routing; None everywhere else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<Prefix>,
    pub tos: u8,
    /// The kernel's priority (RTA_PRIORITY), shown as `metric` by `ip route`.
    pub metric: u32,
}

/// Who installed a route (RTM_PROTOCOL): a byte, named as iproute2 names
/// it (/etc/iproute2/rt_protos) when shown, the number otherwise. A byte,
/// not a name: a full table keeps one per route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Protocol(pub u8);

impl Protocol {
    pub const STATIC: Protocol = Protocol(4);

    /// iproute2's name, None for a number it has no name for.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "unspec",
            1 => "redirect",
            2 => "kernel",
            3 => "boot",
            4 => "static",
            8 => "gated",
            9 => "ra",
            10 => "mrt",
            11 => "zebra",
            12 => "bird",
            13 => "dnrouted",
            14 => "xorp",
            15 => "ntk",
            16 => "dhcp",
            17 => "mrouted",
            18 => "keepalived",
            42 => "babel",
            99 => "openr",
            186 => "bgp",
            187 => "isis",
            188 => "ospf",
            189 => "rip",
            192 => "eigrp",
            _ => return None,
        })
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A route of the mirrored table(s).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    #[serde(flatten)]
    pub key: RouteKey,
    pub kind: RouteKind,
    /// Who installed it: kernel, boot, static, bgp, ospf, zebra, ... or a number.
    pub protocol: Protocol,
    /// The preferred source address for packets the host sends on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pref_src: Option<IpAddr>,
    /// One next hop, several for a multipath route, none for blackhole,
    /// unreachable, prohibit and throw; sorted by interface, then gateway.
    /// IPv6 routes of the same key through several interfaces without a
    /// gateway (`fe80::/64` on each link) are separate routes in the kernel
    /// and next hops of one route here: alternatives of equal cost either way.
    pub next_hops: Vec<NextHop>,
}

impl Route {
    pub fn is_v6(&self) -> bool {
        self.key.dst.is_v6()
    }

    /// Next hops in a canonical order (interface, then gateway): the kernel's
    /// order says nothing for forwarding, and a dump may list them in another
    /// order than the notifications built them.
    pub fn sort_next_hops(&mut self) {
        self.next_hops.sort_by_key(|h| (h.ifindex, h.gateway));
    }

    /// Every interface the route leaves by (empty for blackhole and the like).
    pub fn ifindexes(&self) -> impl Iterator<Item = u32> + '_ {
        self.next_hops.iter().map(|n| n.ifindex).filter(|&i| i != 0)
    }
}

/// The neighbour unreachability detection state of a neighbour entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NudState {
    Incomplete,
    Reachable,
    Stale,
    Delay,
    Probe,
    Failed,
    Noarp,
    Permanent,
    None,
    Other,
}

impl NudState {
    /// The MAC of an entry in this state may be used to send (as the kernel
    /// does: stale, delay and probe entries are used while being re-checked).
    pub fn usable(self) -> bool {
        matches!(self, NudState::Reachable | NudState::Stale | NudState::Delay | NudState::Probe | NudState::Permanent | NudState::Noarp)
    }

    pub fn name(self) -> &'static str {
        match self {
            NudState::Incomplete => "incomplete",
            NudState::Reachable => "reachable",
            NudState::Stale => "stale",
            NudState::Delay => "delay",
            NudState::Probe => "probe",
            NudState::Failed => "failed",
            NudState::Noarp => "noarp",
            NudState::Permanent => "permanent",
            NudState::None => "none",
            NudState::Other => "other",
        }
    }
}

/// The key of a neighbour entry: interface and IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NeighbourKey {
    pub ifindex: u32,
    pub ip: IpAddr,
}

/// A neighbour entry (ARP or NDP): the MAC of a next hop on a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    #[serde(flatten)]
    pub key: NeighbourKey,
    /// None while unresolved (incomplete, failed).
    pub mac: Option<Mac>,
    pub state: NudState,
    /// The neighbour said it is a router (IPv6 NDP).
    pub router: bool,
}

/// The unit of a dump: each kind is dumped by one request and replaced as a
/// whole by a resync. IPv4 and IPv6 routes and neighbours are separate
/// kinds, so a resync can cover one family only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Links,
    Addresses,
    Routes4,
    Routes6,
    Neighbours4,
    Neighbours6,
}

impl Kind {
    /// In dump order: links first, so the interface filter is known before
    /// what refers to interfaces is read.
    pub const ALL: [Kind; 6] = [Kind::Links, Kind::Addresses, Kind::Routes4, Kind::Routes6, Kind::Neighbours4, Kind::Neighbours6];

    /// Everything that refers to an interface (all but the links).
    pub const ON_LINKS: [Kind; 5] = [Kind::Addresses, Kind::Routes4, Kind::Routes6, Kind::Neighbours4, Kind::Neighbours6];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Links => "links",
            Kind::Addresses => "addresses",
            Kind::Routes4 => "ipv4 routes",
            Kind::Routes6 => "ipv6 routes",
            Kind::Neighbours4 => "ipv4 neighbours",
            Kind::Neighbours6 => "ipv6 neighbours",
        }
    }

    pub fn route_kind(v6: bool) -> Kind {
        if v6 {
            Kind::Routes6
        } else {
            Kind::Routes4
        }
    }

    pub fn neighbour_kind(v6: bool) -> Kind {
        if v6 {
            Kind::Neighbours6
        } else {
            Kind::Neighbours4
        }
    }
}

/// The mirrored state: one map per kind, each keyed as the kernel keys it.
/// Its size is the kernel's (filtered) state: nothing else accumulates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    pub links: BTreeMap<u32, Link>,
    pub addresses: BTreeMap<AddressKey, Address>,
    pub routes4: BTreeMap<RouteKey, Route>,
    pub routes6: BTreeMap<RouteKey, Route>,
    pub neighbours4: BTreeMap<NeighbourKey, Neighbour>,
    pub neighbours6: BTreeMap<NeighbourKey, Neighbour>,
}

impl Model {
    pub fn routes(&self, v6: bool) -> &BTreeMap<RouteKey, Route> {
        if v6 {
            &self.routes6
        } else {
            &self.routes4
        }
    }

    pub fn routes_mut(&mut self, v6: bool) -> &mut BTreeMap<RouteKey, Route> {
        if v6 {
            &mut self.routes6
        } else {
            &mut self.routes4
        }
    }

    pub fn neighbours(&self, v6: bool) -> &BTreeMap<NeighbourKey, Neighbour> {
        if v6 {
            &self.neighbours6
        } else {
            &self.neighbours4
        }
    }

    pub fn neighbours_mut(&mut self, v6: bool) -> &mut BTreeMap<NeighbourKey, Neighbour> {
        if v6 {
            &mut self.neighbours6
        } else {
            &mut self.neighbours4
        }
    }

    /// Every route, IPv4 first.
    pub fn all_routes(&self) -> impl Iterator<Item = &Route> {
        self.routes4.values().chain(self.routes6.values())
    }

    /// Every neighbour, IPv4 first.
    pub fn all_neighbours(&self) -> impl Iterator<Item = &Neighbour> {
        self.neighbours4.values().chain(self.neighbours6.values())
    }

    /// Objects held, all kinds together.
    pub fn len(&self) -> usize {
        self.links.len() + self.addresses.len() + self.routes4.len() + self.routes6.len() + self.neighbours4.len() + self.neighbours6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The interface name of an index, for display ("?" if unknown).
    pub fn link_name(&self, ifindex: u32) -> &str {
        self.links.get(&ifindex).map_or("?", |l| l.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        assert_eq!(Mac([2, 0, 0, 0, 0xab, 1]).to_string(), "02:00:00:00:ab:01");
        assert_eq!(Mac::from_slice(&[1, 2, 3]), None);
        assert_eq!(Prefix::new("10.0.0.0".parse().unwrap(), 8).to_string(), "10.0.0.0/8");
        assert_eq!(Prefix::default_of(true).to_string(), "::/0");
        assert_eq!(serde_json::to_string(&Prefix::default_of(false)).unwrap(), "\"0.0.0.0/0\"");
    }

    #[test]
    fn kinds_dump_links_first() {
        assert_eq!(Kind::ALL[0], Kind::Links);
        assert!(!Kind::ON_LINKS.contains(&Kind::Links));
        assert_eq!(Kind::ON_LINKS.len() + 1, Kind::ALL.len());
    }
}
