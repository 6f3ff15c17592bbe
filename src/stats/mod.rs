//! Statistics: named drop reasons, per-core counters (written by one core,
//! summed on read), per-class latency histograms, per-stage cycles, the run
//! report and the exporters (live view, JSON lines, Prometheus, telemetry).

pub mod class;
pub mod counters;
pub mod histo;
pub mod reason;
pub mod report;
pub mod stages;

pub use counters::{ClassCounters, Counters, PortCounters, SharedCounters, MAX_PORTS};
pub use reason::{Event, Reason, N_EVENTS, N_REASONS};
pub mod snapshot;
pub mod prometheus;
pub mod live;
pub mod exporter;
pub mod telemetry;
