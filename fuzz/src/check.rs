//! The `newip` fuzz target's logic: one input through the New IP parser, the
//! contract iterator, every in-place setter, address swap, packet wash and
//! the IPv6 Hop-by-Hop option finder, asserting what their documentation
//! promises.
//!
//! Shared by `fuzz_targets/newip.rs` and the main crate's
//! `tests/fuzz_corpus.rs` (which includes this file with `#[path]`), so it
//! names the library only as `newipd::...`, never `crate::...`.
//!
//! # Input layout
//! The input is an Ethernet frame, so the `forward` and `newip` corpora are
//! interchangeable:
//! * bytes 0..6 (destination MAC): ignored;
//! * bytes 6..12 (source MAC, which no parser reads): the knobs, bytes 6-7 the
//!   wash budget (big-endian u16), bytes 8-11 the value the setters write;
//! * bytes 12.. : EtherType, up to two VLAN tags, then the network header,
//!   which is parsed as New IP *and* scanned as IPv6 whatever the EtherType.
//!
//! Inputs shorter than an Ethernet header are ignored.

use newipd_core::contract::{lbf, max_delay, on_time, ping, precise_lbf, qualitative};
use newipd_core::wire::newip::{self as nip, Chunk, ContractRef, NewIp};

/// Run one input through every check. Panics (with a message naming the
/// broken promise) if one fails.
pub fn check_frame(data: &[u8]) {
    let Some((_, l3)) = nip::ethernet_payload(data) else {
        return;
    };
    let (Some(k), Some(l3buf)) = (data.get(6..12), data.get(l3..)) else {
        return;
    };
    let budget = u16::from_be_bytes([k[0], k[1]]) as usize;
    let val = u32::from_be_bytes([k[2], k[3], k[4], k[5]]);
    check_l3(l3buf, budget, val);
}

/// All checks on one network-layer buffer (`buf` starts at the New IP or
/// IPv6 header).
pub fn check_l3(buf: &[u8], budget: usize, val: u32) {
    check_hbh(buf, val);
    let Ok(hdr) = nip::parse(buf) else { return };
    check_header(buf, &hdr);
    let cs = check_contracts(buf, &hdr);
    check_setters(buf, &hdr, &cs, val);
    check_swap(buf, &hdr);
    check_wash(buf, &hdr, budget);
}

/// Offsets of the header and the addresses lie where the format says.
fn check_header(buf: &[u8], h: &NewIp) {
    let (so, co, po) = (
        h.shipping_off as usize,
        h.contract_off as usize,
        h.payload_off as usize,
    );
    assert!(so >= 3, "shipping offset {so} < 3");
    assert!(
        po <= buf.len(),
        "payload offset {po} past the end {}",
        buf.len()
    );
    assert!(
        co == 0 || (so < co && co < po),
        "contract offset {co} not in ({so}, {po})"
    );
    let end = h.shipping_end();
    assert!(so + 3 <= end, "no room for the shipping spec");
    for (name, a) in [("src", h.src), ("dst", h.dst)] {
        let wire_end = a.wire_off() + a.wire_len();
        assert!(
            a.wire_off() >= so + 3 && wire_end <= end,
            "{name} address outside the shipping spec"
        );
        assert_eq!(a.bytes(buf).len(), a.len as usize, "{name} address bytes");
        match a.ty.fixed_len() {
            Some(n) => assert_eq!(a.len as usize, n, "{name} fixed length"),
            None => {
                assert!(
                    (1..=nip::FLEX_MAX_LEN).contains(&(a.len as usize)),
                    "{name} flex length"
                );
                assert_eq!(
                    buf[a.wire_off()] as usize,
                    a.len as usize,
                    "{name} flex length byte"
                );
            }
        }
    }
    assert_eq!(
        h.src.wire_off(),
        so + 3,
        "src not right after the type bytes"
    );
    assert_eq!(
        h.dst.wire_off(),
        h.src.wire_off() + h.src.wire_len(),
        "dst not right after src"
    );
    assert_eq!(h.payload(buf).len(), h.payload_len(buf.len()));
}

