//! The per-packet decisions, from arrival to transmit, over plain bytes (no
//! DPDK: the daemon's lcore loops call them on mbuf data).
//!
//! * [`meta`]: what travels with a packet from ingress to transmit
//!   ([`TxMeta`](meta::TxMeta), [`Verdict`](meta::Verdict), [`PacketCtx`](meta::PacketCtx)).
//! * [`arrive`]: each contract's arrival rule applied to the metadata.
//! * [`flow`]: flow hashes, for ECMP routes.
//! * [`scope`]: what is never routed (ARP, ND, MLD, link-local, multicast), named.
//! * [`templates`]: the fixed-shape New IP packets hosts send most.
//! * [`ingress`]: the [`Router`](ingress::Router): parse, classify, route, verdict.
//! * [`icmp`]: the ICMP errors a dropped packet is owed, and their rate limit.
//! * [`transmit`]: the transmit-time rewrite and the delay a packet reports.
//! * `harness` (tests and the `fuzzing` feature): the differential check
//!   behind fuzzing and the property tests.

pub mod arrive;
pub mod flow;
#[cfg(any(test, feature = "fuzzing"))]
pub mod harness;
pub mod icmp;
pub mod ingress;
pub mod meta;
pub mod scope;
pub mod templates;
#[cfg(test)]
pub(crate) mod testkit;
pub mod transmit;

pub use ingress::Router;
pub use meta::{PacketCtx, TxMeta, Verdict};
pub use transmit::{experienced_ns, on_transmit, on_transmit_reporting, NO_E2E};
