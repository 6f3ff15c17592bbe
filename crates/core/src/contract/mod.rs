//! One module per contract: everything newipd knows about it in one place.
//!
//! | module | contract | fields | arrival | transmit | reported delay | metadata |
//! |---|---|---|---|---|---|---|
//! | [`max_delay`] | type 1 | ms | deadline = what is left | delay_exp + time here, or drop | delay_exp | offset |
//! | [`lbf`] | type 2 | ms, 0.1 ms | window over the hops to go; hop taken off | experienced + time here | experienced | offset, delay as it arrived |
//! | [`ping`] | type 3 | code, hops | hop taken off; answered when addressed to newipd | none | none | none |
//! | [`precise_lbf`] | 0x8001 | ns | window over the route's hops and delay | experienced + time here + link, hops + 1 | experienced | value offset |
//! | [`ipv6_option`] | IPv6 HBH 0x3E | the 0x8001 value | as 0x8001 | as 0x8001 | as 0x8001 | as 0x8001 |
//! | [`on_time`] | 0x8002 | damper, prio | hold for the damper, schedule by prio | damper for the next hop, or drop / Ds | none | value offset, prio |
//! | [`qualitative`] | 0x8003 | chunk table | marked washable | (washed while queueing) | none | washable |
//!
//! Each gives its field offsets once, as constants; the parser, the
//! general path and the fast paths all read through them.
//!
//! Shared by the TLV contracts: [`tlv`] (type and length). Shared by the
//! deadline contracts: [`budget`] (what an arrival rule
//! returns, and why it refuses). Shared by all: [`words`] (where the
//! per-packet metadata sits in the mbuf private area; each contract's
//! `Meta` packs its own bits into it).

pub mod budget;
pub mod ipv6_option;
pub mod lbf;
pub mod max_delay;
pub mod on_time;
pub mod ping;
pub mod precise_lbf;
pub mod qualitative;
pub mod tlv;
pub mod words;
