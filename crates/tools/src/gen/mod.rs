//! Traffic generation: reproducible (seeded) packets written as pcap files
//! (for tests, the demo, benchmarks and pktgen: `pktgen -s P:file.pcap`) or
//! sent live on a DPDK port, and the sink that measures them.
//!
//! One engine makes every packet; the rest feeds it or uses it:
//!
//! * [`engine`]: the engine: a [`Traffic`] description (flow sets, count,
//!   rate, malformed share, draw [`Order`]) in, [`Packet`]s out.
//! * [`flow`]: a flow set ([`FlowSet`]) and how one of its frames is built.
//! * [`payload`]: the payload stamp (sequence number, timestamp) and where
//!   a frame's payload is.
//! * [`contracts`]: the default contracts, and the check that refuses a
//!   contract every router would drop.
//! * [`malformed`]: every way a packet is broken on purpose ([`Bad`]).
//! * [`presets`]: the command-line kinds ([`Kind`], [`Mix`]) as presets.
//! * [`mixfile`]: traffic mix TOML files, with the flags over them.
//! * [`pcap`]: reading and writing pcap files.
//! * [`probe`]: the live probe in each payload (stream, flow set, window).
//! * [`prebuilt`]: the live generator's frames, built by the engine.
//! * [`pace`]: the live generator's token bucket.
//! * [`span`]: rates over a packet loop's real span.
//! * [`meter`]: what `newipd sink` measures (pure).
//! * `live`, `receive`: the DPDK loops of `newipd gen --live` and `newipd sink`.
//! * [`cli`]: `newipd gen` and `newipd sink`.
//!
//! Files import downward only: cli -> mixfile -> presets -> engine ->
//! {malformed, flow} -> {contracts, payload}; live -> prebuilt -> engine;
//! receive -> meter -> {probe, span}. This file only declares and
//! re-exports. The user documentation is `docs/traffic.md`.

pub mod cli;
pub mod contracts;
pub mod engine;
pub mod flow;
#[cfg(feature = "dpdk")]
pub mod live;
pub mod malformed;
pub mod meter;
pub mod mixfile;
pub mod pace;
pub mod payload;
pub mod pcap;
pub mod prebuilt;
pub mod presets;
pub mod probe;
#[cfg(feature = "dpdk")]
pub mod receive;
pub mod span;

pub use engine::{Generated, Order, Packet, Rate, Traffic};
pub use flow::{ChunkSpec, FlowKind, FlowSet};
pub use malformed::{Bad, Malformation, NewIpMalformation};
pub use presets::{Kind, Mix};
