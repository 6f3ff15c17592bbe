//! Each contract's arrival rule (its module in [`crate::contract`]) applied
//! to the packet's [`TxMeta`]: the budget narrows its window, its part of
//! the metadata is set. Shared by the general New IP path, the
//! simple-packet shortcut, the templates and the IPv6 latency option.

use super::meta::{PacketCtx, TxMeta};
use crate::bytes::fields;
use crate::contract::{lbf, max_delay, on_time, precise_lbf};
use crate::fib::NextHop;
use crate::kinds::{Event, Reason};
use crate::stats::Counters;

/// A Max Delay contract at `off`.
#[inline(always)]
pub fn max_delay(buf: &[u8], off: usize, ctx: &PacketCtx, meta: &mut TxMeta) -> Result<(), Reason> {
    if let Some(f) = fields::<{ max_delay::LEN }>(buf, off) {
        meta.apply(ctx.now_ns, max_delay::arrive(f)?);
        meta.max_delay = max_delay::Meta { off: off as u16 };
    }
    Ok(())
}

/// An LBF contract at `off`.
#[inline(always)]
pub fn lbf(buf: &[u8], off: usize, ctx: &PacketCtx, meta: &mut TxMeta) -> Result<(), Reason> {
    if let Some(f) = fields::<{ lbf::LEN }>(buf, off) {
        let (b, m) = lbf::arrive(f, off)?;
        meta.apply(ctx.now_ns, b);
        meta.lbf = m;
    }
    Ok(())
}

/// A precise-LBF value (New IP TLV or IPv6 option) at `val`, over the
/// route to `nh`; an infeasible late_ok packet is counted as demoted.
#[inline(always)]
pub fn precise_lbf(buf: &[u8], val: usize, nh: &NextHop, ctx: &PacketCtx, c: &mut Counters, meta: &mut TxMeta) -> Result<(), Reason> {
    let Some(a) = precise_lbf::arrive(buf, val, nh.to_delay_ns, nh.to_hops)? else { return Ok(()) };
    match a.budget {
        Some(b) => meta.apply(ctx.now_ns, b),
        None => {
            meta.late_ok = true;
            c.event(ctx.in_port as usize, Event::LateOkDemoted, 1);
        }
    }
    meta.late_ok |= a.late_ok;
    meta.plbf = a.meta;
    Ok(())
}

/// An on-time value at `val`: held for its damper, scheduled by its prio.
#[inline]
pub fn on_time(buf: &[u8], val: usize, now_ns: u64, meta: &mut TxMeta) {
    let Some(a) = on_time::arrive(buf, val, now_ns) else { return };
    meta.on_time = a.meta;
    meta.late_ok |= a.late_ok;
    meta.eligible_ns = meta.eligible_ns.max(a.eligible_ns);
}
