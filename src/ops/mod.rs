//! Operations: reading the statistics out while newipd runs and when it
//! stops. Snapshots of the per-lcore counters (summed on read), the run
//! report, the live view, JSON lines, Prometheus and DPDK telemetry.
//! Classes are numbered and named as in [`newipd_core::class`].

pub mod exporter;
pub mod live;
pub mod observe;
pub mod prometheus;
pub mod report;
pub mod snapshot;
pub mod telemetry;
