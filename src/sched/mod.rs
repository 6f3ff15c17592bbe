//! Scheduling: latency-contract budget arithmetic (and, next, the deadline queue).

pub mod budget;
