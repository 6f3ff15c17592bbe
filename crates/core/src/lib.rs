//! newipd-core: everything newipd decides about a packet that needs no DPDK.
//! No `unsafe` (the compiler refuses it here) and no C: fuzzing, property
//! tests and microbenchmarks use this crate alone.
//!
//! From the bottom up (a module imports only those above it in this list):
//! * [`kinds`]: drop reasons, events, limits (depends on nothing);
//! * [`wire`]: Ethernet, IPv4, IPv6 and New IP formats, builders, checksums;
//! * [`class`]: traffic classes of legacy traffic;
//! * [`fib`]: route tables and next hops;
//! * [`sched`]: contract budgets, the deadline queue, the shaper, the damper, wash;
//! * [`stats`]: per-lcore counters, latency histograms, per-stage cycles;
//! * [`path`]: the per-packet decisions: the ingress verdict and the
//!   transmit-time rewrite.

#![forbid(unsafe_code)]

pub mod class;
pub mod fib;
pub mod kinds;
pub mod path;
pub mod sched;
pub mod stats;
pub mod wire;
