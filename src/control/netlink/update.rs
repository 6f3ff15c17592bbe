//! One kernel message, read into the model's terms: what parse.rs makes of
//! an rtnetlink message and what the engine applies.

use super::model::{Address, Kind, Link, Neighbour, NeighbourKey, Route};

/// A notification or dump entry, already stripped of what the mirror never
/// follows (other families, local and broadcast routes, cache entries, proxy
/// neighbours). The interface filter is applied later, by the engine, which
/// knows the interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Update {
    NewLink(Link),
    DelLink(Link),
    NewAddress(Address),
    DelAddress(Address),
    /// `append` and `replace` are the notification's NLM_F_APPEND and
    /// NLM_F_REPLACE: they say how an IPv6 multipath route grew or whether an
    /// IPv4 route with the same key went before or after the existing one.
    NewRoute { route: Route, append: bool, replace: bool },
    DelRoute(Route),
    NewNeighbour(Neighbour),
    DelNeighbour(NeighbourKey),
}

impl Update {
    /// The kind (and so the dump) this update belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            Update::NewLink(_) | Update::DelLink(_) => Kind::Links,
            Update::NewAddress(_) | Update::DelAddress(_) => Kind::Addresses,
            Update::NewRoute { route, .. } | Update::DelRoute(route) => Kind::route_kind(route.is_v6()),
            Update::NewNeighbour(n) => Kind::neighbour_kind(n.key.ip.is_ipv6()),
            Update::DelNeighbour(k) => Kind::neighbour_kind(k.ip.is_ipv6()),
        }
    }
}