/// Size of a contract on the wire.
fn wire_size(buf: &[u8], c: &ContractRef) -> usize {
    match c {
        ContractRef::MaxDelay { .. } => nip::MAX_DELAY_LEN,
        ContractRef::Lbf { .. } => nip::LBF_LEN,
        ContractRef::Ping { .. } => nip::PING_LEN,
        _ => {
            let o = c.off();
            nip::TLV_HDR_LEN + u16::from_be_bytes([buf[o + 2], buf[o + 3]]) as usize
        }
    }
}

/// Walk every contract; the walk must agree with the one-pass summary and
/// with `contract_at`, and tile the contract area exactly.
fn check_contracts(buf: &[u8], h: &NewIp) -> Vec<ContractRef> {
    let (co, po) = (h.contract_off as usize, h.payload_off as usize);
    let mut cs = Vec::new();
    let mut pos = co;
    for r in nip::contracts(buf, h) {
        let c = r.unwrap_or_else(|m| panic!("contract iterator error {m} on an accepted packet"));
        let off = c.off();
        assert_eq!(off, pos, "contract not where the previous one ended");
        let end = off + wire_size(buf, &c);
        assert!(
            off >= co && end <= po,
            "contract {off}..{end} outside {co}..{po}"
        );
        assert_eq!(
            u16::from_be_bytes([buf[off], buf[off + 1]]),
            c.ty(),
            "type field"
        );
        assert_eq!(
            nip::contract_at(buf, h, off),
            Ok(c),
            "contract_at disagrees"
        );
        match c {
            ContractRef::PreciseLbf { v, .. } => {
                assert_eq!(nip::PreciseLbf::read(buf, off + 4), Some(v));
                assert_eq!(
                    &v.to_bytes()[..],
                    &buf[off + 4..off + 20],
                    "precise LBF re-encoding"
                );
            }
            ContractRef::OnTime { v, .. } => assert_eq!(nip::OnTime::read(buf, off + 4), Some(v)),
            ContractRef::Qualitative { count, .. } => check_chunk_table(buf, h, off + 4, count),
            _ => {}
        }
        if let Some(v) = c.value_off() {
            assert!(v <= end, "value offset past the contract");
        }
        pos = end;
        cs.push(c);
    }
    if co != 0 {
        assert_eq!(pos, po, "contracts do not reach the payload offset");
    } else {
        assert!(cs.is_empty(), "contracts without a contract offset");
    }
    let s = h.contracts;
    let first = |t: u16| cs.iter().find(|c| c.ty() == t).map(|c| c.off() as u8);
    assert_eq!(s.count as usize, cs.len(), "summary count");
    assert_eq!(s.max_delay, first(nip::CT_MAX_DELAY), "summary max_delay");
    assert_eq!(s.lbf, first(nip::CT_LBF), "summary lbf");
    assert_eq!(s.ping, first(nip::CT_PING), "summary ping");
    assert_eq!(
        s.precise_lbf,
        first(nip::CT_PRECISE_LBF),
        "summary precise_lbf"
    );
    assert_eq!(s.on_time, first(nip::CT_ON_TIME), "summary on_time");
    assert_eq!(
        s.qualitative,
        first(nip::CT_QUALITATIVE),
        "summary qualitative"
    );
    let unknown = cs
        .iter()
        .filter(|c| matches!(c, ContractRef::UnknownTlv { .. }))
        .count();
    assert_eq!(s.unknown_tlvs as usize, unknown, "summary unknown_tlvs");
    let deadlines: Vec<_> = nip::deadline_contracts(buf, h)
        .map(|r| r.expect("deadline walk"))
        .collect();
    assert!(deadlines.iter().all(|c| c.has_deadline()));
    assert_eq!(
        deadlines.len(),
        cs.iter().filter(|c| c.has_deadline()).count()
    );
    assert_eq!(s.deadlines as usize, deadlines.len(), "summary deadlines");
    cs
}

