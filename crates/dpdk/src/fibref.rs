//! DPDK's own route tables, as references to measure newipd's against
//! (benches/fib_compare.rs; docs/fib.md, "Against DPDK's rte_fib and
//! rte_lpm"): `rte_fib` (IPv4, DIR-24-8), `rte_fib6` (IPv6, trie),
//! `rte_lpm` and `rte_lpm6`. Create, add, delete and bulk lookup, nothing
//! more; the daemon does not use them.
//!
//! Their memory comes from a DPDK heap, so the EAL must be running: its
//! own memory (`socket` [`ANY_SOCKET`], `-m` large enough: an `rte_fib`
//! DIR-24-8 table with 8-byte next hops takes 2^24 × 8 = 128 MiB before
//! any group) or an [`external_heap`] on pages of the caller's choice. Updates are not safe
//! against concurrent lookups without DPDK's RCU, which these wrappers do
//! not set up: `&mut self` for updates keeps them apart.
//!
//! Next hops: `rte_fib` and `rte_fib6` return their default next hop, 0
//! here, for "no route", so store next hops from 1. `rte_lpm` returns raw
//! entries ([`RteLpm::hop`] decodes one), `rte_lpm6` -1 for "no route".

use super::{errno, strerror, sys, DpdkError};
use std::ffi::CString;
use std::ptr::NonNull;

/// Any socket (DPDK's own memory, not an [`external_heap`]).
pub const ANY_SOCKET: i32 = sys::SOCKET_ID_ANY;

/// Addresses per call into DPDK (rte_lpm's bulk lookup keeps an array of
/// that many indexes on the stack).
const CHUNK: usize = 256;

fn cname(call: &'static str, name: &str) -> Result<CString, DpdkError> {
    CString::new(name).map_err(|_| DpdkError::Call { call, what: format!("table '{name}'"), reason: "name has a NUL byte".into() })
}

fn failed(call: &'static str, what: String, rc: i32) -> DpdkError {
    DpdkError::Call { call, what, reason: strerror(rc) }
}

fn check(call: &'static str, rc: i32, what: impl FnOnce() -> String) -> Result<(), DpdkError> {
    if rc < 0 {
        Err(failed(call, what(), rc))
    } else {
        Ok(())
    }
}

/// Size of the next hops an `rte_fib` / `rte_fib6` table stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NhSize {
    /// 4 bytes (31 bits of next hop): a 64 MiB first level.
    Four,
    /// 8 bytes (63 bits): a 128 MiB first level.
    Eight,
}

/// Which lookup function an `rte_fib` / `rte_fib6` table uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The scalar one.
    Scalar,
    /// AVX-512, 16 or 8 addresses at a time (needs the CPU flags, a DPDK
    /// built with it, and the EAL's `--force-max-simd-bitwidth=512`).
    Avx512,
}

/// An IPv4 `rte_fib` with the DIR-24-8 data plane.
pub struct RteFib {
    p: NonNull<sys::rte_fib>,
}

// SAFETY: an rte_fib is plain memory owned by this value; updates take &mut self.
unsafe impl Send for RteFib {}

impl RteFib {
    /// A table for `max_routes` routes with `tbl8` second-level groups.
    pub fn dir24_8(name: &str, socket: i32, max_routes: u32, tbl8: u32, nh: NhSize) -> Result<RteFib, DpdkError> {
        let n = cname("rte_fib_create", name)?;
        let mut conf =
            sys::rte_fib_conf { type_: sys::rte_fib_type_RTE_FIB_DIR24_8, default_nh: 0, max_routes: max_routes as i32, ..Default::default() };
        conf.__bindgen_anon_1.dir24_8.nh_sz = match nh {
            NhSize::Four => sys::rte_fib_dir24_8_nh_sz_RTE_FIB_DIR24_8_4B,
            NhSize::Eight => sys::rte_fib_dir24_8_nh_sz_RTE_FIB_DIR24_8_8B,
        };
        conf.__bindgen_anon_1.dir24_8.num_tbl8 = tbl8;
        // SAFETY: n is a valid C string and conf a fully initialised configuration.
        let p = unsafe { sys::rte_fib_create(n.as_ptr(), socket, &mut conf) };
        NonNull::new(p).map(|p| RteFib { p }).ok_or_else(|| failed("rte_fib_create", format!("table '{name}'"), errno()))
    }

