//! The differences between two versions of one kind's map: what a resync
//! emits so that a consumer holding the old version ends with the new one.

use std::collections::BTreeMap;

/// One difference, keyed the same in both maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change<T> {
    Added(T),
    Changed(T, T),
    Removed(T),
}

/// Calls `f` with every difference from `old` to `new`, in key order
/// (removals and additions interleaved as the keys fall): a merge of the two
/// sorted maps, O(old + new), nothing allocated but the values handed out.
pub fn diff<K: Ord, T: Clone + PartialEq>(old: &BTreeMap<K, T>, new: &BTreeMap<K, T>, mut f: impl FnMut(Change<T>)) {
    let mut a = old.iter().peekable();
    let mut b = new.iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => return,
            (Some((_, v)), None) => {
                f(Change::Removed((*v).clone()));
                a.next();
            }
            (None, Some((_, v))) => {
                f(Change::Added((*v).clone()));
                b.next();
            }
            (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    f(Change::Removed((*va).clone()));
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    f(Change::Added((*vb).clone()));
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if va != vb {
                        f(Change::Changed((*va).clone(), (*vb).clone()));
                    }
                    a.next();
                    b.next();
                }
            },
        }
    }
}

/// Applies changes to a map (what a consumer does with the events); the
/// tests use it to show that old + diff(old, new) = new.
pub fn apply<K: Ord, T>(map: &mut BTreeMap<K, T>, key: impl Fn(&T) -> K, c: Change<T>) {
    match c {
        Change::Added(v) | Change::Changed(_, v) => {
            map.insert(key(&v), v);
        }
        Change::Removed(v) => {
            map.remove(&key(&v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(items: &[(u32, &str)]) -> BTreeMap<u32, (u32, String)> {
        items.iter().map(|&(k, v)| (k, (k, v.to_string()))).collect()
    }

    #[test]
    fn every_kind_of_difference_in_key_order() {
        let old = m(&[(1, "a"), (2, "b"), (4, "d"), (6, "f")]);
        let new = m(&[(2, "b"), (3, "c"), (4, "D"), (7, "g")]);
        let mut got = Vec::new();
        diff(&old, &new, |c| got.push(c));
        let s = |k: u32, v: &str| (k, v.to_string());
        assert_eq!(
            got,
            vec![
                Change::Removed(s(1, "a")),
                Change::Added(s(3, "c")),
                Change::Changed(s(4, "d"), s(4, "D")),
                Change::Removed(s(6, "f")),
                Change::Added(s(7, "g")),
            ]
        );
    }

    #[test]
    fn equal_maps_differ_in_nothing() {
        let a = m(&[(1, "a"), (2, "b")]);
        let mut n = 0;
        diff(&a, &a.clone(), |_| n += 1);
        assert_eq!(n, 0);
        diff(&BTreeMap::<u32, (u32, String)>::new(), &BTreeMap::new(), |_| n += 1);
        assert_eq!(n, 0);
    }

    #[test]
    fn old_plus_diff_is_new_on_pseudo_random_maps() {
        // A small LCG: no dependency, the same maps every run.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as u32
        };
        for _ in 0..200 {
            let mut old = BTreeMap::new();
            let mut new = BTreeMap::new();
            for _ in 0..(next() % 40) {
                let k = next() % 50;
                old.insert(k, (k, next() % 3));
            }
            for _ in 0..(next() % 40) {
                let k = next() % 50;
                new.insert(k, (k, next() % 3));
            }
            let mut mirror = old.clone();
            diff(&old, &new, |c| apply(&mut mirror, |v: &(u32, u32)| v.0, c));
            assert_eq!(mirror, new);
        }
    }
}