/// A chunk table the parser accepted is sorted, disjoint and inside the payload.
fn check_chunk_table(buf: &[u8], h: &NewIp, val: usize, count: u8) {
    assert_eq!(qualitative::chunk_count(buf, val), Some(count));
    let plen = h.payload_len(buf.len());
    let mut prev_end = 0usize;
    let mut n = 0usize;
    for (i, c) in qualitative::chunks(buf, val).enumerate() {
        let (o, l) = (c.offset as usize, c.length as usize);
        assert!(
            o >= prev_end && o + l <= plen,
            "chunk {i} {o}+{l} (prev end {prev_end}, payload {plen})"
        );
        assert_eq!(qualitative::chunk_offset(buf, val, i), Some(c.offset));
        prev_end = o + l;
        n += 1;
    }
    assert_eq!(n, count as usize, "chunks() yields count entries");
    assert_eq!(qualitative::chunk(buf, val, n), None, "entry past count");
}

/// Every setter at every offset the walk returned succeeds, writes exactly
/// its field, keeps the packet parseable with the same structure; setters
/// aimed at the wrong type or out of bounds write nothing.
fn check_setters(buf: &[u8], h: &NewIp, cs: &[ContractRef], val: u32) {
    let v16 = val as u16;
    let v8 = val as u8;
    let mut m = buf.to_vec();
    for c in cs {
        let off = c.off();
        let before = m.clone();
        match *c {
            ContractRef::MaxDelay {
                max_allowed_delay, ..
            } => {
                assert!(
                    !lbf::set_fib_tohops(&mut m, off, v16),
                    "LBF setter on a Max Delay contract"
                );
                assert!(
                    !ping::set_hops(&mut m, off, v16),
                    "Ping setter on a Max Delay contract"
                );
                assert_eq!(m, before, "refused setter wrote");
                assert!(
                    max_delay::set_delay_exp(&mut m, off, v16),
                    "set_delay_exp at {off}"
                );
                match nip::contract_at(&m, h, off) {
                    Ok(ContractRef::MaxDelay {
                        max_allowed_delay: a,
                        delay_exp,
                        ..
                    }) => {
                        assert_eq!((a, delay_exp), (max_allowed_delay, v16));
                    }
                    other => panic!("after set_delay_exp: {other:?}"),
                }
            }
            ContractRef::Lbf {
                min_delay,
                max_delay,
                ..
            } => {
                assert!(
                    !max_delay::set_delay_exp(&mut m, off, v16),
                    "Max Delay setter on an LBF contract"
                );
                assert_eq!(m, before, "refused setter wrote");
                assert!(lbf::set_experienced_delay(&mut m, off, v16));
                assert!(lbf::set_fib_todelay(&mut m, off, v16 ^ 1));
                assert!(lbf::set_fib_tohops(&mut m, off, v16 ^ 2));
                match nip::contract_at(&m, h, off) {
                    Ok(ContractRef::Lbf {
                        min_delay: a,
                        max_delay: b,
                        experienced_delay,
                        fib_todelay,
                        fib_tohops,
                        ..
                    }) => {
                        assert_eq!((a, b), (min_delay, max_delay));
                        assert_eq!(
                            (experienced_delay, fib_todelay, fib_tohops),
                            (v16, v16 ^ 1, v16 ^ 2)
                        );
                    }
                    other => panic!("after LBF setters: {other:?}"),
                }
            }
            ContractRef::Ping { .. } => {
                assert!(
                    !lbf::set_fib_todelay(&mut m, off, v16),
                    "LBF setter on a Ping contract"
                );
                assert_eq!(m, before, "refused setter wrote");
                let ts = (val as u64) << 24 | 0xabc;
                assert!(ping::set_code(&mut m, off, v16 & 1));
                assert!(ping::set_hops(&mut m, off, v16));
                assert!(ping::set_timestamp(&mut m, off, ts));
                match nip::contract_at(&m, h, off) {
                    Ok(ContractRef::Ping {
                        code,
                        hops,
                        timestamp,
                        ..
                    }) => {
                        assert_eq!((code, hops, timestamp), (v16 & 1, v16, ts));
                    }
                    other => panic!("after Ping setters: {other:?}"),
                }
            }
            ContractRef::PreciseLbf { v, .. } => {
                let vo = off + nip::TLV_HDR_LEN;
                assert!(precise_lbf::set_experienced_ns(&mut m, vo, val));
                assert!(precise_lbf::set_hops(&mut m, vo, v16));
                assert!(precise_lbf::set_flags(&mut m, vo, v16 ^ 0xffff));
                let p = nip::PreciseLbf::read(&m, vo).expect("precise LBF value");
                assert_eq!((p.min_ns, p.max_ns), (v.min_ns, v.max_ns));
                assert_eq!(
                    (p.experienced_ns, p.hops, p.flags),
                    (val, v16, v16 ^ 0xffff)
                );
                let q = precise_lbf::on_transmit(&mut m, vo, 1_500).expect("plbf_on_transmit");
                assert_eq!(q.experienced_ns, val.saturating_add(1_500));
                assert_eq!(q.hops, v16.wrapping_add(1));
                assert_eq!(nip::PreciseLbf::read(&m, vo), Some(q));
            }
            ContractRef::OnTime { v, .. } => {
                let vo = off + nip::TLV_HDR_LEN;
                assert!(on_time::set_damper_ns(&mut m, vo, val));
                assert!(on_time::set_flags(&mut m, vo, v8));
                assert_eq!(on_time::damper_ns(&m, vo), Some(val));
                let t = nip::OnTime::read(&m, vo).expect("on-time value");
                assert_eq!((t.damper_ns, t.prio, t.flags), (val, v.prio, v8));
            }
            ContractRef::Qualitative { count, .. } => {
                let vo = off + nip::TLV_HDR_LEN;
                let n = count as usize;
                for i in 0..n {
                    let c = qualitative::chunk(&m, vo, i).expect("chunk entry");
                    // Same offset and length back: the table stays valid.
                    assert!(qualitative::set_chunk_offset(&mut m, vo, i, c.offset));
                    assert!(qualitative::set_chunk_length(&mut m, vo, i, c.length));
                    assert_eq!(m, before, "rewriting the same offset/length changed bytes");
                }
                for i in 0..n {
                    assert!(qualitative::set_chunk_flags(&mut m, vo, i, v8 ^ i as u8));
                    assert_eq!(qualitative::chunk(&m, vo, i).map(|c| c.flags), Some(v8 ^ i as u8));
                }
                let again = m.clone();
                assert!(
                    !qualitative::set_chunk_offset(&mut m, vo, n, 0),
                    "chunk setter past count"
                );
                assert!(
                    !qualitative::set_chunk_length(&mut m, vo, n, 0),
                    "chunk setter past count"
                );
                assert!(
                    !qualitative::set_chunk_flags(&mut m, vo, n, 0),
                    "chunk setter past count"
                );
                assert_eq!(m, again, "refused chunk setter wrote");
            }
            ContractRef::UnknownTlv { .. } => {
                assert!(
                    !max_delay::set_delay_exp(&mut m, off, v16),
                    "Max Delay setter on an unknown TLV"
                );
                assert_eq!(m, before, "refused setter wrote");
            }
        }
    }
    // Setters only ever write inside the contract area.
    let (co, po) = (h.contract_off as usize, h.payload_off as usize);
    if co == 0 {
        assert_eq!(m, buf, "setters wrote without contracts");
    } else {
        assert_eq!(
            m[..co],
            buf[..co],
            "a setter wrote before the contract area"
        );
        assert_eq!(m[po..], buf[po..], "a setter wrote into the payload");
    }
    let h2 = nip::parse(&m).unwrap_or_else(|e| panic!("setters broke the packet: {e}"));
    assert_eq!(
        (h2.src, h2.dst, h2.cast),
        (h.src, h.dst, h.cast),
        "setters moved the addresses"
    );
    let s = |c: nip::Contracts| {
        (
            c.max_delay,
            c.lbf,
            c.ping,
            c.precise_lbf,
            c.on_time,
            c.qualitative,
            c.count,
            c.deadlines,
            c.unknown_tlvs,
        )
    };
    assert_eq!(
        s(h2.contracts),
        s(h.contracts),
        "setters changed the contract structure"
    );

    // Out of bounds: nothing written, no panic.
    let len = m.len();
    let snapshot = m.clone();
    for off in [
        len,
        len.saturating_sub(1),
        len + 100,
        usize::MAX - 1,
        usize::MAX,
    ] {
        assert!(!max_delay::set_delay_exp(&mut m, off, 1));
        assert!(!lbf::set_experienced_delay(&mut m, off, 1));
        assert!(!lbf::set_fib_todelay(&mut m, off, 1));
        assert!(!lbf::set_fib_tohops(&mut m, off, 1));
        assert!(!ping::set_code(&mut m, off, 1));
        assert!(!ping::set_hops(&mut m, off, 1));
        assert!(!ping::set_timestamp(&mut m, off, 1));
        assert!(!precise_lbf::set_experienced_ns(&mut m, off, 1));
        assert!(!precise_lbf::set_hops(&mut m, off, 1));
        assert!(!precise_lbf::set_flags(&mut m, off, 1));
        assert!(precise_lbf::on_transmit(&mut m, off, 1).is_none());
        assert!(!on_time::set_damper_ns(&mut m, off, 1));
        assert!(!on_time::set_flags(&mut m, off, 1));
        assert!(!qualitative::set_chunk_offset(&mut m, off, 0, 1));
        assert!(!qualitative::set_chunk_length(&mut m, off, 0, 1));
        assert!(!qualitative::set_chunk_flags(&mut m, off, 0, 1));
        assert!(nip::contract_at(&m, h, off).is_err());
    }
    assert_eq!(m, snapshot, "an out-of-bounds setter wrote");
}

