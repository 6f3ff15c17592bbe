//! The data path on DPDK: the lcore loops and what moves mbufs between
//! them. The per-packet decisions themselves are pure and live in
//! [`newipd_core::path`].
//!
//! One job a file, top to bottom; a file imports only files below it.
//!
//! The lcore loops:
//! * [`rtc`]: run to completion on one lcore (ingress straight into egress).
//! * [`rx`]: the pipelined RX lcore (ingress into the rings).
//! * [`tx`]: the pipelined egress lcore (rings into egress).
//!
//! What they move packets with:
//! * [`ingress`]: rx_burst, parse/classify/verdict, hand to a sink (broadcast copies).
//! * [`egress`]: deadline queues and TX buffers of the ports an lcore owns, transmit.
//! * [`handoff`]: ring entries between lcores, the RX side's ring sink, the TX side's ring source.
//! * [`punt`]: the exception path (to the host interfaces, policed per port).
//!
//! Below them:
//! * [`sink`]: the `Sink` trait, where ingress hands routed packets.
//! * [`link`]: each port's link state, as the link watcher last saw it.
//! * [`privmeta`]: contract metadata kept in the mbuf private area (rings, deadline queues).
//! * [`worker`]: what every packet lcore shares (ports, limits, clock, knobs, loop meter, outcome).
//! * [`plan`]: which lcore polls which RX queue and owns which egress port.

pub mod egress;
pub mod handoff;
pub mod ingress;
pub mod link;
pub mod plan;
pub mod privmeta;
pub mod punt;
pub mod rtc;
pub mod rx;
pub mod sink;
pub mod tx;
pub mod worker;
