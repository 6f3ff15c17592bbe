//! A counting global allocator. The `newipd` binary installs it so that every
//! run reports how many heap allocations the packet loop made (the answer must
//! be 0: the hot path uses fixed arrays only). Counting is per thread, so a
//! packet lcore's count is not disturbed by helper threads. It lives here
//! because implementing `GlobalAlloc` is `unsafe`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting allocations per thread.
pub struct CountingAlloc;

#[inline(always)]
fn count() {
    INSTALLED.store(true, Relaxed);
    // try_with: during thread teardown the slot may be gone; then just don't count.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to the system allocator unchanged; counting touches
// only a const-initialised thread-local Cell, which never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations made so far by the calling thread, or `None` if the counting
/// allocator is not installed in this program.
pub fn thread_allocations() -> Option<u64> {
    if !INSTALLED.load(Relaxed) {
        return None;
    }
    ALLOCS.try_with(|c| c.get()).ok()
}
