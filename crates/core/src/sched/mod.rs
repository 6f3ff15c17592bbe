//! Scheduling: the deadline queue, the hold queue and each egress port's
//! scheduler. The contracts' own arithmetic lives in [`crate::contract`].
//!
//! * [`bitmap`]: the three-level find-first-set bitmap.
//! * [`queue`]: the bucketed deadline queue (calendar queue, FIFO per bucket).
//! * [`hold`]: the hold queue (a FIFO ring for in-order eligibility, else a bucket queue).
//! * [`port`]: one egress port's scheduler (EDF or FIFO, hold, shaper, drops).
//! * [`wash`]: packet wash budget and the wash of one frame.

pub mod bitmap;
pub mod hold;
pub mod port;
pub mod queue;
pub mod wash;
