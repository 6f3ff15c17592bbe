//! `newipd gen --live`: send a traffic mix on a DPDK port at a target rate.
//!
//! Start-up builds the [frames](super::prebuilt) once; then, per burst: the
//! [token bucket](super::pace) says how many packets may go, one bulk
//! allocation takes that many mbufs, each gets its prebuilt frame copied in
//! and its probe's sequence number (per stream) and TX time (TSC ns) written,
//! and one tx_burst sends them. Packets the driver refuses are freed and
//! their sequence numbers taken back, so the sink sees no false gap. No heap
//! allocation in the loop (the report says how many it made: 0).

use super::engine::{Rate, Traffic};
use super::pace::Pacer;
use super::prebuilt::{Prebuilt, PrebuiltFrame, MAX_FLOW_SETS};
use super::probe::{write_seq_time, Window};
use super::span::{describe, Rates, Span};
use newipd_dpdk::eal::Eal;
use newipd_dpdk::lcore::LcoreId;
use newipd_dpdk::mbuf::Burst;
use newipd_dpdk::mempool::Mempool;
use newipd_dpdk::port::{PortId, PortSetup};
use newipd_dpdk::time::tsc;
use newipd_dpdk::time::Clock;
use newipd_core::kinds::MAX_BURST;
use newipd_core::sched::port::WIRE_OVERHEAD;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest frame the live generator sends (one mbuf).
pub const MAX_LIVE_FRAME: usize = 2048;

/// One DPDK port with its EAL and pool, for the generator and the sink.
pub struct LivePort {
    pub id: PortId,
    pub pool: Mempool,
    pub hz: u64,
    /// Kept so the EAL outlives the port and pool (never cleaned up: see [`Eal::leave`]).
    _eal: Eal,
}

impl LivePort {
    /// Start the EAL with `eal_args` plus the device (`--vdev` for `net_...`
    /// devargs, `-a` for a PCI address), make a pool of `mbufs`, configure
    /// one RX and one TX queue and start the port.
    pub fn open(device: &str, eal_args: &[String], mbufs: u32) -> Result<LivePort, String> {
        let vdev = device.starts_with("net_") || device.starts_with("eth_");
        let name = if vdev { device.split(',').next().unwrap_or("") } else { device };
        let mut args = vec!["newipd".to_string()];
        args.extend(eal_args.iter().cloned());
        args.push(if vdev { "--vdev" } else { "-a" }.into());
        args.push(device.into());
        let eal = Eal::init(&args).map_err(|e| e.to_string())?;
        let id = PortId::by_name(name).map_err(|e| format!("--port {device}: {e}"))?;
        let pool = Mempool::new("newipd_live", mbufs, 256, newipd_dpdk::mempool::MBUF_DATA_ROOM, -1).map_err(|e| e.to_string())?;
        let setup = PortSetup { rx_queues: 1, tx_queues: 1, rx_desc: 1024, tx_desc: 1024, promiscuous: true, mtu: 0 };
        id.configure_and_start(&setup, &pool).map_err(|e| format!("--port {device}: {e}"))?;
        let hz = eal.tsc_hz();
        Ok(LivePort { id, pool, hz, _eal: eal })
    }

    /// Run `f` on the first worker lcore (the main lcore if there is none)
    /// and return its result.
    pub fn on_lcore<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
        let Some(l) = LcoreId::workers().first().copied() else { return Ok(f()) };
        let slot = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        l.launch(move || {
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(f());
            0
        })
        .map_err(|e| e.to_string())?;
        l.wait();
        let v = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        v.ok_or_else(|| format!("lcore {} did not finish", l.0))
    }

    /// End without tearing the port down or cleaning the EAL up (see
    /// [`Eal::leave`]): the generator and the sink leave it all to the
    /// process exit, after their report is out.
    pub fn leave(self) {
        std::mem::forget(self);
    }
}

/// A stop flag set by SIGINT, SIGTERM, SIGHUP and the other signals that
/// would end the process without its report
/// ([`newipd_dpdk::signals::STOP`]); SIGUSR1 / SIGUSR2 are ignored.
pub fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let _ = newipd_dpdk::signals::stop_on(&stop, &[signal_hook::consts::SIGHUP]);
    let _ = newipd_dpdk::signals::ignore(&[signal_hook::consts::SIGUSR1, signal_hook::consts::SIGUSR2]);
    stop
}

/// How a live run sends and when it stops.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The port: vdev devargs or a PCI address.
    pub device: String,
    pub eal_args: Vec<String>,
    pub burst: usize,
    pub templates: usize,
    pub packets: Option<u64>,
    pub duration: Option<Duration>,
    /// Sleep (µs) when the next packet is due later than that; 0 = spin.
    pub idle_sleep_us: u64,
    /// How long to wait for the link to come up before sending.
    pub link_timeout: Duration,
}

