//! Scheduling: latency-contract budget arithmetic and the deadline queue.
//!
//! * [`budget`]: per-hop budgets from contracts (the spec's formulas).
//! * [`bitmap`]: the three-level find-first-set bitmap.
//! * [`queue`]: the bucketed deadline queue (calendar queue, FIFO per bucket).
//! * [`hold`]: the hold queue (a FIFO ring for in-order eligibility, else a bucket queue).
//! * [`port`]: one egress port's scheduler (EDF or FIFO, hold, shaper, drops).
//! * [`damper`]: the on-time damper (0x8002): per-prio bounds, rewrite on transmit.
//! * [`wash`]: packet wash budget and the wash of one frame.

pub mod bitmap;
pub mod budget;
pub mod damper;
pub mod hold;
pub mod port;
pub mod queue;
pub mod wash;
