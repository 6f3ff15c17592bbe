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

/// CPU time the calling thread has used, in ns (0 if the clock is missing).
/// Throughput per CPU second is unaffected by other processes preempting the thread.
pub fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: t is a valid out-struct; CLOCK_THREAD_CPUTIME_ID needs no other argument.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if rc != 0 {
        return 0;
    }
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// TSC ticks to nanoseconds with one multiply (32.32 fixed point).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    mult: u128,
}

impl Clock {
    pub fn new(hz: u64) -> Clock {
        Clock { mult: ((1_000_000_000u128) << 32) / hz.max(1) as u128 }
    }

    #[inline(always)]
    pub fn ns(&self, tsc: u64) -> u64 {
        ((tsc as u128 * self.mult) >> 32) as u64
    }
}