    /// Add a route (or give it a new next hop). `ip` in host order.
    pub fn add(&mut self, ip: u32, depth: u8, nh: u64) -> Result<(), DpdkError> {
        // SAFETY: self.p is a live table; DPDK checks depth and next hop.
        let rc = unsafe { sys::rte_fib_add(self.p.as_ptr(), ip, depth, nh) };
        check("rte_fib_add", rc, || format!("{ip:#x}/{depth}"))
    }

    /// Delete a route.
    pub fn delete(&mut self, ip: u32, depth: u8) -> Result<(), DpdkError> {
        // SAFETY: self.p is a live table.
        let rc = unsafe { sys::rte_fib_delete(self.p.as_ptr(), ip, depth) };
        check("rte_fib_delete", rc, || format!("{ip:#x}/{depth}"))
    }

    /// Use this lookup function; false if DPDK refused it.
    pub fn select(&mut self, l: Lookup) -> bool {
        let t = match l {
            Lookup::Scalar => sys::rte_fib_lookup_type_RTE_FIB_LOOKUP_DIR24_8_SCALAR_MACRO,
            Lookup::Avx512 => sys::rte_fib_lookup_type_RTE_FIB_LOOKUP_DIR24_8_VECTOR_AVX512,
        };
        // SAFETY: self.p is a live table.
        unsafe { sys::rte_fib_select_lookup(self.p.as_ptr(), t) == 0 }
    }

    /// Next hops of `ips` (host order) into the front of `out` (0: no route).
    #[inline]
    pub fn lookup_bulk(&self, ips: &[u32], out: &mut [u64]) {
        for (i, o) in ips.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let n = i.len().min(o.len());
            // SAFETY: i and o hold n elements each; despite its signature
            // rte_fib_lookup_bulk only reads ips and only reads the table.
            unsafe { sys::rte_fib_lookup_bulk(self.p.as_ptr(), i.as_ptr() as *mut u32, o.as_mut_ptr(), n as i32) };
        }
    }
}

impl Drop for RteFib {
    fn drop(&mut self) {
        // SAFETY: the table is live and nothing else refers to it.
        unsafe { sys::rte_fib_free(self.p.as_ptr()) };
    }
}

/// An IPv6 `rte_fib6` with the trie data plane (24-bit first level, then 8-bit levels).
pub struct RteFib6 {
    p: NonNull<sys::rte_fib6>,
}

// SAFETY: as for RteFib.
unsafe impl Send for RteFib6 {}

impl RteFib6 {
    /// A table for `max_routes` routes with `tbl8` groups.
    pub fn trie(name: &str, socket: i32, max_routes: u32, tbl8: u32, nh: NhSize) -> Result<RteFib6, DpdkError> {
        let n = cname("rte_fib6_create", name)?;
        let mut conf =
            sys::rte_fib6_conf { type_: sys::rte_fib6_type_RTE_FIB6_TRIE, default_nh: 0, max_routes: max_routes as i32, ..Default::default() };
        conf.__bindgen_anon_1.trie.nh_sz = match nh {
            NhSize::Four => sys::rte_fib_trie_nh_sz_RTE_FIB6_TRIE_4B,
            NhSize::Eight => sys::rte_fib_trie_nh_sz_RTE_FIB6_TRIE_8B,
        };
        conf.__bindgen_anon_1.trie.num_tbl8 = tbl8;
        // SAFETY: as in RteFib::dir24_8.
        let p = unsafe { sys::rte_fib6_create(n.as_ptr(), socket, &mut conf) };
        NonNull::new(p).map(|p| RteFib6 { p }).ok_or_else(|| failed("rte_fib6_create", format!("table '{name}'"), errno()))
    }

