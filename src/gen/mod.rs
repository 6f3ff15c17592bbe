//! Traffic generation: reproducible (seeded) packet mixes written as pcap
//! files, for tests, the demo, benchmarks and pktgen (`pktgen -s P:file.pcap`).
//!
//! * [`mix`]: the command-line kinds ([`Kind`], [`Mix`]) and the legacy
//!   malformations ([`Malformation`]).
//! * [`traffic`]: weighted flows of every kind ([`Traffic`], [`FlowSpec`]),
//!   the payload stamp (sequence number + timestamp).
//! * [`newip_mix`]: the New IP kinds' flows and the New IP / Hop-by-Hop
//!   malformations ([`NewIpMalformation`]).
//! * [`mixfile`]: traffic mix TOML files ([`mixfile::load`]).
//! * [`pcap`]: reading and writing pcap files.
//! * [`cli`]: `newipd gen`.
//!
//! The user documentation is `docs/traffic.md`.

pub mod cli;
pub mod mix;
pub mod mixfile;
pub mod newip_mix;
pub mod pcap;
pub mod traffic;

pub use mix::{Generated, Kind, Malformation, Mix};
pub use newip_mix::NewIpMalformation;
pub use traffic::{Bad, ChunkSpec, FlowKind, FlowSpec, Rate, Traffic};
