//! Big-endian field access over byte slices, the one set every format and
//! contract uses. The `Option`/`bool` forms are bounds-checked and never
//! panic; [`be`] and [`field`] take a fixed-size array, so a constant index
//! needs no check at run time.

/// Read a big-endian u16 at `off`, or `None` when out of bounds.
#[inline(always)]
pub fn rd16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes(arr::<2>(b, off)?))
}

/// Read a big-endian u32 at `off`, or `None` when out of bounds.
#[inline(always)]
pub fn rd32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes(arr::<4>(b, off)?))
}

/// Copy `N` bytes at `off` into an array, or `None` when out of bounds.
#[inline(always)]
pub fn arr<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// The `N` bytes at `off` as an array reference (one bounds check for all
/// the fields in it), or `None` when out of bounds.
#[inline(always)]
pub fn fields<const N: usize>(b: &[u8], off: usize) -> Option<&[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// [`fields`], writable.
#[inline(always)]
pub fn fields_mut<const N: usize>(b: &mut [u8], off: usize) -> Option<&mut [u8; N]> {
    b.get_mut(off..off.checked_add(N)?)?.try_into().ok()
}

/// Big-endian u16 at `i` of a fixed array (bounds known at compile time).
#[inline(always)]
pub fn be<const N: usize>(f: &[u8; N], i: usize) -> u16 {
    u16::from_be_bytes([f[i], f[i + 1]])
}

/// Big-endian u32 at `i` of a fixed array.
#[inline(always)]
pub fn be32<const N: usize>(f: &[u8; N], i: usize) -> u32 {
    u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]])
}

/// Write a big-endian u16 at `i` of a fixed array.
#[inline(always)]
pub fn put16<const N: usize>(f: &mut [u8; N], i: usize, v: u16) {
    f[i..i + 2].copy_from_slice(&v.to_be_bytes());
}

/// Write a big-endian u32 at `i` of a fixed array.
#[inline(always)]
pub fn put32<const N: usize>(f: &mut [u8; N], i: usize, v: u32) {
    f[i..i + 4].copy_from_slice(&v.to_be_bytes());
}

/// Read a big-endian u16 at `off` (the caller has checked the bounds).
#[inline(always)]
pub fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// Write `v` at `off`; false (and nothing written) when out of bounds.
#[inline(always)]
pub fn wr_bytes(b: &mut [u8], off: usize, v: &[u8]) -> bool {
    match off.checked_add(v.len()).and_then(|end| b.get_mut(off..end)) {
        Some(dst) => {
            dst.copy_from_slice(v);
            true
        }
        None => false,
    }
}

/// Write a big-endian u16 at `off`; false when out of bounds.
#[inline(always)]
pub fn wr16(b: &mut [u8], off: usize, v: u16) -> bool {
    wr_bytes(b, off, &v.to_be_bytes())
}

/// Write a big-endian u32 at `off`; false when out of bounds.
#[inline(always)]
pub fn wr32(b: &mut [u8], off: usize, v: u32) -> bool {
    wr_bytes(b, off, &v.to_be_bytes())
}

/// A fixed-size contract of type `ty` and `size` bytes starts at `off`:
/// its type field says so and it is whole in `b`.
#[inline(always)]
pub fn tagged(b: &[u8], off: usize, ty: u16, size: usize) -> bool {
    rd16(b, off) == Some(ty) && off.checked_add(size).is_some_and(|e| e <= b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_bounds_reads_none_and_writes_nothing() {
        let mut b = [1u8, 2, 3];
        assert_eq!(rd16(&b, 1), Some(0x0203));
        assert_eq!(rd16(&b, 2), None);
        assert_eq!(rd32(&b, 0), None);
        assert_eq!(rd16(&b, usize::MAX), None);
        assert!(!wr16(&mut b, 2, 0xffff));
        assert!(!wr32(&mut b, usize::MAX, 0));
        assert_eq!(b, [1, 2, 3]);
        assert!(wr16(&mut b, 1, 0xabcd));
        assert_eq!(b, [1, 0xab, 0xcd]);
        assert_eq!(fields::<2>(&b, 2), None);
        let f = fields::<3>(&b, 0).expect("whole");
        assert_eq!((be(f, 1), be16(&b, 0)), (0xabcd, 0x01ab));
    }

    #[test]
    fn fixed_array_access_round_trips() {
        let mut f = [0u8; 8];
        put16(&mut f, 0, 0x1234);
        put32(&mut f, 2, 0xdead_beef);
        assert_eq!((be(&f, 0), be32(&f, 2)), (0x1234, 0xdead_beef));
        *fields_mut::<2>(&mut f, 6).expect("fits") = [9, 9];
        assert_eq!(be(&f, 6), 0x0909);
        assert!(fields_mut::<2>(&mut f, 7).is_none());
    }
}