/// Swapping source and destination gives a packet that parses to what
/// `swap_addresses` returned; swapping back restores the bytes.
fn check_swap(buf: &[u8], h: &NewIp) {
    let mut m = buf.to_vec();
    let out = nip::swap_addresses(&mut m, h)
        .unwrap_or_else(|e| panic!("swap_addresses on a parsed packet: {e:?}"));
    assert_eq!(nip::parse(&m), Ok(out), "swapped packet parses differently");
    assert_eq!(
        out.src.bytes(&m),
        h.dst.bytes(buf),
        "new src is not the old dst"
    );
    assert_eq!(
        out.dst.bytes(&m),
        h.src.bytes(buf),
        "new dst is not the old src"
    );
    let back = nip::swap_addresses(&mut m, &out).expect("swap back");
    assert_eq!(back, *h, "double swap changed the header");
    assert_eq!(m, buf, "double swap changed the bytes");
}

/// Packet wash: only chunks of significance 1..=15 go, least significant
/// (and later) first, no more than needed; what stays is byte-identical;
/// the trimmed packet still parses.
fn check_wash(buf: &[u8], h: &NewIp, budget: usize) {
    let mut w = buf.to_vec();
    let out = nip::wash(&mut w, h, budget);
    let po = h.payload_off as usize;
    let plen = buf.len() - po;
    assert!(
        out.removed <= plen,
        "wash removed {} of a {plen}-byte payload",
        out.removed
    );
    assert_eq!(out.reached, out.removed >= budget, "reached flag");
    let Some(val) = h.contracts.qualitative_value() else {
        assert_eq!(
            (out.removed, out.chunks_washed, &w[..]),
            (0, 0, buf),
            "wash without a qualitative contract"
        );
        return;
    };
    if budget == 0 {
        assert_eq!((out.removed, &w[..]), (0, buf), "wash with budget 0");
    }
    let sig = |c: &Chunk| c.significance.min(15);
    let old: Vec<Chunk> = qualitative::chunks(buf, val).collect();
    let new: Vec<Chunk> = qualitative::chunks(&w, val).collect();
    assert_eq!(old.len(), new.len(), "wash changed the chunk count");
    assert_eq!(
        w[..val],
        buf[..val],
        "wash changed bytes before the chunk table"
    );

    w.truncate(buf.len() - out.removed);
    let h2 = nip::parse(&w).unwrap_or_else(|e| {
        panic!(
            "washed packet does not parse: {e} (budget {budget}, removed {})",
            out.removed
        )
    });
    assert_eq!(h2.contracts.qualitative_value(), Some(val));
    let (p_old, p_new) = (&buf[po..], &w[po..]);

    let washed: Vec<usize> = (0..old.len())
        .filter(|&i| old[i].length > 0 && new[i].length == 0)
        .collect();
    assert_eq!(washed.len(), out.chunks_washed as usize, "chunks_washed");
    assert_eq!(
        washed
            .iter()
            .map(|&i| old[i].length as usize)
            .sum::<usize>(),
        out.removed,
        "removed bytes"
    );
    let mut expect = Vec::with_capacity(p_old.len());
    let mut read = 0usize;
    for (i, (o, n)) in old.iter().zip(&new).enumerate() {
        assert_eq!(
            o.significance, n.significance,
            "chunk {i} significance changed"
        );
        let (oo, ol) = (o.offset as usize, o.length as usize);
        if washed.contains(&i) {
            assert_ne!(o.significance, 0, "essential chunk {i} washed");
            assert!(
                n.washed() && n.flags == o.flags | Chunk::WASHED,
                "chunk {i} flags {:#x} -> {:#x}",
                o.flags,
                n.flags
            );
            expect.extend_from_slice(&p_old[read..oo]);
            read = oo + ol;
        } else {
            assert_eq!(
                (n.length, n.flags),
                (o.length, o.flags),
                "kept chunk {i} changed"
            );
            let no = n.offset as usize;
            assert_eq!(
                p_new.get(no..no + ol),
                Some(&p_old[oo..oo + ol]),
                "kept chunk {i} bytes (significance {})",
                o.significance
            );
        }
    }
    expect.extend_from_slice(&p_old[read..]);
    assert_eq!(
        p_new,
        &expect[..],
        "payload is not the old one minus the washed chunks"
    );

    // Order and minimality.
    let washable: Vec<usize> = (0..old.len())
        .filter(|&i| old[i].length > 0 && old[i].significance != 0)
        .collect();
    if !out.reached {
        assert_eq!(
            washed, washable,
            "target not reached but washable chunks left"
        );
    }
    if let Some(&cut) = washed.iter().min_by_key(|&&i| (sig(&old[i]), i)) {
        let (cs, ci) = (sig(&old[cut]), cut);
        for &i in &washable {
            let must = sig(&old[i]) > cs || (sig(&old[i]) == cs && i >= ci);
            assert_eq!(
                washed.contains(&i),
                must,
                "wash order: chunk {i} (sig {}) vs cut {ci} (sig {cs})",
                old[i].significance
            );
        }
        if out.reached {
            assert!(
                out.removed - (old[cut].length as usize) < budget,
                "washed more than needed"
            );
        }
    }
}

