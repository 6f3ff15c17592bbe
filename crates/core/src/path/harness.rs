//! The differential check behind fuzzing and the property tests: one
//! arbitrary frame through fixed test routers with and without their
//! shortcuts (templates, `parse_simple`) and through transmit, asserting
//! that both paths decide, rewrite and schedule alike and that nothing
//! panics. Built for tests and with the `fuzzing` feature (the fuzz
//! targets, `tests/fuzz_corpus.rs`), never into the daemon.

use super::ingress::Router;
use super::meta::{PacketCtx, TxMeta, Verdict};
use super::transmit::{experienced_ns, on_transmit_reporting, NO_E2E};
use crate::contract::on_time::OnTimePort;
use crate::fib::{NextHop, Prefix};
use crate::stats::Counters;

/// Fuzzing and corpus-regression entry point: runs one arbitrary frame through
/// fixed test routers (every kind of route; local addresses of every type,
/// and none of the IPv4 type, so that IPv4-type New IP destinations take the
/// shortcuts too) and every per-packet stage, as the forwarding path would.
/// Must never panic.
pub fn fuzz_one(data: &[u8]) {
    use std::sync::OnceLock;
    static R: OnceLock<[(Router, Router); 2]> = OnceLock::new();
    let routers = R.get_or_init(|| [true, false].map(|v4_local| (fuzz_router(v4_local), fuzz_router(v4_local).without_shortcut())));
    for (r, general) in routers {
        fuzz_pair(r, general, data);
    }
}

/// [`fuzz_one`] with one router and the same without the shortcuts.
fn fuzz_pair(r: &Router, general: &Router, data: &[u8]) {
    let mut frame = [0u8; 2048];
    let n = data.len().min(frame.len());
    frame[..n].copy_from_slice(&data[..n]);
    let ctx = PacketCtx { now_ns: 1_000_000_000, in_port: 0 };
    let before = frame;
    // The simple-packet shortcut and the general path decide and rewrite alike.
    let mut other = frame;
    let mut other_meta = TxMeta::NONE;
    let other_verdict = general.process_at(&mut other[..n], &ctx, &mut Counters::default(), &mut other_meta);
    let mut c = Counters::default();
    let mut meta = TxMeta::NONE;
    let verdict = r.process_at(&mut frame[..n], &ctx, &mut c, &mut meta);
    assert_eq!(verdict, other_verdict, "shortcut and general path disagree");
    assert_eq!(&frame[..n], &other[..n], "shortcut and general path rewrite differently");
    match verdict {
        Verdict::Forward { with_meta, .. } | Verdict::Flood { with_meta } => {
            if with_meta {
                assert_eq!(meta, other_meta, "shortcut and general path schedule differently");
            } else {
                meta = TxMeta::NONE;
            }
            let mut on_time = OnTimePort::default();
            for t in [0, 10_000, 10_000_000_000] {
                let mut f = frame;
                if let Ok(e2e) = on_transmit_reporting(&mut f[..n], &meta, ctx.now_ns + t, 500, &mut on_time) {
                    assert_eq!(e2e, experienced_ns(&f[..n], &meta).unwrap_or(NO_E2E), "the reported delay is what the frame says");
                }
            }
        }
        Verdict::Drop(_) => assert_eq!(&frame[..n], &before[..n], "a dropped frame was modified"),
        Verdict::Fragment { mtu, .. } => assert!(n > 14 + mtu as usize, "only a packet longer than the MTU is fragmented"),
    }
}

/// A router [`fuzz_one`] uses: every kind of route, local addresses (one
/// of the IPv4 type if `v4_local`).
pub fn fuzz_router(v4_local: bool) -> Router {
    let nhs = vec![
        NextHop::new(0, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]),
        NextHop::new(1, [2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4]).with_path(3, 200_000),
    ];
    let p = |s: &str| Prefix::parse(s).expect("test prefix");
    let routes = [
        (p("10.0.0.0/8"), 1),
        (p("0.0.0.0/0"), 0),
        (p("2001:db8::/32"), 1),
        (p("::/0"), 0),
        (p("8bit:2"), 1),
        (p("16bit:0x0102"), 1),
        (p("flex:0a/8"), 1),
        (p("flex:00/0"), 0),
    ];
    let locals = [p("10.0.0.1"), p("8bit:1"), p("flex:0a0001")];
    let locals = if v4_local { &locals[..] } else { &locals[1..] };
    Router::build(&routes, nhs, vec![[2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 4]], locals, true)
}

