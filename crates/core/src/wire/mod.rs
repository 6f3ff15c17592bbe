//! Packet headers over plain byte slices: parse, check and rewrite in place,
//! and build (for the generator and tests). No DPDK types here.

pub mod build;
pub mod checksum;
pub mod ether;
pub mod ipv4;
pub mod ipv6;
pub mod newip;

/// Read a big-endian u16 at `off` (caller has checked the bounds).
#[inline(always)]
pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}
