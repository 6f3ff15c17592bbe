//! The statistics every packet lcore writes: counters (written by one core,
//! summed on read), per-class latency histograms and per-stage cycles.
//! Reading them out (snapshots, reports, exporters) is the daemon's job.

pub mod counters;
pub mod histo;
pub mod stages;

pub use counters::{ClassCounters, Counters, LcoreCounters, PortCounters, SharedCounters};
