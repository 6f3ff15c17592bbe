//! newipd, the daemon: a deadline-aware router for New IP, IPv4 and IPv6 on
//! DPDK. It sits on top of the workspace's layers:
//! * [`newipd_core`]: the pure per-packet decisions, formats, FIB, scheduler
//!   and counters (no DPDK, no unsafe);
//! * [`newipd_dpdk`]: the DPDK layer, the only home of `unsafe`;
//! * `newipd_tools`: the traffic tools (`newipd gen`, `newipd sink`), used
//!   by the binary beside this library, not by it.
//!
//! Here:
//! * [`datapath`]: the lcore loops over mbufs (RX, run to completion, TX,
//!   ring hand-off, deadline queues);
//! * [`control`]: the pipeline file and start-up;
//! * [`ops`]: statistics out (snapshots, report, live view, exporters).

#![forbid(unsafe_code)]

pub mod control;
pub mod datapath;
pub mod ops;
