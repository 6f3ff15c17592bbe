//! The deadline queue: a bucketed find-first-set priority queue (a calendar
//! queue over a [`Bitmap3`]). Keys are times in ticks; a bucket spans
//! `1 << shift` ticks; the buckets cover a circular range of `nbuckets`
//! starting at `base`. FIFO inside a bucket. Every node is allocated up front:
//! push and pop never allocate.
//!
//! * Keys before `base` (already late) go to the first bucket: they are the
//!   most urgent there is.
//! * Keys past the horizon (`base + nbuckets` buckets) go to the last bucket.
//! * `base` follows the clock (`now`) and the earliest item, never beyond
//!   either, so a new urgent key always finds its own bucket.
//!
//! Order is exact between buckets and FIFO within one: the resolution of the
//! queue is one bucket width.

use super::bitmap::{Bitmap3, MAX_SLOTS};

const NIL: u32 = u32::MAX;

/// Key and FIFO links of one node: 16 bytes, one cache line per operation.
#[derive(Debug, Clone, Copy)]
struct Node {
    key: u64,
    next: u32,
    prev: u32,
}

/// A bounded priority queue of `T` keyed by time.
pub struct BucketQueue<T> {
    shift: u32,
    mask: u64,
    /// Absolute bucket number of the start of the range.
    base: u64,
    head: Vec<u32>,
    tail: Vec<u32>,
    nodes: Vec<Node>,
    items: Vec<Option<T>>,
    free: u32,
    len: usize,
    bits: Bitmap3,
    /// Absolute bucket number of the earliest non-empty bucket (when not empty).
    first: u64,
    /// Key of the head of that bucket (`u64::MAX` when empty): `peek_key`
    /// and `pop` read these instead of searching the bitmap.
    first_key: u64,
}

