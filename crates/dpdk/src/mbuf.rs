//! An owned mbuf and fixed-size bursts of them.
//!
//! [`Mbuf`] owns exactly one `rte_mbuf`: dropping it returns the buffer to its
//! pool, and the only ways to give it up (`into_raw`, sending it in a burst)
//! consume it, so safe code cannot free an mbuf twice or use it after free.

use super::mempool::Mempool;
use super::sys;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

/// Largest burst newipd moves at once.
pub use newipd_core::kinds::MAX_BURST;

/// One owned packet buffer (single segment: RX scatter is never enabled).
#[repr(transparent)]
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an Mbuf is uniquely owned; moving it to another lcore moves ownership.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Take a fresh mbuf from `pool`.
    pub fn alloc(pool: &Mempool) -> Option<Mbuf> {
        // SAFETY: pool is a live mempool.
        NonNull::new(unsafe { sys::newipd_pktmbuf_alloc(pool.as_ptr()) }).map(Mbuf)
    }

    /// Take ownership of a raw mbuf.
    ///
    /// # Safety
    /// `p` must be a valid mbuf that nothing else owns or will free.
    pub unsafe fn from_raw(p: NonNull<sys::rte_mbuf>) -> Mbuf {
        Mbuf(p)
    }

    /// Give up ownership without freeing (for handing to DPDK).
    pub fn into_raw(self) -> NonNull<sys::rte_mbuf> {
        let p = self.0;
        std::mem::forget(self);
        p
    }

    #[inline(always)]
    fn raw(&self) -> &sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf for its whole life.
        unsafe { self.0.as_ref() }
    }

    /// Bytes of packet data in this (only) segment.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.raw().data_len as usize
    }

    /// Whether the packet has no data.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The packet's bytes.
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer, owned by self.
        unsafe { std::slice::from_raw_parts((m.buf_addr as *const u8).add(m.data_off as usize), m.data_len as usize) }
    }

    /// The packet's bytes, writable.
    #[inline(always)]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw();
        let (addr, off, len) = (m.buf_addr as *mut u8, m.data_off as usize, m.data_len as usize);
        // SAFETY: as in data(); &mut self guarantees exclusive access (refcnt is 1 for mbufs we own).
        unsafe { std::slice::from_raw_parts_mut(addr.add(off), len) }
    }

    /// Port the packet arrived on.
    #[inline(always)]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    /// Drop `n` bytes from the front; `None` if the packet is shorter.
    pub fn adj(&mut self, n: u16) -> Option<&mut [u8]> {
        // SAFETY: self owns a valid mbuf; rte_pktmbuf_adj checks the length.
        let p = unsafe { sys::newipd_pktmbuf_adj(self.0.as_ptr(), n) };
        if p.is_null() {
            None
        } else {
            Some(self.data_mut())
        }
    }

    /// Drop `n` bytes from the end; false if the packet is shorter.
    pub fn trim(&mut self, n: u16) -> bool {
        // SAFETY: self owns a valid mbuf; rte_pktmbuf_trim checks the length.
        unsafe { sys::newipd_pktmbuf_trim(self.0.as_ptr(), n) == 0 }
    }

    /// Grow the front by `n` bytes (into the headroom); the new bytes are uninitialised
    /// garbage from the buffer, so callers overwrite them. `None` if the headroom is short.
    pub fn prepend(&mut self, n: u16) -> Option<&mut [u8]> {
        // SAFETY: self owns a valid mbuf; rte_pktmbuf_prepend checks the headroom.
        let p = unsafe { sys::newipd_pktmbuf_prepend(self.0.as_ptr(), n) };
        if p.is_null() {
            None
        } else {
            Some(&mut self.data_mut()[..n as usize])
        }
    }

    /// Grow the end by `n` bytes; returns the new tail. `None` if the tailroom is short.
    pub fn append(&mut self, n: u16) -> Option<&mut [u8]> {
        // SAFETY: self owns a valid mbuf; rte_pktmbuf_append checks the tailroom.
        let p = unsafe { sys::newipd_pktmbuf_append(self.0.as_ptr(), n) };
        if p.is_null() {
            None
        } else {
            let len = self.len();
            Some(&mut self.data_mut()[len - n as usize..])
        }
    }

    /// A copy of this packet's data in a fresh mbuf from `pool` (`None` if the
    /// pool is empty or the packet does not fit one buffer).
    pub fn copy_into(&self, pool: &Mempool) -> Option<Mbuf> {
        let mut n = Mbuf::alloc(pool)?;
        let len = u16::try_from(self.len()).ok()?;
        n.append(len)?.copy_from_slice(self.data());
        Some(n)
    }

    /// Store `N` words in the mbuf's private area (after the header); false if
    /// the pool gave its mbufs less room.
    #[inline(always)]
    pub fn write_priv<const N: usize>(&mut self, words: &[u64; N]) -> bool {
        if !self.priv_holds(N * 8) {
            return false;
        }
        // SAFETY: the private area of priv_size bytes follows the rte_mbuf header and
        // belongs to this mbuf; &mut self makes the write exclusive; unaligned is allowed.
        unsafe { (self.0.as_ptr().add(1) as *mut [u64; N]).write_unaligned(*words) };
        true
    }

    /// Read `N` words of the private area (what [`write_priv`](Self::write_priv)
    /// stored, or stale bytes if nothing was); `None` if the area is smaller.
    #[inline(always)]
    pub fn read_priv<const N: usize>(&self) -> Option<[u64; N]> {
        if !self.priv_holds(N * 8) {
            return None;
        }
        // SAFETY: in bounds as above; every bit pattern is a valid u64.
        Some(unsafe { (self.0.as_ptr().add(1) as *const [u64; N]).read_unaligned() })
    }

    /// Does the private area (after the header) have at least `bytes` bytes?
    #[inline(always)]
    fn priv_holds(&self, bytes: usize) -> bool {
        bytes <= self.raw().priv_size as usize
    }

    /// Word `i` of the private area; `None` past its end.
    #[inline(always)]
    pub fn priv_word(&self, i: usize) -> Option<u64> {
        if !self.priv_holds((i + 1) * 8) {
            return None;
        }
        // SAFETY: word i lies inside the private area that follows the header; any bits are a u64.
        Some(unsafe { (self.0.as_ptr().add(1) as *const u64).add(i).read_unaligned() })
    }

    /// Overwrite word `i` of the private area; false past its end.
    #[inline(always)]
    pub fn set_priv_word(&mut self, i: usize, v: u64) -> bool {
        if !self.priv_holds((i + 1) * 8) {
            return false;
        }
        // SAFETY: word i lies inside this mbuf's private area; &mut self makes the write exclusive.
        unsafe { (self.0.as_ptr().add(1) as *mut u64).add(i).write_unaligned(v) };
        true
    }

    /// Reference count (1 for every mbuf newipd owns).
    pub fn refcnt(&self) -> u16 {
        // SAFETY: self owns a valid mbuf.
        unsafe { sys::newipd_mbuf_refcnt(self.0.as_ptr()) }
    }

    /// Hint the CPU to fetch the mbuf's header (both cache lines): worth it
    /// when another lcore wrote it last (the egress side of a ring).
    #[inline(always)]
    pub fn prefetch_header(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            let p = self.0.as_ptr() as *const i8;
            // SAFETY: prefetch never faults; both lines belong to this mbuf's header.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p);
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.add(64));
            }
        }
    }

    /// Hint the CPU to fetch the first cache line of packet data.
    #[inline(always)]
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            let m = self.raw();
            // SAFETY: prefetch never faults; the address is inside the mbuf's buffer.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                    (m.buf_addr as *const i8).add(m.data_off as usize),
                )
            }
        }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns the mbuf and this is the only place it is freed.
        unsafe { sys::newipd_pktmbuf_free(self.0.as_ptr()) }
    }
}

