//! `newipd sink`: receive on a DPDK port and [meter](super::meter) the
//! probes: per flow set latency, loss, reordering, duplicates, window
//! misses, experienced delay and hops. A small poll loop on one EAL lcore;
//! every table is allocated before it starts.

use super::live::{stop_flag, LivePort};
use super::meter::{read_experienced, Meter, MeterReport};
use super::payload::frame_payload;
use super::probe::Probe;
use newipd_dpdk::mbuf::Burst;
use newipd_dpdk::time::tsc;
use newipd_dpdk::time::Clock;
use newipd_core::kinds::MAX_BURST;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// When the sink stops and how it polls.
#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    pub device: String,
    pub eal_args: Vec<String>,
    pub burst: usize,
    pub packets: Option<u64>,
    pub duration: Option<Duration>,
    /// Stop once no packet has arrived for this long, after the first one.
    pub until_idle: Option<Duration>,
    /// Sleep this many µs after an empty poll; 0 = spin.
    pub idle_sleep_us: u64,
}

struct Receiver {
    meter: Meter,
    port: u16,
    clock: Clock,
    hz: u64,
    opts: ReceiveOptions,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn run(mut self) -> MeterReport {
        let mut rx = Burst::new();
        let allocs_before = newipd_dpdk::heap::thread_allocations();
        let ticks = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * self.hz as f64) as u64);
        let (duration, idle) = (ticks(self.opts.duration), ticks(self.opts.until_idle));
        let max = self.opts.burst.clamp(1, MAX_BURST);
        let start = tsc();
        let (mut first, mut last) = (None, start);
        let mut received = 0u64;
        loop {
            let now = tsc();
            if self.stop.load(Relaxed) || duration.is_some_and(|d| now.wrapping_sub(start) >= d) {
                break;
            }
            if first.is_some() && idle.is_some_and(|i| now.wrapping_sub(last) >= i) {
                break;
            }
            let want = match self.opts.packets {
                Some(p) if received >= p => break,
                Some(p) => max.min((p - received) as usize),
                None => max,
            };
            let n = rx.rx(self.port, 0, want);
            if n == 0 {
                if self.opts.idle_sleep_us > 0 {
                    std::thread::sleep(Duration::from_micros(self.opts.idle_sleep_us));
                }
                continue;
            }
            let t = tsc();
            let rx_ns = self.clock.ns(t);
            first.get_or_insert(t);
            last = t;
            received += n as u64;
            let mut bytes = 0;
            for m in rx.as_slice() {
                let f = m.data();
                bytes += f.len() as u64;
                match frame_payload(f).and_then(Probe::read) {
                    Some(s) => self.meter.record(&s, f.len(), rx_ns, read_experienced(f)),
                    None => self.meter.unstamped(f.len()),
                }
            }
            self.meter.burst(rx_ns, n as u64, bytes);
            rx.free_all();
        }
        let allocs = allocs_before.zip(newipd_dpdk::heap::thread_allocations()).map(|(a, b)| b - a);
        let mut r = self.meter.report();
        r.loop_heap_allocations = allocs;
        r
    }
}

/// Receive and measure until a limit; returns the report.
pub fn run(opts: &ReceiveOptions) -> Result<MeterReport, String> {
    let stop = stop_flag();
    let port = LivePort::open(&opts.device, &opts.eal_args, 8191)?;
    println!("sink: ready on {}", opts.device);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let r = Receiver { meter: Meter::new(), port: port.id.0, clock: Clock::new(port.hz), hz: port.hz, opts: opts.clone(), stop };
    let report = port.on_lcore(move || r.run())?;
    port.leave();
    Ok(report)
}
