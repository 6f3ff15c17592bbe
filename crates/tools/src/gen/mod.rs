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
//! * [`stamp`]: the live payload stamp (stream, class, contract window).
//! * [`plan`]: the live generator's prebuilt templates.
//! * [`pace`]: the live generator's token bucket.
//! * [`measure`]: what `newipd sink` measures (pure).
//! * `live`, `sink`: the DPDK loops of `newipd gen --live` and `newipd sink`.
//! * [`cli`]: `newipd gen`.
//!
//! The user documentation is `docs/traffic.md`.

pub mod cli;
#[cfg(feature = "dpdk")]
pub mod live;
pub mod measure;
pub mod mix;
pub mod mixfile;
pub mod newip_mix;
pub mod pace;
pub mod pcap;
pub mod plan;
#[cfg(feature = "dpdk")]
pub mod sink;
pub mod stamp;
pub mod traffic;

pub use mix::{Generated, Kind, Malformation, Mix};
pub use newip_mix::NewIpMalformation;
pub use traffic::{Bad, ChunkSpec, FlowKind, FlowSpec, Rate, Traffic};
