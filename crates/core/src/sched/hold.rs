//! The hold queue of a port: packets waiting for their eligibility time
//! (LBF `t_min`, precise-LBF `min`, on-time dampers), keyed by it.
//!
//! Most held packets become eligible in the order they arrived: a flow's
//! contract asks for the same hold on every packet, so its eligibility is
//! arrival plus a constant. Those go into a FIFO ring: a push and a pop are
//! a store and a load each, where the bucket queue links a node, sets or
//! clears bitmap bits and searches the bitmap for the next bucket. A packet
//! that would break the ring's order (eligible before the ring's newest)
//! goes into a [`BucketQueue`], and so does everything after it until that
//! queue is empty again: every ring packet then arrived before every
//! bucket-queue packet, so taking the earlier key of the two heads (the
//! ring's on a tie) keeps eligibility order and, for equal keys, arrival
//! order.
//!
//! Every slot is allocated up front: push and pop never allocate.

use super::queue::BucketQueue;

/// A bounded queue of `T` keyed by eligibility time, earliest first.
pub struct Hold<T> {
    /// The ring: `keys[i]` and `items[i]` for `i` in `head .. head + len`
    /// (modulo the capacity, a power of two); keys never decrease.
    keys: Vec<u64>,
    /// A value the caller keeps with each ring item (the port scheduler:
    /// its deadline), readable without touching the item.
    tags: Vec<u64>,
    items: Vec<Option<T>>,
    mask: usize,
    head: usize,
    len: usize,
    /// Packets out of the ring's order.
    other: BucketQueue<T>,
    /// The earliest key of the two (`u64::MAX` when empty): what
    /// [`peek_key_or_max`](Self::peek_key_or_max) reads on every packet.
    first_key: u64,
}

impl<T> Hold<T> {
    /// `capacity` packets in each of the ring and the bucket queue
    /// (`nbuckets` buckets of `1 << shift` ticks, see [`BucketQueue::new`]).
    pub fn new(capacity: usize, nbuckets: usize, shift: u32) -> Hold<T> {
        let cap = capacity.max(1).next_power_of_two();
        Hold {
            keys: vec![0; cap],
            tags: vec![0; cap],
            items: (0..cap).map(|_| None).collect(),
            mask: cap - 1,
            head: 0,
            len: 0,
            other: BucketQueue::new(capacity, nbuckets, shift),
            first_key: u64::MAX,
        }
    }

    pub fn len(&self) -> usize {
        self.len + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0 && self.other.is_empty()
    }

    /// The earliest key, or `u64::MAX` when empty (one load).
    #[inline(always)]
    pub fn peek_key_or_max(&self) -> u64 {
        self.first_key
    }

    /// The earliest key.
    #[inline(always)]
    pub fn peek_key(&self) -> Option<u64> {
        (!self.is_empty()).then_some(self.first_key)
    }

    /// The ring's newest key (`None` when the ring is empty).
    #[inline(always)]
    fn ring_last(&self) -> Option<u64> {
        (self.len > 0).then(|| self.keys[(self.head + self.len - 1) & self.mask])
    }

    /// Hold `item` until `key`, with `tag` kept beside it while it is in
    /// the ring ([`ring_at`](Self::ring_at)); `now` anchors the bucket
    /// queue's range. Gives the item back when full.
    #[inline]
    pub fn push(&mut self, key: u64, tag: u64, item: T, now: u64) -> Result<(), T> {
        let in_order = self.other.is_empty() && self.ring_last().is_none_or(|last| key >= last);
        if in_order && self.len <= self.mask {
            let i = (self.head + self.len) & self.mask;
            self.keys[i] = key;
            self.tags[i] = tag;
            self.items[i] = Some(item);
            self.len += 1;
        } else {
            self.other.push(key, item, now)?;
        }
        self.first_key = self.first_key.min(key);
        Ok(())
    }

    /// Remove the earliest item; `now` lets the bucket queue's range move on.
    #[inline]
    pub fn pop(&mut self, now: u64) -> Option<(u64, T)> {
        let ring = self.ring_head_key();
        let out = if ring != u64::MAX && ring <= self.other.peek_key_or_max() {
            let i = self.head;
            self.head = (i + 1) & self.mask;
            self.len -= 1;
            // Every slot from head for len holds an item (set in push, taken only here).
            self.items[i].take().map(|item| (ring, item))
        } else {
            self.other.pop(now)
        };
        self.first_key = self.ring_head_key().min(self.other.peek_key_or_max());
        out
    }