    pub fn add(&mut self, ip: &[u8; 16], depth: u8, nh: u64) -> Result<(), DpdkError> {
        // SAFETY: ip is 16 readable bytes; self.p is a live table.
        let rc = unsafe { sys::rte_fib6_add(self.p.as_ptr(), ip.as_ptr(), depth, nh) };
        check("rte_fib6_add", rc, || format!("{:x}/{depth}", u128::from_be_bytes(*ip)))
    }

    pub fn delete(&mut self, ip: &[u8; 16], depth: u8) -> Result<(), DpdkError> {
        // SAFETY: as in add.
        let rc = unsafe { sys::rte_fib6_delete(self.p.as_ptr(), ip.as_ptr(), depth) };
        check("rte_fib6_delete", rc, || format!("{:x}/{depth}", u128::from_be_bytes(*ip)))
    }

    /// Use this lookup function; false if DPDK refused it.
    pub fn select(&mut self, l: Lookup) -> bool {
        let t = match l {
            Lookup::Scalar => sys::rte_fib6_lookup_type_RTE_FIB6_LOOKUP_TRIE_SCALAR,
            Lookup::Avx512 => sys::rte_fib6_lookup_type_RTE_FIB6_LOOKUP_TRIE_VECTOR_AVX512,
        };
        // SAFETY: self.p is a live table.
        unsafe { sys::rte_fib6_select_lookup(self.p.as_ptr(), t) == 0 }
    }

    /// Next hops of `ips` (network order bytes) into the front of `out` (0: no route).
    #[inline]
    pub fn lookup_bulk(&self, ips: &[[u8; 16]], out: &mut [u64]) {
        for (i, o) in ips.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let n = i.len().min(o.len());
            // SAFETY: as in RteFib::lookup_bulk (the ips are only read).
            unsafe { sys::rte_fib6_lookup_bulk(self.p.as_ptr(), i.as_ptr() as *mut [u8; 16], o.as_mut_ptr(), n as i32) };
        }
    }
}

impl Drop for RteFib6 {
    fn drop(&mut self) {
        // SAFETY: the table is live and nothing else refers to it.
        unsafe { sys::rte_fib6_free(self.p.as_ptr()) };
    }
}

/// An IPv4 `rte_lpm` (DIR-24-8, 24-bit next hops).
pub struct RteLpm {
    p: NonNull<sys::rte_lpm>,
}

// SAFETY: as for RteFib.
unsafe impl Send for RteLpm {}

impl RteLpm {
    /// A table for `max_rules` routes with `tbl8` groups.
    pub fn new(name: &str, socket: i32, max_rules: u32, tbl8: u32) -> Result<RteLpm, DpdkError> {
        let n = cname("rte_lpm_create", name)?;
        let conf = sys::rte_lpm_config { max_rules, number_tbl8s: tbl8, flags: 0 };
        // SAFETY: n is a valid C string and conf a valid configuration.
        let p = unsafe { sys::rte_lpm_create(n.as_ptr(), socket, &conf) };
        NonNull::new(p).map(|p| RteLpm { p }).ok_or_else(|| failed("rte_lpm_create", format!("table '{name}'"), errno()))
    }

    /// Add a route (`depth` 1..=32, `nh` below 2^24).
    pub fn add(&mut self, ip: u32, depth: u8, nh: u32) -> Result<(), DpdkError> {
        // SAFETY: self.p is a live table; DPDK checks the depth.
        let rc = unsafe { sys::rte_lpm_add(self.p.as_ptr(), ip, depth, nh) };
        check("rte_lpm_add", rc, || format!("{ip:#x}/{depth}"))
    }

