//! The deadline queue in the data path, through net_pcap: on a shaped port,
//! EDF sends by deadline and FIFO by arrival, on the same input; a full queue
//! drops by name; every packet is accounted for.

mod common;
use common::*;
use newipd_core::wire::newip::build::{ethernet_frame, Address, ContractDesc, PacketDesc};
use newipd_core::wire::newip::{self as nip, PreciseLbf};

const FRAME: usize = 1000;

fn pipeline(discipline: &str, rate_bps: u64, capacity: usize) -> String {
    pipeline_h(discipline, rate_bps, capacity, 400_000)
}

fn pipeline_h(discipline: &str, rate_bps: u64, capacity: usize, horizon_us: u64) -> String {
    format!(
        r#"
[[port]]
name = "in"
device = "net_pcap0"

[[port]]
name = "out"
device = "net_pcap1"
peer_mac = "02:00:00:00:0b:0b"
scheduler = "{discipline}"
rate_bps = {rate_bps}
queue_capacity = {capacity}
bucket_ns = 4096
horizon_us = {horizon_us}
best_effort_us = 200000

[[route]]
prefix = "8bit:2"
port = "out"
"#
    )
}

/// A 1000-byte New IP frame tagged `tag`, with a precise-LBF budget of
/// `budget_ms` (None: best effort).
fn frame(tag: u16, budget_ms: Option<u32>) -> Vec<u8> {
    let mut d = PacketDesc::new(Address::Bits8(1), Address::Bits8(2));
    if let Some(ms) = budget_ms {
        d = d.contract(ContractDesc::PreciseLbf(PreciseLbf { min_ns: 0, max_ns: ms * 1_000_000, experienced_ns: 0, hops: 0, flags: 0 }));
    }
    let mut payload = tag.to_be_bytes().to_vec();
    payload.resize(200, 0xee);
    let mut f = ethernet_frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 9], nip::ETHERTYPE_NEWIP, None, &d.payload(payload).build().unwrap());
    // Pad the payload (not the header) to the frame size: tags stay findable.
    f.resize(FRAME, 0xee);
    f
}

fn tag(f: &[u8]) -> u16 {
    let h = nip::parse(&f[14..]).unwrap();
    let p = h.payload(&f[14..]);
    u16::from_be_bytes([p[0], p[1]])
}

fn run_case(name: &str, text: &str, frames: &[Vec<u8>]) -> (Vec<u16>, serde_json::Value) {
    let (out, r) = run_pcap_case(name, text, "in", "out", frames);
    (out.iter().map(|f| tag(f)).collect(), r)
}

/// Frames the shaper's initial burst (two 1514-byte frames' worth) lets
/// through before anything queues: they leave in arrival order.
const BYPASS: usize = 2 * (1514 + 24) / (FRAME + 24);

#[test]
fn edf_sends_by_deadline_fifo_by_arrival() {
    // Budgets in ms, in arrival order; None = best effort (200 ms here).
    let budgets: Vec<Option<u32>> =
        vec![Some(90), Some(40), Some(70), Some(20), None, Some(60), Some(30), Some(80), None, Some(50), Some(35), Some(45)];
    let frames: Vec<_> = budgets.iter().enumerate().map(|(i, b)| frame(i as u16, *b)).collect();
    // 10 Mb/s: a 1000-byte frame leaves every 819.2 us; all 12 fit their budgets.
    let (edf, r) = run_case("edf", &pipeline("edf", 10_000_000, 1024), &frames);
    let mut want: Vec<u16> = (0..BYPASS as u16).collect();
    let mut rest: Vec<(u32, u16)> = budgets.iter().enumerate().skip(BYPASS).map(|(i, b)| (b.unwrap_or(200), i as u16)).collect();
    rest.sort();
    want.extend(rest.iter().map(|x| x.1));
    assert_eq!(edf, want, "EDF order");
    assert_eq!(r["tx"].as_u64(), Some(12));
    let (fifo, _) = run_case("fifo", &pipeline("fifo", 10_000_000, 1024), &frames);
    assert_eq!(fifo, (0..12).collect::<Vec<u16>>(), "FIFO order");
}

#[test]
fn full_queue_drops_the_latest_deadline_by_name() {
    // 1 Mb/s (8.2 ms a frame) and room for 64: of 100 packets most cannot queue.
    // Earlier packets have later deadlines (all inside the 1 s horizon), so
    // newcomers evict them; what waits too long is dropped late at the head.
    // Deadlines are arrival + budget: budgets 9 ms apart keep the order even
    // if consecutive packets arrive in different bursts (a slow debug build).
    let frames: Vec<_> = (0..100u16).map(|i| frame(i, Some(950 - i as u32 * 9))).collect();
    let (sent, r) = run_case("full", &pipeline_h("edf", 1_000_000, 64, 1_000_000), &frames);
    let dropped = drops(&r, "queue-full");
    assert!(dropped >= 100 - 64 - BYPASS as u64 - 2, "queue-full {dropped}: {r}");
    assert_eq!(sent.len() as u64 + dropped + drops(&r, "newip-late"), 100);
    // What was queued left in deadline order: the last arrivals (earliest deadlines) first.
    let queued: Vec<u16> = sent[BYPASS..].to_vec();
    let mut sorted = queued.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(queued, sorted);
}
