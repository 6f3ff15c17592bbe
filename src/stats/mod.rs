//! Statistics: named drop reasons, per-core counters (written by one core,
//! summed on read), per-class latency histograms, per-stage cycles, the run
//! report and the exporters (live view, JSON lines, Prometheus, telemetry).
//! Classes are numbered and named as in [`crate::classify::class`].

pub mod counters;
pub mod exporter;
pub mod histo;
pub mod live;
pub mod prometheus;
pub mod reason;
pub mod report;
pub mod snapshot;
pub mod stages;
pub mod telemetry;

pub use counters::{ClassCounters, Counters, LcoreCounters, PortCounters, SharedCounters, MAX_PORTS};
pub use reason::{Event, Reason, N_EVENTS, N_REASONS};
