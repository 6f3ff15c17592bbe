//! Packet buffer pools.

use super::{errno, hugepages, strerror, sys, DpdkError};
use std::ffi::CString;
use std::ptr::NonNull;

/// A pktmbuf pool. Pools are never freed before the EAL is cleaned up: a pool

/// Buffer bytes of each mbuf newipd's pools make: a 2 KiB frame plus the
/// 128-byte headroom DPDK keeps in front of it.
pub const MBUF_DATA_ROOM: u16 = 2048 + 128;

/// The data room mbufs need for frames of IP MTU `mtu` (Ethernet header,
/// two VLAN tags and the headroom besides): never less than
/// [`MBUF_DATA_ROOM`].
pub fn data_room_for(mtu: u16) -> u16 {
    let need = mtu as u32 + 14 + 8 + 128;
    need.div_ceil(64).saturating_mul(64).clamp(MBUF_DATA_ROOM as u32, u16::MAX as u32) as u16
}

/// freed while a driver still holds its mbufs would be a use after free.
#[derive(Clone, Copy)]
pub struct Mempool(NonNull<sys::rte_mempool>);

// SAFETY: rte_mempool is designed for concurrent use from many lcores.
unsafe impl Send for Mempool {}
// SAFETY: as above; all operations go through DPDK's thread-safe API.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Create a pool of `n` mbufs with a per-lcore cache of `cache` and
    /// `data_room` bytes of buffer each (headroom included).
    pub fn new(name: &str, n: u32, cache: u32, data_room: u16, socket: i32) -> Result<Mempool, DpdkError> {
        Self::with_priv(name, n, cache, 0, data_room, socket)
    }

    /// As [`new`](Self::new), with a private area of `priv_size` bytes (a
    /// multiple of 8) after each mbuf header, for per-packet metadata
    /// (see [`Mbuf::write_priv`](super::mbuf::Mbuf::write_priv)).
    pub fn with_priv(name: &str, n: u32, cache: u32, priv_size: u16, data_room: u16, socket: i32) -> Result<Mempool, DpdkError> {
        let cname = CString::new(name).map_err(|_| DpdkError::Call {
            call: "rte_pktmbuf_pool_create",
            what: name.into(),
            reason: "name has a NUL byte".into(),
        })?;
        // SAFETY: cname is a valid C string; the other arguments are plain values.
        let p = unsafe { sys::rte_pktmbuf_pool_create(cname.as_ptr(), n, cache, priv_size, data_room, socket) };
        NonNull::new(p).map(Mempool).ok_or_else(|| DpdkError::Call {
            call: "rte_pktmbuf_pool_create",
            what: format!("pool '{name}' of {n} mbufs"),
            reason: format!("{} ({})", strerror(errno()), hugepages::out_of_memory_hint()),
        })
    }

    /// Number of mbufs currently taken from the pool (by drivers, rings or us).
    pub fn in_use(&self) -> u32 {
        // SAFETY: self.0 is a live pool.
        unsafe { sys::rte_mempool_in_use_count(self.0.as_ptr()) }
    }

    /// Number of mbufs available in the pool.
    pub fn available(&self) -> u32 {
        // SAFETY: self.0 is a live pool.
        unsafe { sys::rte_mempool_avail_count(self.0.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.0.as_ptr()
    }
}
