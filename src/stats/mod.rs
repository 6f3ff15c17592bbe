//! Statistics: named drop reasons, per-core counters (written by one core,
//! summed on read) and the run report.

pub mod counters;
pub mod reason;
pub mod report;

pub use counters::{Counters, LcoreCounters, PortCounters, SharedCounters, MAX_PORTS};
pub use reason::{Event, Reason, N_EVENTS, N_REASONS};
