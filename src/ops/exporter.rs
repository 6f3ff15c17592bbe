//! The stats thread: every 100 ms it takes the latency histograms the packet
//! lcores posted; every interval it sums the published counters into a
//! [`Snapshot`], keeps it as the latest (for Prometheus and telemetry),
//! appends it to `--stats-json` and shows the live view. It runs pinned
//! away from the packet lcores when a spare core exists, and never touches
//! what the lcores write except through their lock-free publications.

use newipd_core::stats::counters::{Counters, SharedCounters};
use newipd_core::stats::histo::{ClassHistograms, HistoMailbox};
use super::live::{self, LiveMode};
use super::snapshot::{Names, Snapshot};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the user asked of statistics while running (`newipd run` flags).
#[derive(Debug, Clone)]
pub struct StatsOptions {
    /// Snapshot period (live view, `--stats-json`, metrics freshness).
    pub interval: Duration,
    pub live: LiveMode,
    /// `--stats-json FILE`.
    pub json: Option<std::path::PathBuf>,
    /// `--metrics ADDR:PORT`.
    pub metrics: Option<std::net::SocketAddr>,
}

impl Default for StatsOptions {
    fn default() -> Self {
        StatsOptions { interval: Duration::from_secs(1), live: LiveMode::Off, json: None, metrics: None }
    }
}

/// How often posted histograms are taken in.
const COLLECT_EVERY: Duration = Duration::from_millis(100);

/// The newest snapshot, shared with the metrics server and telemetry.
#[derive(Default)]
pub struct Latest(Mutex<Option<Arc<Snapshot>>>);

impl Latest {
    pub fn get(&self) -> Option<Arc<Snapshot>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, s: Snapshot) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(s));
    }
}

/// What the packet lcores publish, and the names to show it with.
pub struct Sources {
    pub counters: Vec<Arc<SharedCounters>>,
    pub histos: Vec<Arc<HistoMailbox>>,
    pub names: Names,
    /// Where the class names are read at each snapshot (a reload may
    /// change the classes); None: `names.classes` stays.
    pub classes: Option<Arc<newipd_core::path::Router>>,
}

/// Sums lcore publications into snapshots.
pub struct Collector {
    sources: Sources,
    totals: ClassHistograms,
    prev: Option<Snapshot>,
    start: Instant,
}

impl Collector {
    /// Start the uptime clock now.
    pub fn new(sources: Sources) -> Collector {
        Collector { sources, totals: ClassHistograms::default(), prev: None, start: Instant::now() }
    }

    /// Take in posted histograms.
    pub fn collect(&mut self) {
        for mb in &self.sources.histos {
            mb.collect(&mut self.totals);
        }
    }

    /// Collect and sum everything into the next snapshot.
    pub fn snapshot(&mut self) -> Snapshot {
        self.collect();
        let mut c = Counters::default();
        for s in &self.sources.counters {
            c.add(&s.snapshot());
        }
        if let Some(r) = &self.sources.classes {
            self.sources.names.classes = r.classes().names();
        }
        let s = Snapshot::build(&self.sources.names, &c, &self.totals, self.prev.as_ref(), self.start.elapsed().as_secs_f64());
        self.prev = Some(s.clone());
        s
    }
}

/// Where snapshots go.
pub struct Outputs {
    pub interval: Duration,
    pub live: LiveMode,
    /// `--stats-json`: one JSON object per line.
    pub json: Option<std::fs::File>,
    pub latest: Arc<Latest>,
}

impl Outputs {
    fn emit(&mut self, s: Snapshot) {
        if let Some(f) = &mut self.json {
            let line = serde_json::to_string(&s).unwrap_or_default();
            if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
                eprintln!("newipd: --stats-json: {e}; no more snapshots will be written");
                self.json = None;
            }
        }
        match self.live {
            LiveMode::Off => {}
            LiveMode::Screen => {
                print!("{}", live::screen(&s));
                let _ = std::io::stdout().flush();
            }
            LiveMode::Lines => println!("{}", live::line(&s)),
        }
        self.latest.set(s);
    }
}

/// The running stats thread.
pub struct Exporter {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(Collector, Outputs)>,
}

