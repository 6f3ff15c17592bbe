//! Control: the pipeline file and its validation, start-up (EAL, pools,
//! ports, lcores from a pipeline file; launch, stop, report), and the
//! netlink mirror of the kernel's tables.
//!
//! * [`config`]: the pipeline file, checked field by field.
//! * [`run`]: start-up, the run, the final report.
//! * [`hostif`]: host interfaces (TAPs) and the thread that moves frames between them and the lcores.
//! * [`netlink`]: the kernel's links, addresses, routes and neighbours, mirrored.
//! * [`reload`]: SIGHUP, the pipeline file again, live.
//! * [`rib`]: routes from every source (own addresses, pipeline, kernel), the winner of each in the FIB.

pub mod config;
pub mod hostif;
pub mod netlink;
pub mod reload;
pub mod rib;
pub mod run;
