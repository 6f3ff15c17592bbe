//! The live probe: what `newipd gen --live` writes at the start of every
//! payload and `newipd sink` reads back.
//!
//! It extends the pcap generator's [payload stamp](super::payload)
//! (sequence number and timestamp in bytes 0-15, so
//! [`read_stamp`](super::payload::read_stamp) still decodes it) with 16 more
//! bytes:
//!
//! | bytes | field |
//! |---|---|
//! | 0-7 | sequence number in its stream, u64 big-endian, from 0 |
//! | 8-15 | TX time, u64 big-endian, ns of the host's TSC clock |
//! | 16-17 | magic `0x4E 0x4C` ("NL": a live probe) |
//! | 18-19 | stream id, u16 big-endian (one per flow of the mix) |
//! | 20 | class: the flow set of the mix the packet belongs to (0-based) |
//! | 21 | flags, 0 |
//! | 22-23 | reserved, 0 |
//! | 24-27 | window min, u32 big-endian, ns after the TX time (0 = none) |
//! | 28-31 | window max, u32 big-endian, ns after the TX time (0 = none) |
//!
//! The pcap generator's payload pattern puts bytes 0x10 0x11 where the magic
//! goes, so a probe cannot be mistaken for a pcap stamp.

use newipd_core::wire::newip::build::ContractDesc;

/// Length of the live probe.
pub const PROBE_LEN: usize = 32;
/// The magic in bytes 16-17.
pub const MAGIC: [u8; 2] = [0x4E, 0x4C];
/// Offset of the sequence number within the probe.
pub const SEQ_OFF: usize = 0;
/// Offset of the TX time within the probe.
pub const TIME_OFF: usize = 8;

/// The delivery window a contract set promises, in ns after the send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Window {
    /// Not before this (0 = no lower bound).
    pub min_ns: u32,
    /// Not after this (0 = no deadline).
    pub max_ns: u32,
}

impl Window {
    /// The window of a flow's contracts: precise LBF gives `[min_ns,
    /// max_ns]`, LBF `[min_delay, max_delay]` ms, max delay `[0,
    /// max_allowed_delay]` ms, and an on-time damper alone `[damper_ns, -]`
    /// (the first router holds the packet that long). Where several bound
    /// the same side, the tightest wins.
    pub fn of(contracts: &[ContractDesc]) -> Window {
        let mut w = Window::default();
        let mut lower = |v: u64| w.min_ns = w.min_ns.max(v.min(u32::MAX as u64) as u32);
        let mut upper = Vec::new();
        for c in contracts {
            match c {
                ContractDesc::PreciseLbf(p) => {
                    lower(p.min_ns as u64);
                    upper.push(p.max_ns as u64);
                }
                ContractDesc::Lbf { min_delay, max_delay, .. } => {
                    lower(*min_delay as u64 * 1_000_000);
                    upper.push(*max_delay as u64 * 1_000_000);
                }
                ContractDesc::MaxDelay { max_allowed_delay, .. } => upper.push(*max_allowed_delay as u64 * 1_000_000),
                ContractDesc::OnTime(o) => lower(o.damper_ns as u64),
                _ => {}
            }
        }
        w.max_ns = upper.into_iter().filter(|v| *v > 0).min().unwrap_or(0).min(u32::MAX as u64) as u32;
        w
    }
}

/// A decoded live probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Sequence number in its stream, from 0.
    pub seq: u64,
    /// TX time, ns of the host's TSC clock.
    pub tx_ns: u64,
    /// The stream: one flow of the mix, numbered by the generator.
    pub stream: u16,
    /// The flow set of the mix (byte 20, "class" in the reports).
    pub set: u8,
    pub window: Window,
}

