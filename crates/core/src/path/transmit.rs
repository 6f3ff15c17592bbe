//! The transmit stage of a packet with contracts: at send time, write what
//! each contract asks (its module's transmit rule), or refuse a packet that
//! is past its deadline (unless late_ok), and give the end-to-end delay the
//! packet then reports. Two shortcuts cover the common single-contract
//! cases without the general walk; proptests hold them to it.

use super::meta::TxMeta;
use crate::contract::on_time::OnTimePort;
use crate::contract::{lbf, max_delay, precise_lbf};
use crate::kinds::Reason;

/// No end-to-end delay: the packet carries no contract that reports one.
pub const NO_E2E: u64 = u64::MAX;

/// At send time `now_ns`: write what the contracts ask (time spent here plus
/// the egress `link_delay_ns`, hops, the next hop's damper from the port's
/// on-time state `on_time`), or refuse a packet that is past its deadline
/// (unless late_ok). Leaves the frame untouched when refusing.
#[inline]
pub fn on_transmit(frame: &mut [u8], meta: &TxMeta, now_ns: u64, link_delay_ns: u32, on_time: &mut OnTimePort) -> Result<(), Reason> {
    on_transmit_reporting(frame, meta, now_ns, link_delay_ns, on_time).map(|_| ())
}

/// [`on_transmit`], also giving the end-to-end delay the contract reports
/// after the update (what [`experienced_ns`] would read back, in ns; `NO_E2E`
/// without such a contract), so the statistics need not read the frame again.
#[inline(always)]
pub fn on_transmit_reporting(frame: &mut [u8], meta: &TxMeta, now_ns: u64, link_delay_ns: u32, on_time: &mut OnTimePort) -> Result<u64, Reason> {
    if !meta.has_updates() {
        return Ok(NO_E2E);
    }
    if let Some(reported) = lbf_unchanged_delay(frame, meta, now_ns) {
        return Ok(reported);
    }
    if let Some(reported) = precise_lbf_alone(frame, meta, now_ns, link_delay_ns) {
        return Ok(reported);
    }
    on_transmit_general(frame, meta, now_ns, link_delay_ns, on_time)
}

/// The transmit update of a packet whose only contract is precise LBF
/// (0x8001, or the IPv6 latency option), whole in the frame and not
/// refused as late: [`precise_lbf::add_delay_and_hop`] with the time spent
/// here and the egress link delay, in one fixed-size field access. Exactly
/// what [`on_transmit_general`] does then (a proptest compares the two);
/// None: not this case.
#[inline(always)]
fn precise_lbf_alone(frame: &mut [u8], meta: &TxMeta, now_ns: u64, link_delay_ns: u32) -> Option<u64> {
    if (meta.max_delay.off | meta.lbf.off | meta.on_time.val) != 0 || meta.plbf.val == 0 || (now_ns > meta.deadline_ns && !meta.late_ok) {
        return None;
    }
    let at = meta.l3 as usize + meta.plbf.val as usize;
    let v: &mut [u8; precise_lbf::LEN] = frame.get_mut(at..at + precise_lbf::LEN)?.try_into().ok()?;
    let add = now_ns.saturating_sub(meta.rx_ns).saturating_add(link_delay_ns as u64).min(u32::MAX as u64) as u32;
    Some(precise_lbf::add_delay_and_hop(v, add) as u64)
}

/// The common case of a type-2 LBF packet sent soon after it arrived: an
/// LBF contract alone (whole in the frame), not late, and
/// [`lbf::unchanged_after`] the time spent here: nothing to write (the
/// router already took the hop off fib_tohops), and the delay reported is
/// the one it arrived with. Exactly what [`on_transmit_general`] does then
/// (a proptest compares the two); None: not this case.
#[inline(always)]
fn lbf_unchanged_delay(frame: &[u8], meta: &TxMeta, now_ns: u64) -> Option<u64> {
    if (meta.max_delay.off | meta.plbf.val | meta.on_time.val) != 0 || meta.lbf.off == 0 || now_ns > meta.deadline_ns {
        return None;
    }
    if !lbf::unchanged_after(now_ns.saturating_sub(meta.rx_ns)) {
        return None;
    }
    // The general path writes only a contract that is whole in the frame.
    let end = meta.l3 as usize + meta.lbf.off as usize + lbf::LEN;
    (end <= frame.len()).then_some(lbf::reported_unchanged_ns(meta.lbf.exp))
}