/// IPv6 Hop-by-Hop option 0x3E: a value offset, when found, points at a
/// 16-byte value inside the Hop-by-Hop header, which the setters accept.
fn check_hbh(buf: &[u8], val: u32) {
    let Ok(Some(v)) = nip::find_plbf_option(buf) else {
        return;
    };
    let ext_end = 40 + (buf[41] as usize + 1) * 8;
    assert!(
        v >= 42 && v + nip::PRECISE_LBF_LEN <= ext_end && ext_end <= buf.len(),
        "option value {v} outside the header ..{ext_end}"
    );
    assert_eq!(buf[6], 0, "found an option without a Hop-by-Hop header");
    assert_eq!(
        (buf[v - 2], buf[v - 1] as usize),
        (newipd_core::contract::ipv6_option::OPT_PLBF, nip::PRECISE_LBF_LEN),
        "not an option 0x3E header"
    );
    let p = nip::PreciseLbf::read(buf, v).expect("value readable");
    let mut m = buf.to_vec();
    assert!(precise_lbf::set_experienced_ns(&mut m, v, val));
    assert!(precise_lbf::set_hops(&mut m, v, val as u16));
    assert!(precise_lbf::set_flags(&mut m, v, p.flags));
    let q = precise_lbf::on_transmit(&mut m, v, 7).expect("on transmit");
    assert_eq!((q.min_ns, q.max_ns, q.flags), (p.min_ns, p.max_ns, p.flags));
    assert_eq!(
        (q.experienced_ns, q.hops),
        (val.saturating_add(7), (val as u16).wrapping_add(1))
    );
    assert_eq!(m[..v], buf[..v], "option setters wrote before the value");
    assert_eq!(
        m[v + 16..],
        buf[v + 16..],
        "option setters wrote after the value"
    );
    assert_eq!(
        nip::find_plbf_option(&m),
        Ok(Some(v)),
        "setters moved the option"
    );
}
