//! The forwarding pipeline.
//!
//! * [`router`]: the per-packet parse -> classify -> rewrite stage, pure Rust over
//!   `&mut [u8]` (benchmarked and tested without DPDK).
//! * [`worker`]: the poll-mode loop of one lcore over DPDK bursts.
//! * [`run`]: EAL, pools and ports from a pipeline file; launch, stop, report.
//! * [`observe`]: statistics while running (live view, JSON, Prometheus, telemetry).

#[cfg(feature = "dpdk")]
pub mod observe;
pub mod router;
#[cfg(feature = "dpdk")]
pub mod run;
#[cfg(feature = "dpdk")]
pub mod worker;
