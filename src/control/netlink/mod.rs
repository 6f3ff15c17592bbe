//! The netlink mirror: the kernel's links, addresses, routes (multipath
//! included) and neighbours, followed over rtnetlink (a dump at start, then
//! notifications, a resync from a fresh dump on overrun), kept as a model
//! and told to a consumer as typed events. docs/control-plane.md explains it.
//!
//! * [`model`]: the mirrored objects and the [`model::Model`] holding them.
//! * [`update`]: one kernel message in the model's terms.
//! * [`parse`]: netlink-packet-route messages into updates (what is followed).
//! * [`diff`]: differences between two versions of a map.
//! * [`event`]: [`event::MirrorEvent`], what the consumer gets.
//! * [`engine`]: the state machine (dumps, notifications, resyncs), no socket.
//! * [`socket`]: the NETLINK_ROUTE socket (netlink-sys).
//! * [`mirror`]: socket + engine on a thread ([`mirror::Mirror`]).
//! * [`show`]: text and JSON forms; [`command`]: `newipd mirror`.
//! * [`install`]: `newipd install-routes`, batched route requests into the kernel.

pub mod command;
pub mod diff;
pub mod engine;
pub mod event;
pub mod install;
pub mod mirror;
pub mod model;
pub mod parse;
pub mod show;
pub mod socket;
pub mod update;

pub use engine::Filter;
pub use event::MirrorEvent;
pub use mirror::{Mirror, MirrorOptions, MirrorThread};
pub use model::Model;
