//! Memory hints for newipd's own large tables.
//!
//! Without hugepages (`--no-huge`: CI, containers, laptops) everything newipd
//! allocates sits on 4 KiB pages. A lookup table of many megabytes (the
//! IPv4 DIR-24-8 table is 64 MiB of address space) then costs the packet
//! loop a TLB miss on many lookups: the packet buffers streaming through
//! the lcore keep evicting its page from the first-level TLB. Asking the
//! kernel for transparent huge pages for such a table (MADV_HUGEPAGE, before
//! it is first written) puts it on 2 MiB pages, which have TLB entries of
//! their own. DPDK's own tables live in hugepage memory for the same reason.

/// The whole 4 KiB pages inside `buf`: (first byte, length), None if none.
fn whole_pages<T>(buf: &mut [T]) -> Option<(usize, usize)> {
    const PAGE: usize = 4096;
    let start = buf.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(buf);
    let (first, last) = (start.div_ceil(PAGE) * PAGE, end / PAGE * PAGE);
    (last > first).then(|| (first, last - first))
}

/// Ask for transparent huge pages for the whole 4 KiB pages inside `buf`.
/// Best effort: returns false if the kernel refused (THP disabled, an old
/// kernel, a range too small); nothing about `buf` changes either way.
pub fn advise_huge<T>(buf: &mut [T]) -> bool {
    let Some((first, len)) = whole_pages(buf) else { return false };
    // SAFETY: [first, first + len) is whole pages inside memory `buf` owns; MADV_HUGEPAGE
    // changes only how the kernel backs them, never their contents.
    unsafe { libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE) == 0 }
}

/// Back the whole pages inside `buf` with memory now, as a write would
/// (MADV_POPULATE_WRITE, Linux 5.14): later writes take no page fault. For
/// tables that must take a burst of updates without the OS zeroing pages
/// in the middle of it, as DPDK's tables sit in hugepages reserved at
/// start. Best effort: false if the kernel refused (too old, no memory);
/// contents never change.
pub fn populate<T>(buf: &mut [T]) -> bool {
    let Some((first, len)) = whole_pages(buf) else { return false };
    // SAFETY: [first, first + len) is whole pages inside memory `buf` owns;
    // MADV_POPULATE_WRITE faults them in without changing their contents.
    unsafe { libc::madvise(first as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advises_large_buffers_and_keeps_contents() {
        let mut big = vec![7u32; 1 << 20];
        // THP may be disabled on the machine (then madvise says EINVAL): the
        // call must not fail the program, and contents never change.
        let _ = advise_huge(&mut big);
        assert!(big.iter().all(|&x| x == 7));
        let mut tiny = [1u8; 16];
        assert!(!advise_huge(&mut tiny), "no whole page inside 16 bytes");
    }

    #[test]
    fn populates_large_buffers_and_keeps_contents() {
        let mut big = vec![9u32; 1 << 20];
        // Debian 12's kernel (6.1) has MADV_POPULATE_WRITE.
        assert!(populate(&mut big), "MADV_POPULATE_WRITE refused: {}", std::io::Error::last_os_error());
        assert!(big.iter().all(|&x| x == 9));
        let mut zeroed = vec![0u64; 1 << 19];
        assert!(populate(&mut zeroed));
        assert!(zeroed.iter().all(|&x| x == 0));
        assert!(!populate(&mut [1u8; 16]), "no whole page inside 16 bytes");
    }
}