    pub fn delete(&mut self, ip: u32, depth: u8) -> Result<(), DpdkError> {
        // SAFETY: self.p is a live table.
        let rc = unsafe { sys::rte_lpm_delete(self.p.as_ptr(), ip, depth) };
        check("rte_lpm_delete", rc, || format!("{ip:#x}/{depth}"))
    }

    /// Raw entries for `ips` into the front of `out` ([`RteLpm::hop`] decodes them).
    #[inline]
    pub fn lookup_bulk(&self, ips: &[u32], out: &mut [u32]) {
        for (i, o) in ips.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let n = i.len().min(o.len());
            // SAFETY: i and o hold n elements each; the lookup only reads the table.
            unsafe { sys::newipd_lpm_lookup_bulk(self.p.as_ptr(), i.as_ptr(), o.as_mut_ptr(), n as u32) };
        }
    }

    /// Next hops by `rte_lpm_lookupx4` (four addresses per SSE / NEON step;
    /// what DPDK's l3fwd uses), `miss` for no route. A tail of fewer than
    /// four addresses is left alone.
    #[inline]
    pub fn lookupx4_bulk(&self, ips: &[u32], out: &mut [u32], miss: u32) {
        let n = ips.len().min(out.len()) & !3;
        // SAFETY: ips and out hold at least n elements, n a multiple of 4.
        unsafe { sys::newipd_lpm_lookupx4_bulk(self.p.as_ptr(), ips.as_ptr(), out.as_mut_ptr(), n as u32, miss) };
    }

    /// The next hop in a raw entry from [`RteLpm::lookup_bulk`].
    #[inline]
    pub fn hop(raw: u32) -> Option<u32> {
        (raw & sys::RTE_LPM_LOOKUP_SUCCESS != 0).then_some(raw & 0x00ff_ffff)
    }
}

impl Drop for RteLpm {
    fn drop(&mut self) {
        // SAFETY: the table is live and nothing else refers to it.
        unsafe { sys::rte_lpm_free(self.p.as_ptr()) };
    }
}

/// An IPv6 `rte_lpm6`.
pub struct RteLpm6 {
    p: NonNull<sys::rte_lpm6>,
}

// SAFETY: as for RteFib.
unsafe impl Send for RteLpm6 {}

impl RteLpm6 {
    /// A table for `max_rules` routes with `tbl8` groups.
    pub fn new(name: &str, socket: i32, max_rules: u32, tbl8: u32) -> Result<RteLpm6, DpdkError> {
        let n = cname("rte_lpm6_create", name)?;
        let conf = sys::rte_lpm6_config { max_rules, number_tbl8s: tbl8, flags: 0 };
        // SAFETY: n is a valid C string and conf a valid configuration.
        let p = unsafe { sys::rte_lpm6_create(n.as_ptr(), socket, &conf) };
        NonNull::new(p).map(|p| RteLpm6 { p }).ok_or_else(|| failed("rte_lpm6_create", format!("table '{name}'"), errno()))
    }

    /// Add a route (`depth` 1..=128, `nh` below 2^21).
    pub fn add(&mut self, ip: &[u8; 16], depth: u8, nh: u32) -> Result<(), DpdkError> {
        // SAFETY: ip is 16 readable bytes; self.p is a live table.
        let rc = unsafe { sys::rte_lpm6_add(self.p.as_ptr(), ip.as_ptr(), depth, nh) };
        check("rte_lpm6_add", rc, || format!("{:x}/{depth}", u128::from_be_bytes(*ip)))
    }

    pub fn delete(&mut self, ip: &[u8; 16], depth: u8) -> Result<(), DpdkError> {
        // SAFETY: as in add.
        let rc = unsafe { sys::rte_lpm6_delete(self.p.as_ptr(), ip.as_ptr(), depth) };
        check("rte_lpm6_delete", rc, || format!("{:x}/{depth}", u128::from_be_bytes(*ip)))
    }