impl Exporter {
    /// Emit a first snapshot (so readers never find none), then start the
    /// stats thread, pinned to `cpu` if given.
    pub fn spawn(mut col: Collector, mut out: Outputs, cpu: Option<usize>) -> std::io::Result<Exporter> {
        out.emit(col.snapshot());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("newipd-stats".into()).spawn(move || {
            pin(cpu);
            let mut next = Instant::now() + out.interval;
            while !flag.load(Relaxed) {
                std::thread::sleep(COLLECT_EVERY.min(next.saturating_duration_since(Instant::now())).max(Duration::from_millis(1)));
                col.collect();
                if Instant::now() >= next {
                    out.emit(col.snapshot());
                    next += out.interval;
                }
            }
            (col, out)
        })?;
        Ok(Exporter { stop, thread })
    }

    /// Stop the thread (after the packet lcores have finished and published
    /// their last values) and emit the final snapshot, which is returned.
    pub fn finish(self) -> Snapshot {
        self.stop.store(true, Relaxed);
        let (mut col, mut out) = self.thread.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        let last = col.snapshot();
        if out.live == LiveMode::Screen {
            out.live = LiveMode::Off; // the final report follows on the screen
        }
        out.emit(last.clone());
        last
    }
}

/// Pin a helper thread to a core (best effort).
pub fn pin(cpu: Option<usize>) {
    if let Some(id) = cpu {
        core_affinity::set_for_current(core_affinity::CoreId { id });
    }
}

/// A CPU for helper threads: one no EAL lcore runs on if the machine has
/// one, else one that runs no packet lcore, else None. (EAL lcore ids are
/// taken as CPU ids, as `-l` sets them.)
pub fn spare_core(packet_cpus: &[usize], eal_cpus: &[usize]) -> Option<usize> {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|t| parse_cpu_list(&t))
        .or_else(|| core_affinity::get_core_ids().map(|v| v.into_iter().map(|c| c.id).collect()))?;
    online.iter().copied().find(|c| !eal_cpus.contains(c)).or_else(|| online.iter().copied().find(|c| !packet_cpus.contains(c)))
}

/// A Linux CPU list such as `0-3,8,10-11`.
fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let mut v = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => v.extend(a.parse::<usize>().ok()?..=b.parse::<usize>().ok()?),
            None => v.push(part.parse().ok()?),
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use newipd_core::class::{Classes, CONTRACT};
    use newipd_core::kinds::Reason;

    #[test]
    fn cpu_lists_parse_and_spare_cores_avoid_packet_lcores() {
        assert_eq!(parse_cpu_list("0-3,8,10-11\n"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("x"), None);
        if let Some(c) = spare_core(&[1], &[0, 1]) {
            assert_ne!(c, 1);
        }
    }

    #[test]
    fn two_lcores_are_summed_and_the_final_snapshot_sees_everything() {
        let (a, b) = (Arc::new(SharedCounters::default()), Arc::new(SharedCounters::default()));
        let (mb, mut w) = HistoMailbox::new();
        let names = Names { ports: vec!["p0".into()], classes: Classes::default().names() };
        let col = Collector::new(Sources { counters: vec![a.clone(), b.clone()], histos: vec![mb], names, classes: None });
        let dir = std::env::temp_dir().join(format!("newipd-exporter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.jsonl");
        let latest = Arc::new(Latest::default());
        let out = Outputs { interval: Duration::from_millis(20), live: LiveMode::Off, json: Some(std::fs::File::create(&path).unwrap()), latest: latest.clone() };
        let ex = Exporter::spawn(col, out, None).unwrap();
        let mut c = Counters::default();
        for _ in 0..5 {
            c.rx(0, 1, 64);
        }
        c.tx(0, 3, 192);
        c.drop(0, Reason::NoRoute, 2);
        a.publish(&c);
        b.publish(&c);
        w.sojourn(CONTRACT, 1000, 3);
        w.finish();
        let deadline = Instant::now() + Duration::from_secs(20);
        while latest.get().is_none_or(|s| s.rx < 10) {
            assert!(Instant::now() < deadline, "no snapshot with both lcores");
            std::thread::sleep(Duration::from_millis(5));
        }
        let last = ex.finish();
        assert_eq!((last.rx, last.tx, last.dropped), (10, 6, 4));
        assert!(last.identity_holds);
        assert_eq!(last.classes[CONTRACT as usize].sojourn.count, 3);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Snapshot> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(lines.len() >= 2);
        assert_eq!(lines.last().unwrap(), &last);
        assert!(lines.windows(2).all(|w| w[0].seq + 1 == w[1].seq && w[0].rx <= w[1].rx));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
