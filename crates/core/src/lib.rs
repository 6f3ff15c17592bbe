//! newipd-core: everything newipd decides about a packet that needs no DPDK.
//! No `unsafe` (the compiler refuses it here) and no C: fuzzing, property
//! tests and microbenchmarks use this crate alone.
//!
//! From the bottom up (a module imports only those above it in this list):
//! * [`kinds`]: drop reasons, events, limits (depends on nothing);
//! * [`bytes`]: big-endian field access over byte slices;
//! * [`rcu`]: quiescent-state-based reclamation (grace periods for memory
//!   the lcores may still read);
//! * [`contract`]: one module per New IP contract (and the IPv6 latency
//!   option): its fields, arrival and transmit rules, reported delay and
//!   per-packet metadata;
//! * [`wire`]: Ethernet, IPv4, IPv6 and New IP formats, builders, checksums;
//! * [`class`]: traffic classes of legacy traffic;
//! * [`fib`]: route tables and next hops;
//! * [`sched`]: the deadline queue, the hold queue, the shaper, wash;
//! * [`stats`]: per-lcore counters, latency histograms, per-stage cycles;
//! * [`path`]: the per-packet decisions: the ingress verdict and the
//!   transmit-time rewrite.

#![forbid(unsafe_code)]

pub mod bytes;
pub mod class;
pub mod contract;
pub mod fib;
pub mod kinds;
pub mod path;
pub mod rcu;
pub mod sched;
pub mod stats;
pub mod wire;
