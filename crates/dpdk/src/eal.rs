//! EAL start-up and clean-up.

use super::log::{LogLine, LEVEL_ERR};
use super::{errno, host, hugepages, log, strerror, sys, DpdkError};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};

static STARTED: AtomicBool = AtomicBool::new(false);

/// A running EAL. Exactly one may exist per process; dropping it calls
/// `rte_eal_cleanup`, so it must outlive every port, pool and mbuf.
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Initialise the EAL with `args` (the program name first, as in argv).
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if STARTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::EalInit("the EAL can be started once per process".into()));
        }
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_str()).map_err(|_| DpdkError::EalInit(format!("argument {a:?} has a NUL byte"))))
            .collect::<Result<_, _>>()?;
        if let Err(e) = host::before_init(args) {
            STARTED.store(false, Ordering::SeqCst);
            return Err(e);
        }
        log::start();
        let mark = log::mark();
        // rte_eal_init may permute argv, so hand it a private array of pointers.
        let mut argv: Vec<*mut std::os::raw::c_char> = cargs.iter().map(|c| c.as_ptr() as *mut _).collect();
        // The threads rte_eal_init makes (worker lcores, DPDK's service
        // threads) inherit this mask: the control signals never interrupt them.
        let old = block_control_signals();
        // SAFETY: argv points to argc valid NUL-terminated strings that live across the call.
        let rc = unsafe { sys::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
        restore_signals(&old);
        let lines = log::since(mark);
        if rc < 0 {
            let err = errno();
            STARTED.store(false, Ordering::SeqCst);
            return Err(DpdkError::EalInit(init_failure(args, &lines, &strerror(err))));
        }
        log::follow_eal();
        log::set_init_lines(lines);
        hugepages::remember(args);
        host::after_init(args);
        check_mbuf_layout();
        Ok(Eal { _private: () })
    }

    /// End without `rte_eal_cleanup`: the process exit releases everything.
    /// For net_memif: cleanup unmaps DPDK memory while the EAL interrupt
    /// thread may still handle a peer's disconnect in it (DPDK 22.11; it
    /// crashed newipd at exit), and closing a memif port frees its socket's
    /// interrupt handle under that thread in the same way.
    pub fn leave(self) {
        std::mem::forget(self);
    }

    /// TSC ticks per second.
    pub fn tsc_hz(&self) -> u64 {
        super::time::tsc_hz()
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        log::leave_eal();
        // SAFETY: the EAL was initialised by this value and nothing DPDK-owned outlives it.
        unsafe { sys::rte_eal_cleanup() };
    }
}

/// Signals a program answers (stop, report, reload): delivered to its own
/// threads, never to an EAL lcore's.
fn control_signals() -> impl Iterator<Item = i32> {
    super::signals::STOP.iter().copied().chain([libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2])
}

/// Block the control signals on this thread; returns the mask before.
fn block_control_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data that sigemptyset initialises.
    let (mut set, mut old): (libc::sigset_t, libc::sigset_t) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    // SAFETY: both sets are valid; pthread_sigmask only changes this thread's mask.
    unsafe {
        libc::sigemptyset(&mut set);
        for s in control_signals() {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
    }
    old
}

/// Put back the mask [`block_control_signals`] returned (signals that came meanwhile are delivered now).
fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: old is a mask pthread_sigmask filled in.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

/// What to say when `rte_eal_init` failed: the hugepage cause if that was
/// it, else DPDK's error with the EAL's own error lines.
fn init_failure(args: &[String], lines: &[LogLine], error: &str) -> String {
    if let Some(cause) = hugepages::diagnose(args, lines, &hugepages::HugeState::read()) {
        return cause;
    }
    let said: Vec<&str> = lines.iter().filter(|l| l.level <= LEVEL_ERR).map(|l| l.text.as_str()).collect();
    match said.as_slice() {
        [] => error.to_string(),
        s => format!("{error} (the EAL said: {})", s[s.len().saturating_sub(4)..].join("; ")),
    }
}

/// The hot path reads mbuf fields through bindgen's struct; make sure that
/// layout is the one the C compiler used for this DPDK build.
fn check_mbuf_layout() {
    let m = std::mem::MaybeUninit::<sys::rte_mbuf>::uninit();
    let base = m.as_ptr() as usize;
    // SAFETY: addr_of! on fields of an uninitialised value computes addresses without reading.
    let (buf_addr, data_off, data_len, pkt_len) = unsafe {
        let p = m.as_ptr();
        (
            std::ptr::addr_of!((*p).buf_addr) as usize - base,
            std::ptr::addr_of!((*p).data_off) as usize - base,
            std::ptr::addr_of!((*p).data_len) as usize - base,
            std::ptr::addr_of!((*p).pkt_len) as usize - base,
        )
    };
    // SAFETY: these shim functions only return offsetof() constants.
    let c = unsafe {
        (
            sys::newipd_mbuf_off_buf_addr() as usize,
            sys::newipd_mbuf_off_data_off() as usize,
            sys::newipd_mbuf_off_data_len() as usize,
            sys::newipd_mbuf_off_pkt_len() as usize,
        )
    };
    assert_eq!((buf_addr, data_off, data_len, pkt_len), c, "rte_mbuf layout differs between bindgen and C");
}