/// A fixed-size array of up to [`MAX_BURST`] owned mbufs: what one rx_burst
/// fills and one tx_burst sends. No heap allocation, ever.
pub struct Burst {
    len: usize,
    slots: [MaybeUninit<Mbuf>; MAX_BURST],
}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    pub const fn new() -> Burst {
        Burst { len: 0, slots: [const { MaybeUninit::uninit() }; MAX_BURST] }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.len == MAX_BURST
    }

    /// Receive up to `max` (at most the free space) packets from `port`/`queue`;
    /// returns how many arrived.
    #[inline]
    pub fn rx(&mut self, port: u16, queue: u16, max: usize) -> usize {
        let room = (MAX_BURST - self.len).min(max);
        // SAFETY: slots[len..len+room] is free space; Mbuf is repr(transparent) over a
        // non-null mbuf pointer, and the driver writes only valid, owned mbufs there.
        let n = unsafe {
            let dst = self.slots.as_mut_ptr().add(self.len) as *mut *mut sys::rte_mbuf;
            sys::newipd_rx_burst(port, queue, dst, room as u16)
        } as usize;
        self.len += n;
        n
    }

    /// Fill the burst with `n` fresh (empty) mbufs from `pool` in one bulk
    /// call; false (and nothing taken) if the burst is not empty, `n` is
    /// above [`MAX_BURST`], or the pool has fewer than `n` free.
    #[inline]
    pub fn alloc_bulk(&mut self, pool: &Mempool, n: usize) -> bool {
        if self.len != 0 || n > MAX_BURST {
            return false;
        }
        // SAFETY: slots[..n] are free; on success the pool wrote n valid, reset, owned
        // mbufs there (Mbuf is repr(transparent) over the pointer); on failure none.
        let rc = unsafe { sys::newipd_pktmbuf_alloc_bulk(pool.as_ptr(), self.slots.as_mut_ptr() as *mut *mut sys::rte_mbuf, n as u32) };
        if rc != 0 {
            return false;
        }
        self.len = n;
        true
    }

    /// Append one mbuf; gives it back if the burst is full.
    #[inline(always)]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == MAX_BURST {
            return Err(m);
        }
        self.slots[self.len].write(m);
        self.len += 1;
        Ok(())
    }

    /// Send everything on `port`/`queue`. Returns how many the driver took;
    /// the rest stay in the burst (at its front) for the caller to retry or drop.
    #[inline]
    pub fn tx(&mut self, port: u16, queue: u16) -> usize {
        if self.len == 0 {
            return 0;
        }
        // SAFETY: slots[..len] are initialised Mbufs (repr(transparent) pointers); the
        // driver takes ownership of the first `sent`, which we then forget by moving
        // the unsent tail down and shrinking len.
        let sent = unsafe {
            let p = self.slots.as_mut_ptr() as *mut *mut sys::rte_mbuf;
            sys::newipd_tx_burst(port, queue, p, self.len as u16) as usize
        };
        let rest = self.len - sent;
        if sent > 0 && rest > 0 {
            // SAFETY: moves the unsent (still owned) pointers to the front; the
            // sent ones were given to the driver and are overwritten, not dropped.
            unsafe { std::ptr::copy(self.slots.as_ptr().add(sent), self.slots.as_mut_ptr(), rest) };
        }
        self.len = rest;
        sent
    }

    /// Keep the packets for which `f(index, packet)` is true, in order; free the rest.
    #[inline]
    pub fn retain_mut(&mut self, mut f: impl FnMut(usize, &mut Mbuf) -> bool) {
        let len = self.len;
        // If `f` panicked midway, leaking beats freeing twice: own nothing meanwhile.
        self.len = 0;
        let mut w = 0;
        for r in 0..len {
            // SAFETY: slots[r] (r < len) is initialised and not yet moved.
            let keep = f(r, unsafe { self.slots[r].assume_init_mut() });
            if keep {
                if w != r {
                    // SAFETY: w < r < len; moves an owned pointer down over a slot already vacated.
                    unsafe { std::ptr::copy_nonoverlapping(self.slots.as_ptr().add(r), self.slots.as_mut_ptr().add(w), 1) };
                }
                w += 1;
            } else {
                // SAFETY: slots[r] is initialised and dropped exactly once here (frees the mbuf).
                unsafe { self.slots[r].assume_init_drop() };
            }
        }
        self.len = w;
    }

    /// The packets, in order.
    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: slots[..len] are initialised.
        unsafe { std::slice::from_raw_parts_mut(self.slots.as_mut_ptr() as *mut Mbuf, self.len) }
    }

    /// The packets, in order.
    #[inline(always)]
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: slots[..len] are initialised.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr() as *const Mbuf, self.len) }
    }

    /// Move every packet out, in order, leaving the burst empty. Packets the
    /// iterator does not yield are freed when it is dropped.
    #[inline(always)]
    pub fn drain(&mut self) -> Drain<'_> {
        let len = self.len;
        self.len = 0;
        Drain { burst: self, next: 0, end: len }
    }

    /// Free every packet (one bulk call).
    pub fn free_all(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: slots[..len] are owned mbufs; after the bulk free we forget them.
        unsafe {
            sys::newipd_pktmbuf_free_bulk(self.slots.as_mut_ptr() as *mut *mut sys::rte_mbuf, self.len as u32);
        }
        self.len = 0;
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.free_all();
    }
}

/// Iterator that moves mbufs out of a [`Burst`].
pub struct Drain<'a> {
    burst: &'a mut Burst,
    next: usize,
    end: usize,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;
    #[inline(always)]
    fn next(&mut self) -> Option<Mbuf> {
        if self.next == self.end {
            return None;
        }
        // SAFETY: slots[next] is initialised and not yet moved out; next advances past it.
        let m = unsafe { self.burst.slots[self.next].assume_init_read() };
        self.next += 1;
        Some(m)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.end - self.next, Some(self.end - self.next))
    }
}

impl Drain<'_> {
    /// Look at a packet further ahead without taking it (for prefetching).
    #[inline(always)]
    pub fn peek(&self, ahead: usize) -> Option<&Mbuf> {
        let i = self.next + ahead;
        if i < self.end {
            // SAFETY: slots[i] with next <= i < end is initialised and not moved out.
            Some(unsafe { self.burst.slots[i].assume_init_ref() })
        } else {
            None
        }
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        while self.next < self.end {
            // SAFETY: slots[next] is initialised and not yet moved out.
            drop(unsafe { self.burst.slots[self.next].assume_init_read() });
            self.next += 1;
        }
    }
}
