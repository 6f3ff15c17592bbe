//! Control: the pipeline file and its validation, and start-up (EAL, pools,
//! ports, lcores from a pipeline file; launch, stop, report).
//!
//! * [`config`]: the pipeline file, checked field by field.
//! * [`run`]: start-up, the run, the final report.

pub mod config;
pub mod run;
