//! What the path's tests share: a small router, a packet context, and the
//! template check (a template must give the general path's verdict, bytes,
//! metadata and counted events).

use super::harness::{fuzz_one, fuzz_router};
use super::ingress::Router;
use super::meta::{PacketCtx, TxMeta, Verdict};
use crate::fib::NextHop;
use crate::stats::Counters;
use crate::wire::build;
use crate::wire::newip::build::{Address, ContractDesc, PacketDesc};
use crate::wire::newip as nip;
use proptest::prelude::*;

pub const PORT_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];
pub const PEER: [u8; 6] = [0x02, 0xbb, 0, 0, 0, 2];

pub fn router() -> Router {
    let nhs = vec![NextHop::new(0, PEER, PORT_MAC), NextHop::new(1, PEER, PORT_MAC)];
    Router::new(&[(0x0a00_0000, 8, 1)], &[(0x2001_0db8u128 << 96, 32, 0)], nhs, true)
}

pub fn ctx() -> PacketCtx {
    PacketCtx { now_ns: 7_000_000, in_port: 0 }
}

pub fn run(r: &Router, f: &mut [u8]) -> (Verdict, TxMeta) {
    let mut meta = TxMeta::NONE;
    let v = r.process_at(f, &ctx(), &mut Counters::default(), &mut meta);
    (v, meta)
}

/// A unicast New IP frame from `src` to `dst` (IPv4-type addresses)
/// with `contracts` must have the template's `shape`, and the router
/// with its shortcuts must give it the general path's verdict, bytes,
/// metadata and counted events. Returns the verdict.
pub fn template_agrees(src: [u8; 4], dst: [u8; 4], contracts: Vec<ContractDesc>, payload: usize, shape: impl Fn(&[u8]) -> bool) -> Result<Verdict, TestCaseError> {
    let d = PacketDesc { src: Address::Ipv4(src), dst: Address::Ipv4(dst), cast: nip::Cast::Unicast, contracts, payload: vec![0x5a; payload] };
    let mut f = build::ethernet(PEER, PORT_MAC, None, nip::ETHERTYPE_NEWIP);
    f.extend(d.build().expect("small header"));
    prop_assert!(shape(&f[14..]), "the template's shape");
    let (r, general) = (fuzz_router(false), fuzz_router(false).without_shortcut());
    let ctx = PacketCtx { now_ns: 5_000_000, in_port: 0 };
    let (mut a, mut b) = (f.clone(), f.clone());
    let (mut ma, mut mb) = (TxMeta::NONE, TxMeta::NONE);
    let (mut ca, mut cb) = (Counters::default(), Counters::default());
    let va = r.process_at(&mut a, &ctx, &mut ca, &mut ma);
    let vb = general.process_at(&mut b, &ctx, &mut cb, &mut mb);
    prop_assert_eq!(va, vb);
    prop_assert_eq!(&a, &b);
    prop_assert!(ca == cb, "the same events counted");
    if let Verdict::Forward { with_meta: true, .. } = va {
        prop_assert_eq!(ma, mb);
    }
    fuzz_one(&f);
    Ok(va)
}

