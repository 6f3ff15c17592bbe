//! A single-producer single-consumer ring with batch operations: the hand-over
//! between an RX lcore and the lcore that owns an egress port.
//!
//! The producer writes slots with [`Producer::push`] and makes a whole batch
//! visible with one release store ([`Producer::publish`]); the consumer takes
//! up to a burst with one acquire load and gives the slots back with one
//! release store ([`Consumer::pop_each`]). Each side caches the other's index,
//! so a steady stream costs one shared-cache-line read per batch, not per
//! item. Dropping the producer publishes what it pushed and closes the ring:
//! the consumer sees [`Consumer::is_finished`] once it has taken the rest.
//! Items left in the ring when both halves are gone are dropped normally.
//!
//! It lives in `dpdk/` because the slots are `MaybeUninit` (unsafe), not
//! because it needs DPDK.

use std::alloc::Layout;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Acquire, Ordering::Release};
use std::sync::Arc;

/// Most items a [`Batch`] holds.
pub const BATCH: usize = newipd_core::kinds::MAX_BURST;

/// A fixed array of up to [`BATCH`] owned items: what moves in and out of the
/// ring in one operation. No heap allocation.
pub struct Batch<T> {
    len: usize,
    items: [MaybeUninit<T>; BATCH],
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Batch<T> {
    pub const fn new() -> Batch<T> {
        Batch { len: 0, items: [const { MaybeUninit::uninit() }; BATCH] }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items, in order.
    #[inline(always)]
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: items[..len] are initialised; MaybeUninit<T> has T's layout.
        unsafe { std::slice::from_raw_parts(self.items.as_ptr() as *const T, self.len) }
    }

    /// Append one item; gives it back when full.
    #[inline(always)]
    pub fn push(&mut self, v: T) -> Result<(), T> {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                slot.write(v);
                self.len += 1;
                Ok(())
            }
            None => Err(v),
        }
    }

    /// Take every item out, in order, leaving the batch empty; items the
    /// iterator does not yield are dropped with it.
    #[inline(always)]
    pub fn drain(&mut self) -> BatchDrain<'_, T> {
        let end = std::mem::take(&mut self.len);
        BatchDrain { items: &mut self.items[..end], next: 0 }
    }

    /// Forget the first `n` items (they were moved out) and shift the rest down.
    ///
    /// # Safety
    /// The first `n` items must have been moved out bitwise.
    #[inline(always)]
    unsafe fn forget_front(&mut self, n: usize) {
        let rest = self.len - n;
        if rest > 0 && n > 0 {
            // SAFETY: moves the still-owned items[n..len] to the front (may overlap).
            unsafe { std::ptr::copy(self.items.as_ptr().add(n), self.items.as_mut_ptr(), rest) };
        }
        self.len = rest;
    }
}

/// Moves items out of a [`Batch`].
pub struct BatchDrain<'a, T> {
    items: &'a mut [MaybeUninit<T>],
    next: usize,
}

impl<T> Iterator for BatchDrain<'_, T> {
    type Item = T;
    #[inline(always)]
    fn next(&mut self) -> Option<T> {
        let m = self.items.get(self.next)?;
        self.next += 1;
        // SAFETY: items[next] is initialised (the batch gave up ownership of items[..end]) and read once.
        Some(unsafe { m.assume_init_read() })
    }
}

impl<T> Drop for BatchDrain<'_, T> {
    fn drop(&mut self) {
        for m in &mut self.items[self.next..] {
            // SAFETY: not yet yielded, so still initialised; dropped once.
            unsafe { m.assume_init_drop() };
        }
    }
}

impl<T> Drop for Batch<T> {
    fn drop(&mut self) {
        for m in &mut self.items[..self.len] {
            // SAFETY: items[..len] are initialised and dropped once.
            unsafe { m.assume_init_drop() };
        }
    }
}

/// Keeps the producer's and consumer's indices apart: 128 bytes, because CPUs
/// prefetch cache lines in adjacent pairs (as DPDK's ring guards do).
#[repr(align(128))]
struct Padded<T>(T);

struct Shared<T> {
    /// Items ever published by the producer (wrapping).
    head: Padded<AtomicUsize>,
    /// Items ever taken by the consumer (wrapping).
    tail: Padded<AtomicUsize>,
    closed: AtomicBool,
    mask: usize,
    /// `mask + 1` slots, aligned to 128 bytes so a burst never shares a cache
    /// line pair with the allocator's neighbours.
    slots: *mut MaybeUninit<T>,
    layout: Layout,
}

