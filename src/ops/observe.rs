//! [stats] Operating a run: the stats thread (live view, `--stats-json`),
//! the Prometheus endpoint and the DPDK telemetry commands, started around
//! the packet lcores and stopped after them. Kept apart from `run` so the
//! lcore layout can change without touching it.

use crate::control::config::Pipeline;
use newipd_dpdk::lcore::LcoreId;
use newipd_dpdk::telemetry;
use newipd_dpdk::DpdkError;
use crate::ops::exporter::{spare_core, Collector, Exporter, Latest, Outputs, Sources, StatsOptions};
use newipd_core::stats::histo::HistoMailbox;
use crate::ops::report::Report;
use crate::ops::snapshot::Names;
use newipd_core::stats::SharedCounters;
use std::io::Write;
use std::sync::Arc;

/// What can stop the statistics side from starting (`run` passes it on as
/// its own error, with the same message).
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Dpdk(#[from] DpdkError),
    #[error("{0}")]
    Stats(String),
}

/// The statistics side of a run.
pub struct Observer {
    exporter: Exporter,
}

impl Observer {
    /// Start exporting what `counters` and `histos` (one per packet lcore)
    /// publish, naming classes as `router` has them; helper threads avoid
    /// `packet_cpus` when they can.
    pub fn start(
        p: &Pipeline,
        opts: &StatsOptions,
        counters: Vec<Arc<SharedCounters>>,
        histos: Vec<Arc<HistoMailbox>>,
        packet_cpus: &[usize],
        router: &Arc<newipd_core::path::Router>,
    ) -> Result<Observer, ObserveError> {
        let latest = Arc::new(Latest::default());
        let eal_cpus: Vec<usize> = LcoreId::workers().into_iter().chain([LcoreId::main()]).map(|l| l.0 as usize).collect();
        let cpu = spare_core(packet_cpus, &eal_cpus);
        let source = Arc::clone(&latest);
        telemetry::register(
            &crate::ops::telemetry::COMMANDS,
            Box::new(move |cmd| crate::ops::telemetry::answer(cmd, &source.get().unwrap_or_default())),
        )?;
        let json = match &opts.json {
            Some(path) => Some(std::fs::File::create(path).map_err(|e| ObserveError::Stats(format!("--stats-json {}: {e}", path.display())))?),
            None => None,
        };
        let names = Names { ports: p.ports.iter().map(|q| q.name.clone()).collect(), classes: p.classes.names() };
        // Class names as the router has them now: a SIGHUP may change the classes.
        let col = Collector::new(Sources { counters, histos, names, classes: Some(Arc::clone(router)) });
        let shared = Arc::clone(&latest);
        let out = Outputs { interval: opts.interval, live: opts.live, json, latest };
        let listener = match opts.metrics {
            Some(addr) => Some(std::net::TcpListener::bind(addr).map_err(|e| ObserveError::Stats(format!("--metrics {addr}: {e}")))?),
            None => None,
        };
        let exporter = Exporter::spawn(col, out, cpu).map_err(|e| ObserveError::Stats(format!("stats thread: {e}")))?;
        if let (Some(l), Some(addr)) = (listener, opts.metrics) {
            let bound = l.local_addr().map_err(|e| ObserveError::Stats(format!("--metrics {addr}: {e}")))?;
            println!("newipd: metrics on http://{bound}/metrics");
            let _ = std::io::stdout().flush();
            let src = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("newipd-metrics".into())
                .spawn(move || {
                    crate::ops::exporter::pin(cpu);
                    crate::ops::prometheus::serve(l, src)
                })
                .map_err(|e| ObserveError::Stats(format!("metrics thread: {e}")))?;
        }
        Ok(Observer { exporter })
    }

    /// After the packet lcores returned: the final snapshot, whose class
    /// latencies go into the report.
    pub fn finish(self, report: &mut Report) {
        let last = self.exporter.finish();
        report.classes = last.classes;
    }
}
