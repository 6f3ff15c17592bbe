//! The live generator's packet templates, built once at start-up from a
//! [`Traffic`] description: the frames the pcap generator would write, each
//! with a [live stamp](super::stamp) in its payload (class, stream, contract
//! window; sequence number and time zero), cycled through in order while
//! sending. Pure code: no DPDK.

use super::stamp::{patch, LiveStamp, Window, LIVE_STAMP_LEN};
use super::traffic::{frame_payload, FlowKind, Traffic, SIZE_RANGE};
use std::collections::HashMap;

/// Most streams (distinct flows) a plan may have: the sink's fixed table size.
pub const MAX_STREAMS: usize = 4096;
/// Most classes (flow sets of the mix) a plan may have.
pub const MAX_CLASSES: usize = 32;
/// Most templates a plan may have.
pub const MAX_TEMPLATES: usize = MAX_STREAMS;

/// One prebuilt frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The frame, stamped with sequence number 0 and time 0.
    pub frame: Vec<u8>,
    /// Where its live stamp starts (`None`: a malformed frame, no stamp).
    pub stamp_off: Option<usize>,
    /// Offset of the UDP checksum covering the stamp, if any.
    pub udp_csum: Option<usize>,
    /// The stream (index into the generator's sequence counters).
    pub stream: u16,
    /// The flow set.
    pub class: u8,
}

/// What the generator sends, per class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassInfo {
    /// `newip`, `ipv4`, ... and the contract window.
    pub label: String,
    pub window: Window,
    /// Smallest frame this class sends (grown to fit the stamp if needed).
    pub min_size: usize,
}

/// The templates and what they describe.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub templates: Vec<Template>,
    /// Number of streams (stream ids are `0..streams`).
    pub streams: usize,
    pub classes: Vec<ClassInfo>,
}

/// Build `n` templates (1..=[`MAX_TEMPLATES`]) for `t`. Flow sets whose
/// smallest frame has no room for a live stamp are grown so it fits (the
/// class's `min_size` says by how much).
pub fn plan(t: &Traffic, n: usize) -> Result<Plan, String> {
    if !(1..=MAX_TEMPLATES).contains(&n) {
        return Err(format!("--templates: must be 1..={MAX_TEMPLATES}, not {n}"));
    }
    if t.flows.len() > MAX_CLASSES {
        return Err(format!("flow: a live mix has at most {MAX_CLASSES} flow sets, not {}", t.flows.len()));
    }
    t.validate()?;
    let mut t = t.clone();
    t.packets = n;
    let mut classes = Vec::new();
    for (i, f) in t.flows.iter_mut().enumerate() {
        let room = |size: usize| frame_payload(&f.frame(t.dst_mac, 0, size, 0, 0)).map_or(0, |p| p.len());
        let mut lo = f.size.0;
        while room(lo) < LIVE_STAMP_LEN && lo < SIZE_RANGE.1 {
            lo += LIVE_STAMP_LEN - room(lo).min(LIVE_STAMP_LEN);
        }
        if room(lo) < LIVE_STAMP_LEN {
            return Err(format!("flow[{i}]: no frame size leaves {LIVE_STAMP_LEN} payload bytes for the stamp"));
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
        classes.push(ClassInfo { label, window, min_size: lo });
    }
    let (g, labels, origins) = t.generate_detailed();
    let mut streams: HashMap<(usize, u32), u16> = HashMap::new();
    let mut templates = Vec::with_capacity(n);
    for (((_, mut frame), bad), (set, flow)) in g.frames.into_iter().zip(labels).zip(origins) {
        let next = streams.len() as u16;
        let stream = *streams.entry((set, flow)).or_insert(next);
        let class = set as u8;
        let mut tpl = Template { frame: Vec::new(), stamp_off: None, udp_csum: None, stream, class };
        if bad.is_none() {
            let base = frame.as_ptr() as usize;
            let off = frame_payload(&frame).map(|p| p.as_ptr() as usize - base).ok_or("a generated frame has no payload")?;
            let udp = matches!(t.flows[set].kind, FlowKind::Ipv4 | FlowKind::Ipv6 | FlowKind::Ipv6Hbh);
            let csum = udp.then_some(off - 2);
            let mut s = [0u8; LIVE_STAMP_LEN];
            LiveStamp { seq: 0, tx_ns: 0, stream, class, window: classes[set].window }.write(&mut s);
            if !patch(&mut frame, csum, off, &s) {
                return Err(format!("flow[{set}]: the stamp does not fit the frame"));
            }
            tpl.stamp_off = Some(off);
            tpl.udp_csum = csum;
        }
        tpl.frame = frame;
        templates.push(tpl);
    }
    Ok(Plan { templates, streams: streams.len(), classes })
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
    use crate::gen::mix::{Kind, Mix};
    use crate::gen::stamp::LiveStamp;

    #[test]
    fn templates_carry_a_stamp_class_and_stream_per_flow() {
        let m = Mix { kind: Kind::NewipMix, packets: 1, flows: 4, malformed: 0.05, ..Default::default() };
        let t = Traffic::from_mix(&m);
        let p = plan(&t, 500).unwrap();
        assert_eq!(p.templates.len(), 500);
        assert_eq!(p.classes.len(), t.flows.len());
        let mut flows_of_stream: HashMap<u16, (u8, Vec<u8>)> = HashMap::new();
        let mut bad = 0;
        for tp in &p.templates {
            let Some(off) = tp.stamp_off else {
                bad += 1;
                continue;
            };
            let s = LiveStamp::read(&tp.frame[off..]).unwrap();
            assert_eq!((s.seq, s.tx_ns, s.stream, s.class), (0, 0, tp.stream, tp.class));
            assert_eq!(s.window, p.classes[tp.class as usize].window);
            assert!((tp.stream as usize) < p.streams);
            // A stream is one flow: same class, same destination bytes every time.
            let eth = &tp.frame[..12];
            let e = flows_of_stream.entry(tp.stream).or_insert((tp.class, eth.to_vec()));
            assert_eq!(e.0, tp.class);
        }
        assert!(bad > 0 && bad < 100);
        assert!(p.streams <= 4 * t.flows.len());
        // Sizes grew so the stamp fits: newip-mix at 60 bytes has too little room.
        assert!(p.classes.iter().all(|c| c.min_size >= 60));
        assert!(p.classes.iter().any(|c| c.min_size > 60));
        // The precise-LBF class carries its window.
        assert!(p.classes.iter().any(|c| c.window.max_ns == 5_000_000 && c.label.contains("precise-lbf")));
        assert!(plan(&t, 0).is_err() && plan(&t, MAX_TEMPLATES + 1).is_err());
    }
}