// SAFETY: the slot memory is owned by Shared and freed once, in its Drop.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: a slot is only ever accessed by one side at a time (the producer owns
// [tail + cap, ...) up to head, the consumer [tail, head)), handed over through
// the release/acquire pair on head and tail; T itself must be Send.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let (mut t, h) = (*self.tail.0.get_mut(), *self.head.0.get_mut());
        while t != h {
            // SAFETY: both halves are gone; slots in [tail, head) hold initialised items not yet taken.
            unsafe { (*self.slots.add(t & self.mask)).assume_init_drop() };
            t = t.wrapping_add(1);
        }
        if self.layout.size() > 0 {
            // SAFETY: allocated in channel() with exactly this layout, freed once.
            unsafe { std::alloc::dealloc(self.slots as *mut u8, self.layout) };
        }
    }
}

/// The writing half.
pub struct Producer<T> {
    s: Arc<Shared<T>>,
    /// The slots and their index mask, copied out of `s` so the hot path
    /// follows no pointer chain and does no bounds check.
    slots: *mut MaybeUninit<T>,
    mask: usize,
    /// Next slot to write (published or not).
    head: usize,
    /// `head` may grow up to here without looking at the consumer again.
    limit: usize,
}

/// The reading half.
pub struct Consumer<T> {
    s: Arc<Shared<T>>,
    slots: *mut MaybeUninit<T>,
    mask: usize,
    /// Next slot to read.
    tail: usize,
    /// Last head seen.
    head: usize,
}

/// A ring of `capacity` slots (a power of two, at least 2).
pub fn channel<T: Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    assert!(capacity.is_power_of_two() && capacity >= 2, "ring capacity {capacity} must be a power of two >= 2");
    let layout = Layout::array::<T>(capacity).and_then(|l| l.align_to(128)).expect("ring size overflows");
    let slots = if layout.size() == 0 {
        std::ptr::NonNull::<MaybeUninit<T>>::dangling().as_ptr()
    } else {
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { std::alloc::alloc(layout) } as *mut MaybeUninit<T>;
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        p
    };
    let s = Arc::new(Shared {
        head: Padded(AtomicUsize::new(0)),
        tail: Padded(AtomicUsize::new(0)),
        closed: AtomicBool::new(false),
        mask: capacity - 1,
        slots,
        layout,
    });
    let base = slots;
    let mask = capacity - 1;
    (Producer { s: Arc::clone(&s), slots: base, mask, head: 0, limit: capacity }, Consumer { s, slots: base, mask, tail: 0, head: 0 })
}

// SAFETY: the producer half only writes slots the consumer cannot read yet; moving
// it to another thread moves that right with it.
unsafe impl<T: Send> Send for Producer<T> {}
// SAFETY: as above, for the slots the consumer may read.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Producer<T> {
    /// Write one item (not visible to the consumer before [`publish`](Self::publish));
    /// gives it back when the ring is full.
    #[inline(always)]
    pub fn push(&mut self, v: T) -> Result<(), T> {
        if self.head == self.limit {
            self.limit = self.s.tail.0.load(Acquire).wrapping_add(self.mask + 1);
            if self.head == self.limit {
                return Err(v);
            }
        }
        // SAFETY: (head & mask) < capacity indexes the slot array, alive while `s` is;
        // head - tail < capacity, so the consumer has released this slot (acquire on
        // tail above or earlier) and will not read it before publish.
        unsafe { (*self.slots.add(self.head & self.mask)).write(v) };
        self.head = self.head.wrapping_add(1);
        Ok(())
    }

    /// Free slots, looking at the consumer's index only when fewer than `want` are known free.
    #[inline(always)]
    fn room(&mut self, want: usize) -> usize {
        let mut free = self.limit.wrapping_sub(self.head);
        if free < want {
            self.limit = self.s.tail.0.load(Acquire).wrapping_add(self.mask + 1);
            free = self.limit.wrapping_sub(self.head);
        }
        free
    }

    /// Copy `n` items from `src` into the slots at head (at most two runs: before
    /// and after the wrap) and advance head.
    ///
    /// # Safety
    /// `n <= room`, `src` valid for `n` reads of initialised items whose ownership
    /// moves into the ring (the caller must forget them).
    #[inline(always)]
    unsafe fn move_in(&mut self, src: *const T, n: usize) {
        let at = self.head & self.mask;
        let first = n.min(self.mask + 1 - at);
        // SAFETY: at + first <= capacity and the rest starts at slot 0; the slots are
        // free (caller checked room) and do not overlap src.
        unsafe {
            std::ptr::copy_nonoverlapping(src, self.slots.add(at) as *mut T, first);
            std::ptr::copy_nonoverlapping(src.add(first), self.slots as *mut T, n - first);
        }
        self.head = self.head.wrapping_add(n);
    }

    /// Move as many items as fit from the front of `batch` into the ring (not
    /// visible before [`publish`](Self::publish)); the rest stay in `batch`, in
    /// order. Returns how many moved.
    #[inline]
    pub fn push_batch(&mut self, batch: &mut Batch<T>) -> usize {
        let n = self.room(batch.len).min(batch.len);
        // SAFETY: batch.items[..n] are initialised; n fits; after the copy batch gives
        // them up by shifting the rest down (they are not dropped twice).
        unsafe {
            self.move_in(batch.items.as_ptr() as *const T, n);
            batch.forget_front(n);
        }
        n
    }

    /// Make everything pushed so far visible to the consumer (one release store).
    #[inline(always)]
    pub fn publish(&mut self) {
        self.s.head.0.store(self.head, Release);
    }

    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }
}

