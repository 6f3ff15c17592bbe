//! The only place with `unsafe`: thin, safe wrappers over DPDK.
//!
//! * [`eal`]: EAL start-up and clean-up.
//! * [`mempool`]: packet buffer pools.
//! * [`mbuf`]: an owned [`Mbuf`](mbuf::Mbuf) and fixed-size [`Burst`](mbuf::Burst) arrays.
//! * [`port`]: ethdev configuration, start/stop, MAC, link, hardware stats.
//! * [`lcore`]: launching work on EAL lcores.
//! * [`spsc`]: the Rust single-producer single-consumer ring between lcores.
//! * [`ring`]: DPDK's rte_ring (SP/SC), kept for comparison (benches/ring.rs).
//! * [`time`]: the TSC clock.
//! * [`heap`]: the counting allocator that proves the packet loop never allocates.
//! * [`mem`]: transparent huge pages for newipd's large lookup tables.
//! * [`telemetry`]: newipd's commands in DPDK telemetry.
//! * [`log`]: DPDK's log kept, so errors quote the driver's own reason.
//! * [`host`]: what vdevs need from the host (a free tap name, no stale memif socket).
//! * [`signals`]: the signals every newipd program turns into a graceful stop.
//! * [`tap`]: kernel TAP interfaces (host interfaces), for control threads.
//! * [`hugepages`]: the hugepages the kernel has, when the EAL found no memory.
//! * [`fibref`]: DPDK's route tables (rte_fib, rte_fib6, rte_lpm, rte_lpm6), to measure ours against.

pub mod eal;
pub mod fibref;
pub mod heap;
pub mod host;
pub mod hugepages;
pub mod lcore;
pub mod log;
pub mod mbuf;
pub mod mem;
pub mod mempool;
pub mod port;
pub mod ring;
pub mod spsc;
pub mod signals;
pub mod sys;
pub mod tap;
pub mod telemetry;
pub mod time;

/// Errors from DPDK calls, each naming the call and what DPDK said.
#[derive(Debug, thiserror::Error)]
pub enum DpdkError {
    #[error("EAL initialisation failed: {0}")]
    EalInit(String),
    #[error("{call} failed for {what}: {reason}")]
    Call { call: &'static str, what: String, reason: String },
    #[error("no DPDK port named '{0}' (is the device bound to a DPDK driver, or the vdev devargs right?)")]
    NoSuchPort(String),
    /// The device's driver failed to create it, and logged why.
    #[error("DPDK could not create device '{name}': {cause}")]
    ProbeFailed { name: String, cause: String },
    /// The host has the device's resource in use (a tap name, a memif socket).
    #[error("{0}")]
    Busy(String),
    #[error("lcore {0} is not an enabled worker lcore (check -l / --lcores in the EAL arguments)")]
    BadLcore(u32),
}

/// The text of a DPDK error number.
pub(crate) fn strerror(errnum: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local C string.
    let p = unsafe { sys::rte_strerror(errnum.abs()) };
    if p.is_null() {
        return format!("error {errnum}");
    }
    // SAFETY: p is a valid NUL-terminated string owned by DPDK.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The calling thread's `rte_errno`.
pub(crate) fn errno() -> i32 {
    // SAFETY: the shim only reads DPDK's thread-local errno.
    unsafe { sys::newipd_errno() }
}