impl<T> BucketQueue<T> {
    /// `capacity` items; `nbuckets` (rounded up to a power of two, 64 ..= 262144)
    /// buckets of `1 << shift` ticks each.
    pub fn new(capacity: usize, nbuckets: usize, shift: u32) -> BucketQueue<T> {
        let nb = nbuckets.next_power_of_two().clamp(64, MAX_SLOTS);
        let cap = capacity.clamp(1, NIL as usize - 1);
        let mut nodes: Vec<Node> = (1..=cap as u32).map(|n| Node { key: 0, next: n, prev: NIL }).collect();
        nodes[cap - 1].next = NIL;
        BucketQueue {
            shift: shift.min(63),
            mask: nb as u64 - 1,
            base: 0,
            head: vec![NIL; nb],
            tail: vec![NIL; nb],
            nodes,
            items: (0..cap).map(|_| None).collect(),
            free: 0,
            len: 0,
            bits: Bitmap3::new(nb),
            first: 0,
            first_key: u64::MAX,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.items.len()
    }

    pub fn is_full(&self) -> bool {
        self.len == self.items.len()
    }

    /// Ticks covered by the bucket range.
    pub fn horizon(&self) -> u64 {
        (self.mask + 1) << self.shift
    }

    #[inline(always)]
    fn slot_of_bucket(&self, b: u64) -> usize {
        (b & self.mask) as usize
    }

    /// Insert `item` with `key`; `now` is the current time (keeps the range
    /// anchored to the clock). Gives the item back when the queue is full.
    #[inline]
    pub fn push(&mut self, key: u64, item: T, now: u64) -> Result<(), T> {
        let (b, slot, n) = self.take_node(key, item, now)?;
        if self.len == 1 || b < self.first {
            (self.first, self.first_key) = (b, key);
        }
        let t = self.tail[slot];
        self.nodes[n as usize].prev = t;
        if t == NIL {
            self.head[slot] = n;
            self.bits.set(slot);
        } else {
            self.nodes[t as usize].next = n;
        }
        self.tail[slot] = n;
        Ok(())
    }

    /// Put an item back at the head of its bucket (a packet the shaper held back).
    pub fn push_front(&mut self, key: u64, item: T, now: u64) -> Result<(), T> {
        let (b, slot, n) = self.take_node(key, item, now)?;
        if self.len == 1 || b <= self.first {
            (self.first, self.first_key) = (b, key);
        }
        let h = self.head[slot];
        self.nodes[n as usize].next = h;
        if h == NIL {
            self.tail[slot] = n;
            self.bits.set(slot);
        } else {
            self.nodes[h as usize].prev = n;
        }
        self.head[slot] = n;
        Ok(())
    }

    /// The bucket (absolute number) `push(key, _, now)` would pick, were
    /// the queue empty: buckets order items, and FIFO order within one.
    #[inline(always)]
    pub fn bucket_if_empty(&self, key: u64, now: u64) -> u64 {
        let base = self.base.max(now >> self.shift);
        (key >> self.shift).clamp(base, base + self.mask)
    }

    /// Take a free node for `item` (unlinked) and pick its bucket (absolute
    /// number and slot).
    #[inline(always)]
    fn take_node(&mut self, key: u64, item: T, now: u64) -> Result<(u64, usize, u32), T> {
        if self.free == NIL {
            return Err(item);
        }
        if self.len == 0 {
            self.base = self.base.max(now >> self.shift);
        }
        let b = (key >> self.shift).clamp(self.base, self.base + self.mask);
        let n = self.free;
        let ni = n as usize;
        self.free = self.nodes[ni].next;
        self.nodes[ni] = Node { key, next: NIL, prev: NIL };
        self.items[ni] = Some(item);
        self.len += 1;
        Ok((b, self.slot_of_bucket(b), n))
    }

    /// Absolute bucket number of the first non-empty bucket.
    #[inline(always)]
    fn earliest_bucket(&self) -> Option<u64> {
        let s0 = self.slot_of_bucket(self.base);
        let s = self.bits.next_circular(s0)?;
        Some(self.base + ((s as u64).wrapping_sub(s0 as u64) & self.mask))
    }

    /// [`peek_key`](Self::peek_key), or `u64::MAX` when empty (one load).
    #[inline(always)]
    pub fn peek_key_or_max(&self) -> u64 {
        self.first_key
    }

    /// The key at the head of the earliest bucket.
    #[inline(always)]
    pub fn peek_key(&self) -> Option<u64> {
        (self.len > 0).then_some(self.first_key)
    }

    /// Remove the head of the earliest bucket; `now` lets the range move on.
    #[inline]
    pub fn pop(&mut self, now: u64) -> Option<(u64, T)> {
        if self.len == 0 {
            return None;
        }
        let b = self.first;
        // Move the range up to the earliest item, but never past the clock.
        self.base = self.base.max(b.min(now >> self.shift));
        let slot = self.slot_of_bucket(b);
        let n = self.head[slot];
        let out = self.unlink(slot, n);
        match self.head[slot] {
            NIL => self.find_first(),
            h => self.first_key = self.nodes[h as usize].key,
        }
        Some(out)
    }

    /// Remove the newest item of the latest bucket (capacity drops).
    #[inline]
    pub fn pop_latest(&mut self) -> Option<(u64, T)> {
        let last = self.slot_of_bucket(self.base + self.mask);
        let slot = self.bits.prev_circular(last)?;
        let n = self.tail[slot];
        let out = self.unlink(slot, n);
        self.find_first();
        Some(out)
    }

    /// Search the bitmap for the earliest bucket and its head's key.
    fn find_first(&mut self) {
        match self.earliest_bucket() {
            Some(b) => {
                self.first = b;
                self.first_key = self.nodes[self.head[self.slot_of_bucket(b)] as usize].key;
            }
            None => self.first_key = u64::MAX,
        }
    }

    fn unlink(&mut self, slot: usize, n: u32) -> (u64, T) {
        let ni = n as usize;
        let Node { key, next: x, prev: p } = self.nodes[ni];
        if p == NIL {
            self.head[slot] = x;
        } else {
            self.nodes[p as usize].next = x;
        }
        if x == NIL {
            self.tail[slot] = p;
        } else {
            self.nodes[x as usize].prev = p;
        }
        if self.head[slot] == NIL {
            self.bits.clear(slot);
        }
        self.nodes[ni].next = self.free;
        self.free = n;
        self.len -= 1;
        // Every linked node holds an item (set in push, taken only here).
        let item = self.items[ni].take().expect("linked node has an item");
        (key, item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn orders_by_bucket_fifo_within() {
        let mut q = BucketQueue::new(16, 64, 4); // 16-tick buckets, 1024-tick horizon
        q.push(100, 'a', 0).unwrap();
        q.push(20, 'b', 0).unwrap();
        q.push(30, 'c', 0).unwrap(); // same bucket as 20 (16..31)
        q.push(5000, 'd', 0).unwrap(); // past the horizon: last bucket
        q.push(999, 'e', 0).unwrap();
        assert_eq!(q.peek_key(), Some(20));
        let order: Vec<char> = std::iter::from_fn(|| q.pop(0).map(|x| x.1)).collect();
        assert_eq!(order, vec!['b', 'c', 'a', 'e', 'd']);
    }

    #[test]
    fn late_keys_come_first_and_capacity_holds() {
        let mut q = BucketQueue::new(3, 64, 0);
        q.push(50, 1, 40).unwrap();
        q.push(45, 2, 40).unwrap();
        q.push(10, 3, 40).unwrap(); // before now: late, most urgent
        assert_eq!(q.push(60, 4, 40), Err(4));
        assert_eq!(q.pop_latest(), Some((50, 1)));
        assert_eq!(q.pop(40), Some((10, 3)));
        assert_eq!(q.pop(40), Some((45, 2)));
        assert_eq!(q.pop(40), None);
        assert!(q.is_empty());
    }

    #[test]
    fn push_front_goes_first_in_its_bucket() {
        let mut q = BucketQueue::new(8, 64, 4);
        q.push(17, 'a', 0).unwrap();
        q.push(18, 'b', 0).unwrap();
        let (k, x) = q.pop(0).unwrap();
        q.push_front(k, x, 0).unwrap();
        assert_eq!(q.pop(0), Some((17, 'a')));
        assert_eq!(q.pop(0), Some((18, 'b')));
    }

    #[test]
    fn range_follows_the_clock() {
        let mut q = BucketQueue::new(8, 64, 0);
        // Long idle, then far-future and urgent keys: the urgent one must come first.
        q.push(1_000_000 + 60, 'f', 1_000_000).unwrap();
        q.push(1_000_000 + 1, 'u', 1_000_000).unwrap();
        assert_eq!(q.pop(1_000_000).unwrap().1, 'u');
        q.push(1_000_000 + 2, 'v', 1_000_001).unwrap();
        assert_eq!(q.pop(1_000_001).unwrap().1, 'v');
        assert_eq!(q.pop(1_000_001).unwrap().1, 'f');
    }

    // Reference model: a sorted list by (bucket, order), with the same
    // clamping rule for the range. `order` is the insertion sequence for
    // push, and decreasing negative numbers for push_front (ahead of
    // everything already in the bucket).
    proptest! {
        #[test]
        fn matches_sorted_list_model(ops in proptest::collection::vec((0u8..5, 0u64..3000), 1..400)) {
            let shift = 3;
            let nb = 64u64;
            let mut q = BucketQueue::new(64, nb as usize, shift);
            let mut now = 0u64;
            let mut seq = 0u64;
            let mut front = 0i64;
            // (key, item, bucket, order)
            let mut model: Vec<(u64, u64, u64, i64)> = Vec::new();
            let mut base = 0u64;
            let sort = |m: &mut Vec<(u64, u64, u64, i64)>| m.sort_by_key(|e| (e.2, e.3));
            for (op, x) in ops {
                match op {
                    0 | 1 => {
                        let key = now.saturating_sub(200) + x;
                        if model.is_empty() { base = base.max(now >> shift); }
                        let b = (key >> shift).clamp(base, base + nb - 1);
                        match q.push(key, seq, now) {
                            Ok(()) => model.push((key, seq, b, seq as i64)),
                            Err(s) => { prop_assert_eq!(s, seq); prop_assert_eq!(model.len(), 64); }
                        }
                        seq += 1;
                    }
                    2 => {
                        sort(&mut model);
                        let want = if model.is_empty() { None } else { Some(model.remove(0)) };
                        if let Some(w) = want { base = base.max(w.2.min(now >> shift)); }
                        prop_assert_eq!(q.pop(now), want.map(|w| (w.0, w.1)));
                    }
                    3 => {
                        now += x % 50;
                        sort(&mut model);
                        let want = model.pop();
                        prop_assert_eq!(q.pop_latest(), want.map(|w| (w.0, w.1)));
                    }
                    _ => {
                        // Take the head and put it back in front (what the
                        // shaper does): it must come out first again.
                        sort(&mut model);
                        let got = q.pop(now);
                        if model.is_empty() {
                            prop_assert_eq!(got, None);
                        } else {
                            let w = model.remove(0);
                            prop_assert_eq!(got, Some((w.0, w.1)));
                            base = base.max(w.2.min(now >> shift));
                            if model.is_empty() { base = base.max(now >> shift); }
                            q.push_front(w.0, w.1, now).unwrap();
                            front -= 1;
                            model.push((w.0, w.1, (w.0 >> shift).clamp(base, base + nb - 1), front));
                        }
                    }
                }
                prop_assert_eq!(q.len(), model.len());
                sort(&mut model);
                prop_assert_eq!(q.peek_key(), model.first().map(|m| m.0));
                prop_assert_eq!(q.peek_key_or_max(), q.peek_key().unwrap_or(u64::MAX));
            }
        }
    }
}
