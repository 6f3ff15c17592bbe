//! Launching work on EAL lcores (so each worker has its lcore id and its
//! mempool cache, unlike a plain std thread).

use super::{strerror, sys, DpdkError};
use std::os::raw::{c_int, c_void};

/// An EAL lcore id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LcoreId(pub u32);

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: arg was produced by Box::into_raw in launch() and is consumed exactly once here.
    let job: Box<Job> = unsafe { Box::from_raw(arg as *mut Job) };
    (job)()
}

impl LcoreId {
    /// The lcore running the caller (the main lcore for the main thread).
    pub fn current() -> LcoreId {
        // SAFETY: plain per-thread query.
        LcoreId(unsafe { sys::newipd_lcore_id() })
    }

    /// The main lcore.
    pub fn main() -> LcoreId {
        // SAFETY: plain query after EAL init.
        LcoreId(unsafe { sys::rte_get_main_lcore() })
    }

    /// Every enabled worker lcore (not the main one), in order.
    pub fn workers() -> Vec<LcoreId> {
        let mut v = Vec::new();
        let mut i: u32 = u32::MAX; // -1: start from the beginning
        loop {
            // SAFETY: plain query; skip_main = 1, no wrap.
            i = unsafe { sys::rte_get_next_lcore(i, 1, 0) };
            if i >= sys::RTE_MAX_LCORE {
                break;
            }
            v.push(LcoreId(i));
        }
        v
    }

    /// Run `f` on this worker lcore.
    pub fn launch<F: FnOnce() -> i32 + Send + 'static>(self, f: F) -> Result<(), DpdkError> {
        if !Self::workers().contains(&self) {
            return Err(DpdkError::BadLcore(self.0));
        }
        let job: Box<Job> = Box::new(Box::new(f));
        let arg = Box::into_raw(job) as *mut c_void;
        // SAFETY: trampoline takes back the box; the lcore is a worker lcore.
        let rc = unsafe { sys::rte_eal_remote_launch(Some(trampoline), arg, self.0) };
        if rc != 0 {
            // SAFETY: launch failed, so trampoline will never run: reclaim the job.
            drop(unsafe { Box::from_raw(arg as *mut Job) });
            return Err(DpdkError::Call { call: "rte_eal_remote_launch", what: format!("lcore {}", self.0), reason: strerror(rc) });
        }
        Ok(())
    }

    /// Wait for the job launched on this lcore and return its result.
    pub fn wait(self) -> i32 {
        // SAFETY: plain blocking call on a worker lcore id.
        unsafe { sys::rte_eal_wait_lcore(self.0) }
    }
}