/// Per flow set figures of a live run ("class" in the report).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveSet {
    #[serde(rename = "class")]
    pub set: u8,
    pub label: String,
    pub window: Window,
    pub min_size: usize,
    pub sent: u64,
}

/// What a live run sent.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveReport {
    pub device: String,
    /// Frames handed to the driver (with a probe, and malformed ones).
    pub sent: u64,
    pub bytes: u64,
    /// Of `sent`, frames broken on purpose (no probe).
    pub malformed_sent: u64,
    /// Frames the driver refused (freed, sequence numbers taken back).
    pub tx_full: u64,
    /// Bursts skipped because the pool was empty (their packets not sent).
    pub no_mbuf: u64,
    /// The send loop's whole time.
    pub elapsed_s: f64,
    /// Packets per second from the first burst sent to the last; `None`
    /// when that span is too short to measure (see [`span`](super::span)).
    pub pps: Option<f64>,
    /// Bits per second on the wire (frame + 24 bytes), over the same span.
    pub wire_bps: Option<f64>,
    pub target: String,
    /// Prebuilt frames.
    pub templates: usize,
    pub streams: usize,
    /// Per flow set.
    pub classes: Vec<LiveSet>,
    pub loop_heap_allocations: Option<u64>,
}

impl LiveReport {
    /// The readable summary.
    pub fn render(&self) -> String {
        let rate = match (self.pps, self.wire_bps) {
            (Some(pps), Some(bps)) => format!("{} on the wire", describe(Some(Rates { pps, bps }))),
            _ => describe(None),
        };
        let mut s = format!(
            "gen: sent {} packets ({} bytes, {} malformed on purpose) on {} in {:.3} s: {rate} (target {}); tx refused {}, no mbuf {}\n",
            self.sent,
            self.bytes,
            self.malformed_sent,
            self.device,
            self.elapsed_s,
            self.target,
            self.tx_full,
            self.no_mbuf
        );
        s.push_str(&format!("{:>5} {:>10} {:>9} {:>20}  {}\n", "class", "sent", "min_size", "window_ns", "label"));
        for c in &self.classes {
            s.push_str(&format!(
                "{:>5} {:>10} {:>9} {:>20}  {}\n",
                c.set,
                c.sent,
                c.min_size,
                format!("{}..{}", c.window.min_ns, c.window.max_ns),
                c.label
            ));
        }
        if let Some(a) = self.loop_heap_allocations {
            s.push_str(&format!("send loop heap allocations: {a}\n"));
        }
        s
    }
}

struct Outcome {
    sent_set: [u64; MAX_FLOW_SETS],
    malformed: u64,
    bytes: u64,
    /// Bursts sent, in ns of the TSC clock, with their wire bytes.
    span: Span,
    tx_full: u64,
    no_mbuf: u64,
    ticks: u64,
    allocations: Option<u64>,
}

struct Sender {
    frames: Vec<PrebuiltFrame>,
    costs: Vec<u64>,
    seqs: Vec<u64>,
    pool: Mempool,
    port: u16,
    clock: Clock,
    hz: u64,
    opts: LiveOptions,
    stop: Arc<AtomicBool>,
}

