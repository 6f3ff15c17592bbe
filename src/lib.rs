//! newipd: a deadline-aware data plane for New IP, IPv4 and IPv6 on DPDK.
//!
//! The pure modules ([`packet`], [`classify`], [`stats`], [`gen`], [`config`]
//! and the per-packet stages in [`pipeline`]) build and test without DPDK; only
//! [`dpdk`] (the sole home of `unsafe`) and the lcore loop touch it.

pub mod classify;
pub mod config;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod gen;
pub mod packet;
pub mod pipeline;
pub mod sched;
pub mod stats;

/// Largest burst newipd moves at once (rx, tx, rings).
pub const MAX_BURST: usize = 64;
