//! Route tables: destination address -> next hop (egress port and MACs),
//! changed in place while lcores look them up.
//!
//! * [`nexthop`]: what a route points at ([`NextHop`]).
//! * [`nhtable`]: the next-hop table, updated in place by neighbour events.
//! * [`prefix`]: route prefixes of every address type ([`Prefix`]).
//! * [`trie`]: the in-place multibit trie the longest-prefix tables share
//!   (atomic entries, a group pool, reclamation after a grace period).
//! * [`lpm4`]: IPv4 longest prefix match, DIR-24-8 (one or two memory reads).
//! * [`lpm6`]: IPv6 longest prefix match, 16-bit then 8-bit levels.
//! * [`flex`]: New IP flexible-length addresses by longest bit prefix.
//! * [`exact`]: New IP 8- and 16-bit addresses, direct arrays.
//! * [`table`]: the hybrid FIB, one table per destination address type.
//! * [`error`]: why an update was refused.
//!
//! docs/fib.md describes the design as a whole.

pub mod error;
pub mod exact;
pub mod flex;
pub mod lpm4;
pub mod lpm6;
pub mod nexthop;
pub mod nhtable;
pub mod prefix;
pub mod table;
pub mod trie;

#[cfg(test)]
mod tests;

pub use error::FibError;
pub use nexthop::{NextHop, NhIndex, MAX_NH};
pub use nhtable::{Link, Member, NextHopTable, NhKey, NhState};
pub use prefix::{mask128, mask32, parse_hex, Prefix, PrefixError};
pub use table::{Fib, FibConfig};
