//! The live generator's prebuilt frames, made once at start-up from a
//! [`Traffic`] description by the [engine](super::engine): the first frames
//! the pcap generator would write, each with a [probe](super::probe) in its
//! payload (flow set, stream, contract window; sequence number and time
//! zero), cycled through in order while sending. Pure code: no DPDK.

use super::engine::Traffic;
use super::flow::{FlowKind, SIZE_RANGE};
use super::payload::frame_payload;
use super::probe::{patch, Probe, Window, PROBE_LEN};
use std::collections::HashMap;

/// Most streams (distinct flows) the frames may have: the sink's fixed
/// table size.
pub const MAX_STREAMS: usize = 4096;
/// Most flow sets a live mix may have (the probe's class byte; the sink's
/// table of them). Not the router's traffic classes
/// (`newipd_core::kinds::MAX_CLASSES`).
pub const MAX_FLOW_SETS: usize = 32;
/// Most frames that may be prebuilt.
pub const MAX_PREBUILT: usize = MAX_STREAMS;

/// One prebuilt frame.
#[derive(Debug, Clone, PartialEq)]
pub struct PrebuiltFrame {
    /// The frame, with a probe of sequence number 0 and time 0.
    pub frame: Vec<u8>,
    /// Where its probe starts (`None`: a malformed frame, no probe).
    pub probe_off: Option<usize>,
    /// Offset of the UDP checksum covering the probe, if any.
    pub udp_csum: Option<usize>,
    /// The stream (index into the generator's sequence counters).
    pub stream: u16,
    /// The flow set.
    pub set: u8,
}

/// What the generator sends, per flow set.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SetInfo {
    /// `newip`, `ipv4`, ... and the contract window.
    pub label: String,
    pub window: Window,
    /// Smallest frame this flow set sends (grown to fit the probe if needed).
    pub min_size: usize,
}

/// The prebuilt frames and what they describe.
#[derive(Debug, Clone, PartialEq)]
pub struct Prebuilt {
    pub frames: Vec<PrebuiltFrame>,
    /// Number of streams (stream ids are `0..streams`).
    pub streams: usize,
    pub sets: Vec<SetInfo>,
}

impl Prebuilt {
    /// Build `n` frames (1..=[`MAX_PREBUILT`]) for `t`. Flow sets whose
    /// smallest frame has no room for a probe are grown so it fits (the
    /// set's `min_size` says by how much).
    pub fn build(t: &Traffic, n: usize) -> Result<Prebuilt, String> {
        if !(1..=MAX_PREBUILT).contains(&n) {
            return Err(format!("--templates: must be 1..={MAX_PREBUILT}, not {n}"));
        }
        if t.flows.len() > MAX_FLOW_SETS {
            return Err(format!("flow: a live mix has at most {MAX_FLOW_SETS} flow sets, not {}", t.flows.len()));
        }
        t.validate()?;
        let mut t = t.clone();
        t.packets = n;
        let mut sets = Vec::new();
        for (i, f) in t.flows.iter_mut().enumerate() {
            let room = |size: usize| frame_payload(&f.frame(t.dst_mac, 0, size, 0, 0)).map_or(0, |p| p.len());
            let mut lo = f.size.0;
            while room(lo) < PROBE_LEN && lo < SIZE_RANGE.1 {
                lo += PROBE_LEN - room(lo).min(PROBE_LEN);
            }
            if room(lo) < PROBE_LEN {
                return Err(format!("flow[{i}]: no frame size leaves {PROBE_LEN} payload bytes for the probe"));
            }
            f.size = (lo, f.size.1.max(lo));
            let window = Window::of(&f.contracts);
            let mut label = f.kind.name().to_string();
            if f.kind == FlowKind::Newip || f.kind == FlowKind::Ipv6Hbh {
                let names: Vec<&str> = f.contracts.iter().map(contract_name).collect();
                if !names.is_empty() {
                    label = format!("{label} {}", names.join("+"));
                }
            }
            sets.push(SetInfo { label, window, min_size: lo });
        }
        let mut streams: HashMap<(usize, u32), u16> = HashMap::new();
        let mut frames = Vec::with_capacity(n);
        for p in t.packets() {
            let next = streams.len() as u16;
            let stream = *streams.entry((p.set, p.flow)).or_insert(next);
            let mut pf = PrebuiltFrame { frame: Vec::new(), probe_off: None, udp_csum: None, stream, set: p.set as u8 };
            let mut frame = p.frame;
            if p.bad.is_none() {
                let base = frame.as_ptr() as usize;
                let off =
                    frame_payload(&frame).map(|q| q.as_ptr() as usize - base).ok_or("a generated frame has no payload")?;
                let csum = t.flows[p.set].kind.is_udp().then_some(off - 2);
                let mut s = [0u8; PROBE_LEN];
                Probe { seq: 0, tx_ns: 0, stream, set: p.set as u8, window: sets[p.set].window }.write(&mut s);
                if !patch(&mut frame, csum, off, &s) {
                    return Err(format!("flow[{}]: the probe does not fit the frame", p.set));
                }
                pf.probe_off = Some(off);
                pf.udp_csum = csum;
            }
            pf.frame = frame;
            frames.push(pf);
        }
        Ok(Prebuilt { frames, streams: streams.len(), sets })
    }
}