/// [`on_transmit_reporting`] for any contract combination (out of line:
/// the per-packet loop inlines only the common cases above).
#[inline(never)]
fn on_transmit_general(frame: &mut [u8], meta: &TxMeta, now_ns: u64, link_delay_ns: u32, on_time: &mut OnTimePort) -> Result<u64, Reason> {
    if now_ns > meta.deadline_ns && !meta.late_ok {
        return Err(meta.late_reason());
    }
    let Some(buf) = frame.get_mut(meta.l3 as usize..) else { return Ok(NO_E2E) };

    let local = now_ns.saturating_sub(meta.rx_ns);
    let delay_exp = match meta.max_delay.off {
        0 => None,
        off => max_delay::transmit_check(buf, off as usize, local, meta.late_ok)?,
    };
    // The last check that may refuse (it writes only when it does not).
    if meta.on_time.val != 0 {
        on_time.on_transmit(buf, meta.on_time.val as usize, meta.eligible_ns, now_ns)?;
    }
    if let Some(v) = delay_exp {
        max_delay::set_delay_exp(buf, meta.max_delay.off as usize, v);
    }
    if meta.lbf.off != 0 {
        lbf::transmit(buf, meta.lbf.off as usize, local);
    }
    if meta.plbf.val != 0 {
        let add = local.saturating_add(link_delay_ns as u64).min(u32::MAX as u64) as u32;
        precise_lbf::on_transmit(buf, meta.plbf.val as usize, add);
    }
    Ok(reported_ns(buf, meta).unwrap_or(NO_E2E))
}

/// [stats] The end-to-end delay a packet's contract reports (ns), read after
/// [`on_transmit`] wrote it: precise LBF (ns), else LBF (0.1 ms), else
/// max-delay (ms). None without such a contract.
#[inline]
pub fn experienced_ns(frame: &[u8], meta: &TxMeta) -> Option<u64> {
    reported_ns(frame.get(meta.l3 as usize..)?, meta)
}