impl<T: Copy> Producer<T> {
    /// Copy as many of `items` as fit into the ring (not visible before
    /// [`publish`](Self::publish)); returns how many.
    #[inline]
    pub fn push_slice(&mut self, items: &[T]) -> usize {
        let n = self.room(items.len()).min(items.len());
        // SAFETY: n fits; T is Copy, so the originals stay valid.
        unsafe { self.move_in(items.as_ptr(), n) };
        n
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.publish();
        self.s.closed.store(true, Release);
    }
}

impl<T> Consumer<T> {
    /// Take up to `max` items, oldest first, handing each to `f`; returns how
    /// many were taken. The slots go back to the producer in one store at the end.
    #[inline(always)]
    pub fn pop_each(&mut self, max: usize, mut f: impl FnMut(T)) -> usize {
        let n = self.ready(max).min(max);
        for _ in 0..n {
            // SAFETY: (tail & mask) indexes the live slot array; tail < head (acquired), so
            // the producer initialised this slot and will not touch it again until tail
            // is published past it; it is read once.
            let v = unsafe { (*self.slots.add(self.tail & self.mask)).assume_init_read() };
            self.tail = self.tail.wrapping_add(1);
            f(v);
        }
        if n > 0 {
            self.s.tail.0.store(self.tail, Release);
        }
        n
    }

    /// Items known published, looking at the producer's index only when fewer than `want` are known.
    #[inline(always)]
    fn ready(&mut self, want: usize) -> usize {
        let mut avail = self.head.wrapping_sub(self.tail);
        if avail < want {
            self.head = self.s.head.0.load(Acquire);
            avail = self.head.wrapping_sub(self.tail);
        }
        avail
    }

    /// Move `n` items from the slots at tail to `dst` and give the slots back.
    ///
    /// # Safety
    /// `n <= ready`, `dst` valid for `n` writes, not overlapping the ring.
    #[inline(always)]
    unsafe fn move_out(&mut self, dst: *mut T, n: usize) {
        let at = self.tail & self.mask;
        let first = n.min(self.mask + 1 - at);
        // SAFETY: the n slots from tail were published (initialised) and are read once here.
        unsafe {
            std::ptr::copy_nonoverlapping(self.slots.add(at) as *const T, dst, first);
            std::ptr::copy_nonoverlapping(self.slots as *const T, dst.add(first), n - first);
        }
        self.tail = self.tail.wrapping_add(n);
        self.s.tail.0.store(self.tail, Release);
    }

    /// Move up to `max` items (as many as `batch` has room for) to the end of
    /// `batch`, oldest first; returns how many.
    #[inline]
    pub fn pop_batch(&mut self, batch: &mut Batch<T>, max: usize) -> usize {
        let want = max.min(BATCH - batch.len);
        let n = self.ready(want).min(want);
        if n > 0 {
            // SAFETY: batch.items[len..len + n] is free space; n is published.
            unsafe { self.move_out(batch.items.as_mut_ptr().add(batch.len) as *mut T, n) };
            batch.len += n;
        }
        n
    }

    /// Items published and not yet taken.
    pub fn len(&self) -> usize {
        self.s.head.0.load(Acquire).wrapping_sub(self.tail)
    }

    /// Nothing published is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The producer is gone and everything it published has been taken.
    pub fn is_finished(&self) -> bool {
        self.s.closed.load(Acquire) && self.is_empty()
    }
}

