//! Internet-sized route sets for measuring route tables and routers:
//! seeded, shaped like a full IPv4 and IPv6 table, with traffic to all of
//! them (`newipd gen-routes`; docs/fib.md, "Internet-scale route sets").
//!
//! * [`set`]: the route sets ([`generate`], lengths, placement, next hops)
//!   and destinations spread over them ([`spread4`], [`spread6`]).
//! * [`output`]: route lists, `ip -batch` files, traffic frames.
//! * [`cli`]: `newipd gen-routes`.
//!
//! Files import downward only: cli -> output -> set. This file only
//! declares and re-exports.

pub mod cli;
pub mod output;
pub mod set;

pub use set::{generate, spread4, spread6, Route4, Route6, RouteSet, Spec};
