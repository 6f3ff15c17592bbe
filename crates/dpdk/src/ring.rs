//! DPDK's `rte_ring` of fixed-size elements, created single-producer /
//! single-consumer, split into an enqueue half and a dequeue half (so the type
//! system keeps one writer and one reader). Burst operations move what fits;
//! bulk operations all or nothing. Elements are plain `Copy` data (the ring
//! copies bytes, so nothing may need dropping). Benchmarked against the Rust
//! [`spsc`](super::spsc) ring in `benches/ring.rs`.

use super::{errno, strerror, sys, DpdkError};
use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

struct Raw(NonNull<sys::rte_ring>);

// SAFETY: an rte_ring is made for use from several threads; each half below
// is used by one thread at a time (SP/SC flags match that).
unsafe impl Send for Raw {}
// SAFETY: as above; shared only between the two halves.
unsafe impl Sync for Raw {}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: both halves are gone (this is the last Arc), so nobody uses the ring.
        unsafe { sys::rte_ring_free(self.0.as_ptr()) };
    }
}

/// The enqueue half.
pub struct RteProducer<T> {
    r: Arc<Raw>,
    _t: PhantomData<T>,
}

/// The dequeue half.
pub struct RteConsumer<T> {
    r: Arc<Raw>,
    _t: PhantomData<T>,
}

/// Create an SP/SC ring named `name` holding `count` elements of `T`
/// (`count` a power of two; `T`'s size a multiple of 4 bytes, as DPDK asks).
pub fn rte_ring_pair<T: Copy>(name: &str, count: u32) -> Result<(RteProducer<T>, RteConsumer<T>), DpdkError> {
    let bad = |reason: String| DpdkError::Call { call: "rte_ring_create_elem", what: format!("ring '{name}'"), reason };
    let esize = std::mem::size_of::<T>();
    if esize == 0 || esize % 4 != 0 {
        return Err(bad(format!("element size {esize} is not a positive multiple of 4")));
    }
    let cname = CString::new(name).map_err(|_| bad("name has a NUL byte".into()))?;
    let flags = sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ;
    // SAFETY: cname is a valid C string; the ring is created on any socket.
    let p = unsafe { sys::rte_ring_create_elem(cname.as_ptr(), esize as u32, count, -1, flags) };
    let r = Arc::new(Raw(NonNull::new(p).ok_or_else(|| bad(strerror(errno())))?));
    Ok((RteProducer { r: Arc::clone(&r), _t: PhantomData }, RteConsumer { r, _t: PhantomData }))
}

const fn esize<T>() -> u32 {
    std::mem::size_of::<T>() as u32
}

impl<T: Copy> RteProducer<T> {
    /// Enqueue as many of `items` as fit, in order; returns how many.
    #[inline]
    pub fn enqueue_burst(&mut self, items: &[T]) -> usize {
        // SAFETY: items is a valid array of n Copy elements of the ring's element size.
        unsafe {
            sys::newipd_ring_enqueue_burst_elem(self.r.0.as_ptr(), items.as_ptr().cast(), esize::<T>(), items.len() as u32, std::ptr::null_mut())
                as usize
        }
    }

    /// Enqueue all of `items` or none; returns whether they went in.
    #[inline]
    pub fn enqueue_bulk(&mut self, items: &[T]) -> bool {
        // SAFETY: as in enqueue_burst.
        let n = unsafe {
            sys::newipd_ring_enqueue_bulk_elem(self.r.0.as_ptr(), items.as_ptr().cast(), esize::<T>(), items.len() as u32, std::ptr::null_mut())
        };
        n as usize == items.len()
    }
}

impl<T: Copy> RteConsumer<T> {
    /// Dequeue up to `out.len()` elements into the front of `out`; returns how many.
    #[inline]
    pub fn dequeue_burst(&mut self, out: &mut [T]) -> usize {
        // SAFETY: out has room for out.len() elements; the ring writes only whole,
        // valid T values (bytes that were enqueued as T).
        unsafe {
            sys::newipd_ring_dequeue_burst_elem(self.r.0.as_ptr(), out.as_mut_ptr().cast(), esize::<T>(), out.len() as u32, std::ptr::null_mut())
                as usize
        }
    }

    /// Dequeue exactly `out.len()` elements or none; returns whether it did.
    #[inline]
    pub fn dequeue_bulk(&mut self, out: &mut [T]) -> bool {
        // SAFETY: as in dequeue_burst.
        let n = unsafe {
            sys::newipd_ring_dequeue_bulk_elem(self.r.0.as_ptr(), out.as_mut_ptr().cast(), esize::<T>(), out.len() as u32, std::ptr::null_mut())
        };
        n as usize == out.len()
    }

    /// Elements waiting.
    pub fn len(&self) -> usize {
        // SAFETY: plain read of the ring's indices.
        unsafe { sys::newipd_ring_count(self.r.0.as_ptr()) as usize }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
