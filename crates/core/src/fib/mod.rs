//! Route tables: destination address -> next hop (egress port and MACs).
//!
//! * [`nexthop`]: what a route points at ([`NextHop`]).
//! * [`prefix`]: route prefixes of every address type ([`Prefix`]).
//! * [`lpm4`]: IPv4 longest prefix match, DIR-24-8 (one or two memory reads).
//! * [`lpm6`]: IPv6 longest prefix match, one hash table per prefix length in use.
//! * [`flex`]: New IP flexible-length addresses by longest bit prefix.
//! * [`table`]: the hybrid FIB, one table per destination address type.

pub mod flex;
pub mod lpm4;
pub mod lpm6;
pub mod nexthop;
pub mod prefix;
pub mod table;

pub use nexthop::{NextHop, NhIndex};
pub use prefix::{mask128, mask32, parse_hex, Prefix, PrefixError};
