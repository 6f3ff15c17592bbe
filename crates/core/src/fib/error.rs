//! Why a route or next-hop update was refused. The table is unchanged by a
//! refused update.

use super::nexthop::{NhIndex, MAX_NH};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FibError {
    /// Every second-level group is in use or still waiting for readers to
    /// pass a quiescent point (retry after they have, or size the pool larger).
    #[error("no free table group: {capacity} in the pool, {waiting} waiting for a grace period")]
    GroupsExhausted { capacity: usize, waiting: usize },
    #[error("no such route")]
    NoSuchRoute,
    #[error("next hop {0} is out of range (at most {max})", max = MAX_NH)]
    NextHopRange(NhIndex),
    #[error("prefix length {len} is longer than {max} bits")]
    Length { len: u16, max: u16 },
    /// Every next-hop slot is in use or waiting for a grace period.
    #[error("next-hop table full: {capacity} entries, {waiting} waiting for a grace period")]
    NextHopsFull { capacity: usize, waiting: usize },
    #[error("port {0} is out of range (at most {max})", max = crate::kinds::MAX_PORTS - 1)]
    Port(u16),
    #[error("next hop {0} is not in use")]
    NoSuchNextHop(NhIndex),
    #[error("an ECMP group needs at least one next hop with a weight above 0")]
    EmptyGroup,
    /// Every ECMP group's buckets are in use or waiting for a grace period.
    #[error("no free ECMP group ({groups} in all)")]
    GroupsFull { groups: usize },
}
