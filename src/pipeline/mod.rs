//! The forwarding pipeline.
//!
//! * [`router`]: the per-packet parse -> classify -> rewrite stage, pure Rust over
//!   `&mut [u8]` (benchmarked and tested without DPDK).
//! * [`plan`]: which lcore polls which RX queue and owns which egress port.
//! * [`worker`]: what every packet lcore shares (ports, limits, clock, knobs).
//! * [`rx`]: ingress (rx_burst, route, hand to a sink) and the pipelined RX lcore.
//! * [`egress`]: deadline queues and TX buffers of the ports an lcore owns.
//! * [`rtc`]: run to completion on one lcore (ingress straight into egress).
//! * [`handoff`]: ring entries between lcores.
//! * [`privmeta`]: contract metadata kept in the mbuf private area (rings, deadline queues).
//! * [`tx`]: the pipelined egress lcore (rings into egress).
//! * [`run`]: EAL, pools and ports from a pipeline file; launch, stop, report.
//! * [`observe`]: statistics while running (live view, JSON, Prometheus, telemetry).

#[cfg(feature = "dpdk")]
pub mod observe;
pub mod plan;
pub mod router;

#[cfg(feature = "dpdk")]
pub mod egress;
#[cfg(feature = "dpdk")]
pub mod handoff;
#[cfg(feature = "dpdk")]
pub mod privmeta;
#[cfg(feature = "dpdk")]
pub mod rtc;
#[cfg(feature = "dpdk")]
pub mod run;
#[cfg(feature = "dpdk")]
pub mod rx;
#[cfg(feature = "dpdk")]
pub mod tx;
#[cfg(feature = "dpdk")]
pub mod worker;
