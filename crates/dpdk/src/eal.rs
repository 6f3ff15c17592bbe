//! EAL start-up and clean-up.

use super::{errno, strerror, sys, DpdkError};
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
        // rte_eal_init may permute argv, so hand it a private array of pointers.
        let mut argv: Vec<*mut std::os::raw::c_char> = cargs.iter().map(|c| c.as_ptr() as *mut _).collect();
        // SAFETY: argv points to argc valid NUL-terminated strings that live across the call.
        let rc = unsafe { sys::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
        if rc < 0 {
            STARTED.store(false, Ordering::SeqCst);
            return Err(DpdkError::EalInit(strerror(errno())));
        }
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
        // SAFETY: the EAL was initialised by this value and nothing DPDK-owned outlives it.
        unsafe { sys::rte_eal_cleanup() };
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
