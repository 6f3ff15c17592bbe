//! The TSC clock DPDK calibrates at start-up.

use super::sys;

/// Current TSC value.
#[inline(always)]
pub fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc has no preconditions on x86_64.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: the shim wraps rte_rdtsc, valid on every architecture DPDK supports.
        unsafe { sys::newipd_rdtsc() }
    }
}

/// TSC ticks per second (valid after EAL init).
pub fn tsc_hz() -> u64 {
    // SAFETY: rte_get_tsc_hz reads a value set during EAL init.
    unsafe { sys::rte_get_tsc_hz() }
}