impl Sender {
    fn run(mut self) -> Outcome {
        let mut o = Outcome { sent_set: [0; MAX_FLOW_SETS], malformed: 0, bytes: 0, span: Span::default(), tx_full: 0, no_mbuf: 0, ticks: 0, allocations: None };
        let mut burst = Burst::new();
        let mut ids = [0usize; MAX_BURST];
        let allocs_before = newipd_dpdk::heap::thread_allocations();
        let start = tsc();
        let mut pacer = Pacer::new(start, self.hz / 1000);
        let duration = self.opts.duration.map(|d| (d.as_secs_f64() * self.hz as f64) as u64);
        let sleep_ticks = self.hz / 1_000_000 * self.opts.idle_sleep_us;
        let max = self.opts.burst.clamp(1, MAX_BURST);
        let mut cursor = 0usize;
        let mut sent_total = 0u64;
        loop {
            let now = tsc();
            if self.stop.load(Relaxed) || duration.is_some_and(|d| now.wrapping_sub(start) >= d) {
                break;
            }
            let want = match self.opts.packets {
                Some(p) if sent_total >= p => break,
                Some(p) => max.min((p - sent_total) as usize),
                None => max,
            };
            pacer.refill(now);
            let mut n = 0;
            while n < want && pacer.ready(now) {
                ids[n] = cursor;
                pacer.spend(self.costs[cursor]);
                cursor += 1;
                if cursor == self.frames.len() {
                    cursor = 0;
                }
                n += 1;
            }
            if n == 0 {
                if sleep_ticks > 0 && pacer.wait_ticks(now) > sleep_ticks {
                    std::thread::sleep(Duration::from_micros(self.opts.idle_sleep_us));
                }
                continue;
            }
            if !burst.alloc_bulk(&self.pool, n) {
                o.no_mbuf += 1;
                continue;
            }
            let tx_ns = self.clock.ns(tsc());
            for (m, &id) in burst.as_mut_slice().iter_mut().zip(&ids[..n]) {
                let t = &self.frames[id];
                if let Some(buf) = m.append(t.frame.len() as u16) {
                    buf.copy_from_slice(&t.frame);
                    if let Some(off) = t.probe_off {
                        write_seq_time(buf, t.udp_csum, off, self.seqs[t.stream as usize], tx_ns);
                        self.seqs[t.stream as usize] += 1;
                    }
                }
            }
            let sent = burst.tx(self.port, 0);
            if sent < n {
                // Take back the sequence numbers of the refused tail (latest first).
                for &id in ids[sent..n].iter().rev() {
                    let t = &self.frames[id];
                    if t.probe_off.is_some() {
                        self.seqs[t.stream as usize] -= 1;
                    }
                }
                o.tx_full += (n - sent) as u64;
                burst.free_all();
            }
            let mut wire_bytes = 0;
            for &id in &ids[..sent] {
                let t = &self.frames[id];
                let len = t.frame.len() as u64;
                o.bytes += len;
                wire_bytes += len.max(60) + WIRE_OVERHEAD;
                match t.probe_off {
                    Some(_) => o.sent_set[t.set as usize] += 1,
                    None => o.malformed += 1,
                }
            }
            o.span.burst(tx_ns, sent as u64, wire_bytes);
            sent_total += sent as u64;
        }
        o.ticks = tsc().wrapping_sub(start);
        o.allocations = allocs_before.zip(newipd_dpdk::heap::thread_allocations()).map(|(a, b)| b - a);
        o
    }
}

/// Send `traffic` as `opts` says; returns what was sent.
pub fn run(traffic: &Traffic, opts: &LiveOptions) -> Result<LiveReport, String> {
    let pre = Prebuilt::build(traffic, opts.templates)?;
    if let Some(t) = pre.frames.iter().find(|t| t.frame.len() > MAX_LIVE_FRAME) {
        return Err(format!("flow[{}]: frames of {} bytes; --live sends at most {MAX_LIVE_FRAME}", t.set, t.frame.len()));
    }
    let stop = stop_flag();
    let port = LivePort::open(&opts.device, &opts.eal_args, 8191)?;
    if !port.id.wait_up(opts.link_timeout) {
        let dev = opts.device.clone();
        port.leave();
        return Err(format!("--port {dev}: link still down after {:?}", opts.link_timeout));
    }
    println!("gen: ready on {}", opts.device);
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let hz = port.hz;
    let costs = pre
        .frames
        .iter()
        .map(|t| match traffic.rate {
            Rate::Pps(p) => Pacer::cost_pps(hz, p),
            Rate::Bps(b) => Pacer::cost_bps(hz, b, t.frame.len()),
        })
        .collect();
    let sender = Sender {
        frames: pre.frames.clone(),
        costs,
        seqs: vec![0; pre.streams],
        pool: port.pool,
        port: port.id.0,
        clock: Clock::new(hz),
        hz,
        opts: opts.clone(),
        stop,
    };
    let o = port.on_lcore(move || sender.run())?;
    port.leave();
    let elapsed_s = o.ticks as f64 / hz as f64;
    let sent = o.sent_set.iter().sum::<u64>() + o.malformed;
    let rates = o.span.rates();
    Ok(LiveReport {
        device: opts.device.clone(),
        sent,
        bytes: o.bytes,
        malformed_sent: o.malformed,
        tx_full: o.tx_full,
        no_mbuf: o.no_mbuf,
        elapsed_s,
        pps: rates.map(|r| r.pps),
        wire_bps: rates.map(|r| r.bps),
        target: match traffic.rate {
            Rate::Pps(p) => format!("{p} pps"),
            Rate::Bps(b) => format!("{b} b/s"),
        },
        templates: pre.frames.len(),
        streams: pre.streams,
        classes: pre
            .sets
            .iter()
            .enumerate()
            .map(|(i, c)| LiveSet { set: i as u8, label: c.label.clone(), window: c.window, min_size: c.min_size, sent: o.sent_set[i] })
            .collect(),
        loop_heap_allocations: o.allocations,
    })
}
