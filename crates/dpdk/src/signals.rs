//! The signals that end a newipd process gracefully. Left to their default
//! action they would kill it without its report (or with a core dump), so
//! every process newipd ships (the daemon, `gen --live`, `sink`, `mirror`)
//! turns them into its stop flag: it stops, drains and reports.
//!
//! Not here: SIGUSR1 / SIGUSR2 (counters) and SIGHUP (reload), which each
//! program answers its own way, and the faults (SIGSEGV, SIGBUS, ...),
//! after which nothing can be trusted.

use libc::{SIGALRM, SIGINT, SIGIO, SIGPROF, SIGPWR, SIGQUIT, SIGTERM, SIGVTALRM, SIGXCPU};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Signals that mean "stop now, and report".
pub const STOP: &[i32] = &[SIGINT, SIGTERM, SIGQUIT, SIGALRM, SIGXCPU, SIGVTALRM, SIGPROF, SIGPWR, SIGIO];

/// Set `flag` on any of [`STOP`] (and on `more`). Returns the first
/// registration error.
pub fn stop_on(flag: &Arc<AtomicBool>, more: &[i32]) -> std::io::Result<()> {
    for &sig in STOP.iter().chain(more) {
        signal_hook::flag::register(sig, Arc::clone(flag))?;
    }
    Ok(())
}

/// Keep `signals` from killing the process: they are counted nowhere and
/// change nothing (for programs that have no use for them).
pub fn ignore(signals: &[i32]) -> std::io::Result<()> {
    let sink = Arc::new(AtomicBool::new(false));
    for &sig in signals {
        signal_hook::flag::register(sig, Arc::clone(&sink))?;
    }
    Ok(())
}