/// [`experienced_ns`] of `buf`, which starts at the network header.
#[inline(always)]
fn reported_ns(buf: &[u8], meta: &TxMeta) -> Option<u64> {
    if meta.plbf.val != 0 {
        return precise_lbf::reported_ns(buf, meta.plbf.val as usize);
    }
    if meta.lbf.off != 0 {
        return lbf::reported_ns(buf, meta.lbf.off as usize);
    }
    if meta.max_delay.off != 0 {
        return max_delay::reported_ns(buf, meta.max_delay.off as usize);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{on_time, lbf, max_delay, precise_lbf};
    use crate::path::testkit::{run, PEER, PORT_MAC};
    use crate::fib::{NextHop, Prefix};
    use crate::path::ingress::Router;
    use crate::wire::{build, newip as nip};
    use proptest::prelude::*;

    #[test]
    fn transmit_without_contracts_changes_nothing() {
        let mut f = build::udp4(build::Udp4::default());
        let before = f.clone();
        assert_eq!(on_transmit(&mut f, &TxMeta::NONE, u64::MAX, 1000, &mut OnTimePort::default()), Ok(()));
        assert_eq!(f, before);
    }

    #[test]
    fn on_transmit_rewrites_the_damper() {
        use crate::wire::newip::build::{ethernet_frame, Address, ContractDesc, PacketDesc};
        use crate::wire::newip::OnTime;
        let r = Router::build(&[(Prefix::Bits8(2), 0)], vec![NextHop::new(0, PEER, PORT_MAC)], vec![PORT_MAC], &[], true);
        let d = PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
            .contract(ContractDesc::OnTime(OnTime { damper_ns: 1000, prio: 0, flags: 0 }))
            .payload(vec![1u8; 8]);
        let f0 = ethernet_frame(PEER, PORT_MAC, nip::ETHERTYPE_NEWIP, None, &d.build().unwrap());
        let mut port = OnTimePort::new([100_000; 8]);
        let damper = |f: &[u8]| OnTime::read(&f[14..], nip::parse(&f[14..]).unwrap().contracts.on_time_value().unwrap()).unwrap();
        // Eligible at 7_001_000; queued 60 us, then 20 us: the second gets 40 us.
        for (queued, want) in [(60_000u64, 0u32), (20_000, 40_000)] {
            let mut f = f0.clone();
            let (_, m) = run(&r, &mut f);
            assert_eq!(on_transmit(&mut f, &m, m.eligible_ns + queued, 0, &mut port), Ok(()));
            assert_eq!(damper(&f).damper_ns, want);
        }
        // Past the bound: refused by name, the frame untouched.
        let mut f = f0.clone();
        let (_, m) = run(&r, &mut f);
        let before = f.clone();
        assert_eq!(on_transmit(&mut f, &m, m.eligible_ns + 100_001, 0, &mut port), Err(Reason::NewipOnTimeBroken));
        assert_eq!(f, before);
    }

    #[test]
    fn experienced_delay_is_read_in_each_contract_unit() {
        let mut f = [0u8; 96];
        let l3 = 14;
        f[l3 + 40 + 8..l3 + 40 + 12].copy_from_slice(&1_234_567u32.to_be_bytes()); // precise LBF value at 40
        f[l3 + 20 + 6..l3 + 20 + 8].copy_from_slice(&25u16.to_be_bytes()); // LBF at 20: 2.5 ms
        f[l3 + 4 + 4..l3 + 4 + 6].copy_from_slice(&7u16.to_be_bytes()); // max-delay at 4: 7 ms
        let m = TxMeta { l3: l3 as u16, plbf: precise_lbf::Meta { val: 40 }, lbf: lbf::Meta { off: 20, exp: 0 }, max_delay: max_delay::Meta { off: 4 }, ..TxMeta::NONE };
        assert_eq!(experienced_ns(&f, &m), Some(1_234_567));
        assert_eq!(experienced_ns(&f, &TxMeta { plbf: Default::default(), ..m }), Some(2_500_000));
        assert_eq!(experienced_ns(&f, &TxMeta { plbf: Default::default(), lbf: Default::default(), ..m }), Some(7_000_000));
        assert_eq!(experienced_ns(&f, &TxMeta::NONE), None);
        assert_eq!(experienced_ns(&f[..50], &m), None, "cut off: no value, no panic");
    }

    /// `value` between `lead` bytes of 0x5a and `tail` bytes of 0xa5.
    fn framed(value: &[u8], lead: usize, tail: usize) -> Vec<u8> {
        let mut f = vec![0x5au8; lead];
        f.extend_from_slice(value);
        f.extend(std::iter::repeat_n(0xa5u8, tail));
        f
    }

    /// The general transmit path and the public entry point, each on its
    /// own copy of `frame`: (result, bytes after) of each.
    #[allow(clippy::type_complexity)]
    fn transmit_both(frame: &[u8], meta: &TxMeta, now: u64, link: u32) -> ((Result<u64, Reason>, Vec<u8>), (Result<u64, Reason>, Vec<u8>)) {
        let (mut g, mut p) = (frame.to_vec(), frame.to_vec());
        let general = on_transmit_general(&mut g, meta, now, link, &mut OnTimePort::new([100_000; 8]));
        let public = on_transmit_reporting(&mut p, meta, now, link, &mut OnTimePort::new([100_000; 8]));
        ((general, g), (public, p))
    }

    proptest! {
        /// The LBF shortcut at transmit reports what the general path does,
        /// and the general path then leaves the frame as it was (the delay
        /// rounds to unchanged; the hop was taken when routing). The meta
        /// carries the experienced delay as the router reads it.
        #[test]
        fn lbf_unchanged_delay_matches_the_general_path(
            fields in any::<[u8; 12]>(),
            lead in 0usize..24,
            tail in 0usize..16,
            off in 0u16..40,
            rx in 0u64..1_000_000,
            local in 0u64..120_000,
            deadline_after in 0u64..200_000,
            late_ok in any::<bool>(),
            other in 0u8..4,
        ) {
            let frame = framed(&fields, lead, tail);
            let mut meta = TxMeta { rx_ns: rx, deadline_ns: rx + deadline_after, l3: 0, lbf: lbf::Meta { off: off.max(1), exp: 0 }, late_ok, ..TxMeta::NONE };
            let o = meta.lbf.off as usize;
            if let Some(e) = frame.get(o + 6..o + 8) {
                meta.lbf.exp = u16::from_be_bytes([e[0], e[1]]);
            }
            match other {
                1 => meta.max_delay = max_delay::Meta { off: 2 },
                2 => meta.plbf = precise_lbf::Meta { val: 4 },
                _ => {}
            }
            let now = rx + local;
            let ((general, b), (public, _)) = transmit_both(&frame, &meta, now, 0);
            if let Some(r) = lbf_unchanged_delay(&frame, &meta, now) {
                prop_assert_eq!(Ok(r), general);
                prop_assert_eq!(&b, &frame, "nothing left to write");
            }
            // And the public entry point agrees with the general one.
            prop_assert_eq!(public, general);
        }

        /// The precise-LBF transmit shortcut writes and reports what the
        /// general path does, wherever it applies; the public entry point
        /// agrees with the general path everywhere.
        #[test]
        fn precise_lbf_alone_matches_the_general_path(
            value in any::<[u8; 16]>(),
            lead in 0usize..24,
            tail in 0usize..20,
            l3 in 0u16..8,
            off in 1u16..40,
            rx in 0u64..1_000_000,
            local in 0u64..5_000_000_000,
            link in any::<u32>(),
            deadline_after in 0u64..200_000,
            late_ok in any::<bool>(),
            other in 0u8..5,
        ) {
            let frame = framed(&value, lead, tail);
            let mut meta = TxMeta { rx_ns: rx, deadline_ns: rx + deadline_after, l3, plbf: precise_lbf::Meta { val: off }, late_ok, ..TxMeta::NONE };
            match other {
                1 => meta.max_delay = max_delay::Meta { off: 2 },
                2 => meta.lbf = lbf::Meta { off: 4, exp: 0 },
                3 => meta.on_time = on_time::Meta { val: 6, prio: 0 },
                _ => {}
            }
            let now = rx + local;
            let ((want, general), (public, public_bytes)) = transmit_both(&frame, &meta, now, link);
            let mut fast = frame.clone();
            if let Some(r) = precise_lbf_alone(&mut fast, &meta, now, link) {
                prop_assert_eq!(Ok(r), want);
                prop_assert_eq!(&fast, &general);
            } else {
                prop_assert_eq!(&fast, &frame, "untouched when it does not apply");
            }
            prop_assert_eq!(public, want);
            prop_assert_eq!(&public_bytes, &general);
        }

    }
}
