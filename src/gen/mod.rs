//! Traffic generation: reproducible (seeded) packet mixes written as pcap
//! files, for tests, the demo, benchmarks and pktgen (`pktgen -s P:file.pcap`).

pub mod cli;
pub mod mix;
pub mod pcap;

pub use mix::{Kind, Malformation, Mix};