fn contract_name(c: &newipd_core::wire::newip::build::ContractDesc) -> &'static str {
    use newipd_core::wire::newip::build::ContractDesc as C;
    match c {
        C::MaxDelay { .. } => "max-delay",
        C::Lbf { .. } => "lbf",
        C::Ping { .. } => "ping",
        C::PreciseLbf(_) => "precise-lbf",
        C::OnTime(_) => "on-time",
        C::Qualitative(_) => "qualitative",
        C::Tlv { .. } => "tlv",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::presets::{Kind, Mix};

    #[test]
    fn frames_carry_a_probe_set_and_stream_per_flow() {
        let m = Mix { kind: Kind::NewipMix, packets: 1, flows: 4, malformed: 0.05, ..Default::default() };
        let t = m.traffic();
        let p = Prebuilt::build(&t, 500).unwrap();
        assert_eq!(p.frames.len(), 500);
        assert_eq!(p.sets.len(), t.flows.len());
        let mut set_of_stream: HashMap<u16, u8> = HashMap::new();
        let mut bad = 0;
        for f in &p.frames {
            let Some(off) = f.probe_off else {
                bad += 1;
                continue;
            };
            let s = Probe::read(&f.frame[off..]).unwrap();
            assert_eq!((s.seq, s.tx_ns, s.stream, s.set), (0, 0, f.stream, f.set));
            assert_eq!(s.window, p.sets[f.set as usize].window);
            assert!((f.stream as usize) < p.streams);
            // A stream is one flow: always the same flow set.
            assert_eq!(*set_of_stream.entry(f.stream).or_insert(f.set), f.set);
        }
        assert!(bad > 0 && bad < 100);
        assert!(p.streams <= 4 * t.flows.len());
        // Sizes grew so the probe fits: newip-mix at 60 bytes has too little room.
        assert!(p.sets.iter().all(|c| c.min_size >= 60));
        assert!(p.sets.iter().any(|c| c.min_size > 60));
        // The precise-LBF set carries its window.
        assert!(p.sets.iter().any(|c| c.window.max_ns == 5_000_000 && c.label.contains("precise-lbf")));
        assert!(Prebuilt::build(&t, 0).is_err() && Prebuilt::build(&t, MAX_PREBUILT + 1).is_err());
    }

    #[test]
    fn udp_kinds_prebuild_with_tagged_frames_that_fit_the_probe() {
        let t = Mix { kind: Kind::Mix, flows: 16, ..Default::default() }.traffic();
        let p = Prebuilt::build(&t, 256).unwrap();
        assert!(p.frames.iter().any(|f| f.frame[12..14] == [0x81, 0x00]));
        for f in &p.frames {
            let off = f.probe_off.expect("no malformed share");
            assert!(Probe::read(&f.frame[off..]).is_some());
        }
    }
}
