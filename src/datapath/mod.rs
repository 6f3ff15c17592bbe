//! The data path on DPDK: the lcore loops and what moves mbufs between
//! them. The per-packet decisions themselves are pure and live in
//! [`newipd_core::path`].
//!
//! * [`plan`]: which lcore polls which RX queue and owns which egress port.
//! * [`worker`]: what every packet lcore shares (ports, limits, clock, knobs).
//! * [`ingress`]: ingress (rx_burst, route, hand to a sink) and the pipelined RX lcore.
//! * [`egress`]: deadline queues and TX buffers of the ports an lcore owns.
//! * [`rtc`]: run to completion on one lcore (ingress straight into egress).
//! * [`handoff`]: ring entries between lcores.
//! * [`privmeta`]: contract metadata kept in the mbuf private area (rings, deadline queues).
//! * [`tx`]: the pipelined egress lcore (rings into egress).

pub mod egress;
pub mod handoff;
pub mod ingress;
pub mod plan;
pub mod privmeta;
pub mod rtc;
pub mod tx;
pub mod worker;