    /// Next hops of `ips` into the front of `out` (-1: no route).
    #[inline]
    pub fn lookup_bulk(&self, ips: &[[u8; 16]], out: &mut [i32]) {
        for (i, o) in ips.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let n = i.len().min(o.len());
            // SAFETY: i and o hold n elements each; the ips are only read.
            unsafe { sys::rte_lpm6_lookup_bulk_func(self.p.as_ptr(), i.as_ptr() as *mut [u8; 16], o.as_mut_ptr(), n as u32) };
        }
    }
}

impl Drop for RteLpm6 {
    fn drop(&mut self) {
        // SAFETY: the table is live and nothing else refers to it.
        unsafe { sys::rte_lpm6_free(self.p.as_ptr()) };
    }
}

/// Bytes allocated from the DPDK heap of `socket` (what the tables above take).
pub fn heap_allocated(socket: i32) -> u64 {
    let mut s = sys::rte_malloc_socket_stats::default();
    // SAFETY: s is a valid stats structure for DPDK to fill.
    let rc = unsafe { sys::rte_malloc_get_socket_stats(socket, &mut s) };
    if rc < 0 {
        0
    } else {
        s.heap_allocsz_bytes as u64
    }
}

/// Page size an external heap is carved in (and aligned to).
const HEAP_PAGE: usize = 2 << 20;

/// A DPDK heap on memory this process maps itself: `len` bytes (rounded
/// up to 2 MiB) of anonymous memory, on transparent huge pages if `huge`
/// (else on 4 KiB pages). Returns the socket id to create tables on. It
/// lives as long as the process: nothing unmaps it.
///
/// Why: with `--no-huge` DPDK's own memory is a memfd on 4 KiB pages
/// (shared memory gets transparent huge pages only if the administrator
/// enabled them for shmem), so this is how DPDK's tables get the same
/// pages as newipd's, with or without hugepages.
pub fn external_heap(name: &str, len: usize, huge: bool) -> Result<i32, DpdkError> {
    let n = cname("rte_malloc_heap_create", name)?;
    let bad = |call: &'static str, reason: String| DpdkError::Call { call, what: format!("heap '{name}'"), reason };
    let len = len.div_ceil(HEAP_PAGE).max(1) * HEAP_PAGE;
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let raw = unsafe {
        libc::mmap(std::ptr::null_mut(), len + HEAP_PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if raw == libc::MAP_FAILED {
        return Err(bad("mmap", std::io::Error::last_os_error().to_string()));
    }
    // The heap wants its start aligned to its page size.
    let start = (raw as usize).div_ceil(HEAP_PAGE) * HEAP_PAGE;
    let addr = start as *mut std::os::raw::c_void;
    let advice = if huge { libc::MADV_HUGEPAGE } else { libc::MADV_NOHUGEPAGE };
    // SAFETY: [addr, addr + len) lies inside the mapping just made; the
    // advice changes only how the kernel backs it.
    if unsafe { libc::madvise(addr, len, advice) } != 0 {
        return Err(bad("madvise", std::io::Error::last_os_error().to_string()));
    }
    // SAFETY: n is a valid C string.
    if unsafe { sys::rte_malloc_heap_create(n.as_ptr()) } != 0 {
        return Err(bad("rte_malloc_heap_create", strerror(errno())));
    }
    // SAFETY: the range is mapped, aligned to HEAP_PAGE, owned by nobody
    // else, and stays mapped for the life of the process.
    if unsafe { sys::rte_malloc_heap_memory_add(n.as_ptr(), addr, len, std::ptr::null_mut(), 0, HEAP_PAGE) } != 0 {
        return Err(bad("rte_malloc_heap_memory_add", strerror(errno())));
    }
    // SAFETY: n is a valid C string.
    let socket = unsafe { sys::rte_malloc_heap_get_socket(n.as_ptr()) };
    if socket < 0 {
        return Err(bad("rte_malloc_heap_get_socket", strerror(errno())));
    }
    Ok(socket)
}