    /// Key and tag of the `j`-th ring item from the head (`None` past the
    /// ring's end). Items leave in ring order only while the bucket
    /// queue's earliest key ([`other_key_or_max`](Self::other_key_or_max))
    /// is later.
    #[inline(always)]
    pub fn ring_at(&self, j: usize) -> Option<(u64, u64)> {
        (j < self.len).then(|| {
            let i = (self.head + j) & self.mask;
            (self.keys[i], self.tags[i])
        })
    }

    /// The bucket queue's earliest key, or `u64::MAX` when it is empty.
    #[inline(always)]
    pub fn other_key_or_max(&self) -> u64 {
        self.other.peek_key_or_max()
    }

    /// The key at the ring's head, or `u64::MAX` when it is empty.
    #[inline(always)]
    fn ring_head_key(&self) -> u64 {
        if self.len > 0 {
            self.keys[self.head]
        } else {
            u64::MAX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn in_order_keys_use_the_ring_and_come_back_in_order() {
        let mut h = Hold::new(4, 64, 0);
        for (k, x) in [(10, 'a'), (10, 'b'), (12, 'c')] {
            h.push(k, k + 100, x, 0).unwrap();
        }
        assert_eq!((h.len, h.other.len()), (3, 0));
        assert_eq!((h.ring_at(0), h.ring_at(2), h.ring_at(3)), (Some((10, 110)), Some((12, 112)), None));
        // Out of order: into the bucket queue, and so is the next in-order one.
        h.push(11, 0, 'd', 0).unwrap();
        h.push(20, 0, 'e', 0).unwrap();
        assert_eq!((h.len, h.other.len()), (3, 2));
        assert_eq!(h.other_key_or_max(), 11);
        assert_eq!(h.peek_key(), Some(10));
        let order: Vec<char> = std::iter::from_fn(|| h.pop(0).map(|x| x.1)).collect();
        assert_eq!(order, vec!['a', 'b', 'd', 'c', 'e']);
        assert!(h.is_empty());
        assert_eq!(h.peek_key_or_max(), u64::MAX);
    }

    #[test]
    fn a_full_ring_spills_and_capacity_holds() {
        let mut h = Hold::new(2, 64, 0);
        h.push(1, 0, 1, 0).unwrap();
        h.push(2, 0, 2, 0).unwrap();
        h.push(3, 0, 3, 0).unwrap(); // the ring is full: the bucket queue takes it
        h.push(4, 0, 4, 0).unwrap();
        assert_eq!(h.push(5, 0, 5, 0), Err(5));
        let got: Vec<u64> = std::iter::from_fn(|| h.pop(0).map(|x| x.1)).collect();
        assert_eq!(got, vec![1, 2, 3, 4]);
    }

    proptest! {
        /// Against a model: items leave by key, equal keys in arrival order
        /// (bucket width 1, where the bucket queue is exact too); keys before
        /// the clock count as the clock's (the bucket queue's first bucket).
        #[test]
        fn pops_by_key_then_arrival(ops in proptest::collection::vec((any::<bool>(), 0u64..40), 1..300)) {
            let mut h = Hold::new(64, 4096, 0);
            let mut model: Vec<(u64, u32)> = Vec::new();
            let now = 0;
            let mut seq = 0u32;
            for (push, k) in ops {
                if push {
                    match h.push(k, 0, seq, now) {
                        Ok(()) => model.push((k, seq)),
                        Err(s) => prop_assert_eq!(s, seq),
                    }
                    seq += 1;
                } else {
                    let want = model.iter().enumerate().min_by_key(|(_, &(k, s))| (k, s)).map(|(i, _)| i).map(|i| model.remove(i));
                    prop_assert_eq!(h.pop(now), want);
                }
                prop_assert_eq!(h.len(), model.len());
                prop_assert_eq!(h.peek_key(), model.iter().map(|m| m.0).min());
            }
        }
    }
}