impl Probe {
    /// Write the probe into the first [`PROBE_LEN`] bytes of `payload`;
    /// false if it is shorter.
    pub fn write(&self, payload: &mut [u8]) -> bool {
        let Some(s) = payload.get_mut(..PROBE_LEN) else { return false };
        s[0..8].copy_from_slice(&self.seq.to_be_bytes());
        s[8..16].copy_from_slice(&self.tx_ns.to_be_bytes());
        s[16..18].copy_from_slice(&MAGIC);
        s[18..20].copy_from_slice(&self.stream.to_be_bytes());
        s[20] = self.set;
        s[21..24].fill(0);
        s[24..28].copy_from_slice(&self.window.min_ns.to_be_bytes());
        s[28..32].copy_from_slice(&self.window.max_ns.to_be_bytes());
        true
    }

    /// Decode a probe from the start of `payload` (`None` if it is
    /// shorter or the magic is missing).
    #[inline]
    pub fn read(payload: &[u8]) -> Option<Probe> {
        let s: &[u8; PROBE_LEN] = payload.get(..PROBE_LEN)?.try_into().ok()?;
        if s[16..18] != MAGIC {
            return None;
        }
        let u64at = |o: usize| u64::from_be_bytes([s[o], s[o + 1], s[o + 2], s[o + 3], s[o + 4], s[o + 5], s[o + 6], s[o + 7]]);
        let u32at = |o: usize| u32::from_be_bytes([s[o], s[o + 1], s[o + 2], s[o + 3]]);
        Some(Probe {
            seq: u64at(0),
            tx_ns: u64at(8),
            stream: u16::from_be_bytes([s[18], s[19]]),
            set: s[20],
            window: Window { min_ns: u32at(24), max_ns: u32at(28) },
        })
    }
}

/// Write `new` over `frame[at..]` (an even number of bytes, at an even
/// distance from the UDP header) and keep the UDP checksum at `csum` valid
/// (RFC 1624 incremental update; a zero IPv4 UDP checksum means "none" and
/// stays zero). No allocation; false if the range is outside the frame.
#[inline]
pub fn patch(frame: &mut [u8], csum: Option<usize>, at: usize, new: &[u8]) -> bool {
    if !new.len().is_multiple_of(2) || at + new.len() > frame.len() || csum.is_some_and(|c| c + 2 > frame.len()) {
        return false;
    }
    let mut acc: u32 = 0;
    for (o, n) in frame[at..at + new.len()].chunks_exact_mut(2).zip(new.chunks_exact(2)) {
        acc += (!u16::from_be_bytes([o[0], o[1]])) as u32 + u16::from_be_bytes([n[0], n[1]]) as u32;
        o.copy_from_slice(n);
    }
    if let Some(c) = csum {
        let old = u16::from_be_bytes([frame[c], frame[c + 1]]);
        if old != 0 {
            let mut v = !newipd_core::wire::checksum::fold(acc + (!old) as u32);
            if v == 0 {
                v = 0xffff;
            }
            frame[c..c + 2].copy_from_slice(&v.to_be_bytes());
        }
    }
    true
}