impl<T: Copy> Consumer<T> {
    /// Copy up to `out.len()` items into the front of `out`; returns how many.
    #[inline]
    pub fn pop_slice(&mut self, out: &mut [T]) -> usize {
        let n = self.ready(out.len()).min(out.len());
        if n > 0 {
            // SAFETY: out has room for n; n is published.
            unsafe { self.move_out(out.as_mut_ptr(), n) };
        }
        n
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Whatever was taken is gone; Shared's drop frees the rest.
        self.s.tail.0.store(self.tail, Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain<T: Send>(c: &mut Consumer<T>, max: usize) -> Vec<T> {
        let mut v = Vec::new();
        c.pop_each(max, |x| v.push(x));
        v
    }

    #[test]
    fn full_empty_and_publish() {
        let (mut p, mut c) = channel::<u32>(4);
        assert_eq!(drain(&mut c, 8), Vec::<u32>::new());
        for i in 0..4 {
            p.push(i).unwrap();
        }
        assert_eq!(p.push(9), Err(9), "full at capacity");
        assert!(c.is_empty(), "nothing visible before publish");
        p.publish();
        assert_eq!(c.len(), 4);
        assert_eq!(drain(&mut c, 3), vec![0, 1, 2]);
        p.push(4).unwrap();
        p.push(5).unwrap();
        p.publish();
        assert_eq!(drain(&mut c, 8), vec![3, 4, 5]);
        assert!(!c.is_finished());
        drop(p);
        assert!(c.is_finished());
    }

    #[test]
    fn leftovers_are_dropped_once() {
        let marker = Arc::new(());
        #[derive(Debug)]
        struct Item(#[allow(dead_code)] Arc<()>);
        let (mut p, mut c) = channel::<Item>(8);
        for _ in 0..6 {
            p.push(Item(Arc::clone(&marker))).unwrap();
        }
        p.publish();
        assert_eq!(c.pop_each(2, drop), 2);
        assert_eq!(Arc::strong_count(&marker), 5);
        // One pushed but never published: freed too.
        p.push(Item(Arc::clone(&marker))).unwrap();
        drop(p);
        drop(c);
        assert_eq!(Arc::strong_count(&marker), 1);
    }

    #[test]
    fn across_threads_in_order() {
        let (mut p, mut c) = channel::<u64>(64);
        let n = 200_000u64;
        let t = std::thread::spawn(move || {
            let mut i = 0;
            while i < n {
                while i < n && p.push(i).is_ok() {
                    i += 1;
                }
                p.publish();
            }
        });
        let mut next = 0;
        while !c.is_finished() {
            c.pop_each(32, |x| {
                assert_eq!(x, next);
                next += 1;
            });
        }
        t.join().unwrap();
        assert_eq!(next, n);
    }

    #[test]
    fn batches_move_owned_items_and_wrap() {
        let marker = Arc::new(());
        let (mut p, mut c) = channel::<(u32, Arc<()>)>(8);
        let mut b = Batch::new();
        let mut next = 0u32;
        let mut seen = 0u32;
        for round in 0..10 {
            while b.len() < 5 {
                assert!(b.push((next, Arc::clone(&marker))).is_ok());
                next += 1;
            }
            let moved = p.push_batch(&mut b);
            p.publish();
            assert!(moved <= 8, "round {round}");
            let mut out = Batch::new();
            c.pop_batch(&mut out, 3);
            for (id, _) in out.drain() {
                assert_eq!(id, seen);
                seen += 1;
            }
        }
        drop((p, c, b));
        assert_eq!(Arc::strong_count(&marker), 1, "every item dropped exactly once");
    }

    proptest! {
        /// Any interleaving of batch pushes and pops behaves like a bounded FIFO,
        /// across many wrap-arounds of a small ring.
        #[test]
        fn behaves_like_a_bounded_fifo(cap_log in 1u32..5, ops in proptest::collection::vec((0u8..4, 0usize..20), 1..200)) {
            let cap = 1usize << cap_log;
            let (mut p, mut c) = channel::<u32>(cap);
            let mut model = std::collections::VecDeque::new();
            let mut next = 0u32;
            for (op, n) in ops {
                match op {
                    // One item at a time.
                    0 => {
                        for _ in 0..n {
                            let ok = p.push(next).is_ok();
                            prop_assert_eq!(ok, model.len() < cap);
                            if ok {
                                model.push_back(next);
                            }
                            next += 1;
                        }
                        p.publish();
                    }
                    // A slice: as many as fit, in order.
                    1 => {
                        let items: Vec<u32> = (next..next + n as u32).collect();
                        let k = p.push_slice(&items);
                        prop_assert_eq!(k, n.min(cap - model.len()));
                        model.extend(&items[..k]);
                        next += n as u32;
                        p.publish();
                    }
                    2 => {
                        let got = drain(&mut c, n);
                        let want: Vec<u32> = (0..n.min(model.len())).map(|_| model.pop_front().unwrap()).collect();
                        prop_assert_eq!(got, want);
                    }
                    _ => {
                        let mut out = vec![0u32; n];
                        let k = c.pop_slice(&mut out);
                        let want: Vec<u32> = (0..n.min(model.len())).map(|_| model.pop_front().unwrap()).collect();
                        prop_assert_eq!(&out[..k], &want[..]);
                    }
                }
                prop_assert_eq!(c.len(), model.len());
            }
        }
    }
}
