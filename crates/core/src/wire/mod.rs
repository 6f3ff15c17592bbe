//! Packet headers over plain byte slices: parse, check and rewrite in place,
//! and build (for the generator and tests). No DPDK types here.

pub mod build;
pub mod checksum;
pub mod ether;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod newip;
