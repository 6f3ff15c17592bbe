//! Scheduling: latency-contract budget arithmetic and the deadline queue.
//!
//! * [`budget`]: per-hop budgets from contracts (the spec's formulas).
//! * [`bitmap`]: the three-level find-first-set bitmap.
//! * [`queue`]: the bucketed deadline queue (calendar queue, FIFO per bucket).

pub mod bitmap;
pub mod budget;
pub mod queue;
