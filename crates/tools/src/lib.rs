//! newipd-tools: the traffic tools that stand beside the router, not inside
//! it: the generator (`newipd gen`: pcap files or live on DPDK ports), the
//! sink (`newipd sink`), Internet-sized route sets (`newipd gen-routes`)
//! and the deadline experiment (EDF against FIFO in virtual time). They use
//! the pure layer (newipd-core) to build and check packets, and the DPDK
//! layer for the live loops (feature `dpdk`).

#![forbid(unsafe_code)]

pub mod experiment;
pub mod gen;
pub mod routes;