/// Write the per-packet part of a probe (sequence number and TX time) into
/// `frame`, whose probe starts at `at`, keeping the UDP checksum valid.
#[inline(always)]
pub fn write_seq_time(frame: &mut [u8], csum: Option<usize>, at: usize, seq: u64, tx_ns: u64) -> bool {
    let mut b = [0u8; 16];
    b[SEQ_OFF..SEQ_OFF + 8].copy_from_slice(&seq.to_be_bytes());
    b[TIME_OFF..TIME_OFF + 8].copy_from_slice(&tx_ns.to_be_bytes());
    patch(frame, csum, at, &b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use newipd_core::wire::newip::{OnTime, PreciseLbf};

    #[test]
    fn round_trip_and_compatible_with_the_pcap_stamp() {
        let s = Probe { seq: 1 << 40, tx_ns: 123_456_789, stream: 513, set: 7, window: Window { min_ns: 5, max_ns: 9 } };
        let mut p = crate::gen::payload::payload(64, 0, 0);
        assert!(s.write(&mut p));
        assert_eq!(Probe::read(&p), Some(s));
        assert_eq!(crate::gen::payload::read_stamp(&p), Some((1 << 40, 123_456_789)));
        assert!(write_seq_time(&mut p, None, 0, 3, 4));
        assert_eq!(Probe::read(&p), Some(Probe { seq: 3, tx_ns: 4, ..s }));
        assert_eq!(p[32], 32, "pattern after the probe is kept");
        assert!(!s.write(&mut [0u8; 31]));
        // A pcap-generator payload is not a probe.
        assert_eq!(Probe::read(&crate::gen::payload::payload(64, 1, 2)), None);
        assert_eq!(Probe::read(&p[..31]), None);
    }

    #[test]
    fn patching_keeps_udp_checksums_valid() {
        use newipd_core::wire::build::{udp4, udp6, Udp4, Udp6};
        let probe = |seq: u64, ts: u64| {
            let mut p = crate::gen::payload::payload(40, 0, 0);
            Probe { seq, tx_ns: ts, stream: 9, set: 2, window: Window { min_ns: 1, max_ns: 2 } }.write(&mut p);
            p
        };
        for v6 in [false, true] {
            let build = |payload: Vec<u8>| {
                if v6 {
                    udp6(Udp6 { payload, frame_len: 100, ..Default::default() })
                } else {
                    udp4(Udp4 { payload, frame_len: 100, ..Default::default() })
                }
            };
            let at = if v6 { 14 + 48 } else { 14 + 28 };
            // Prebuilt frame: pattern payload, then the fixed part patched in; then per packet.
            let mut t = build(crate::gen::payload::payload(40, 0, 0));
            assert!(patch(&mut t, Some(at - 2), at, &probe(0, 0)[..PROBE_LEN]));
            assert_eq!(t, build(probe(0, 0)));
            for (seq, ts) in [(1, 2), (u64::MAX, u64::MAX), (77, 0x0123_4567_89ab_cdef)] {
                let mut f = t.clone();
                assert!(write_seq_time(&mut f, Some(at - 2), at, seq, ts));
                assert_eq!(f, build(probe(seq, ts)), "v6 {v6} seq {seq}");
            }
        }
        // A zero (absent) IPv4 UDP checksum stays zero; out of range refuses.
        let mut z = vec![0u8; 20];
        assert!(patch(&mut z, Some(0), 4, &[1, 2]));
        assert_eq!(&z[..6], &[0, 0, 0, 0, 1, 2]);
        assert!(!patch(&mut z, None, 19, &[1, 2]));
        assert!(!patch(&mut z, None, 0, &[1]));
    }

    #[test]
    fn windows_from_contracts() {
        let plbf = |min_ns, max_ns| ContractDesc::PreciseLbf(PreciseLbf { min_ns, max_ns, ..Default::default() });
        assert_eq!(Window::of(&[]), Window::default());
        assert_eq!(Window::of(&[plbf(1000, 5000)]), Window { min_ns: 1000, max_ns: 5000 });
        let lbf = ContractDesc::Lbf { min_delay: 2, max_delay: 10, experienced_delay: 0, fib_todelay: 0, fib_tohops: 3 };
        let md = ContractDesc::MaxDelay { max_allowed_delay: 4, delay_exp: 0 };
        assert_eq!(Window::of(&[lbf.clone(), md]), Window { min_ns: 2_000_000, max_ns: 4_000_000 });
        assert_eq!(Window::of(&[lbf, plbf(0, 0)]), Window { min_ns: 2_000_000, max_ns: 10_000_000 });
        let ot = ContractDesc::OnTime(OnTime { damper_ns: 300, prio: 1, flags: 0 });
        assert_eq!(Window::of(std::slice::from_ref(&ot)), Window { min_ns: 300, max_ns: 0 });
        assert_eq!(Window::of(&[ot, plbf(1000, 8000)]), Window { min_ns: 1000, max_ns: 8000 });
    }
}
