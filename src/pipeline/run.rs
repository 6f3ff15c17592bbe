//! Running a pipeline: EAL arguments from the pipeline's devices, the mbuf
//! pool, port bring-up, the worker on an EAL lcore, stop, and the report.

use super::router::Router;
use super::worker::{Clock, Limits, Worker, WorkerPort};
use crate::classify::{NextHop, Prefix};
use crate::config::{DeviceKind, Pipeline};
use crate::dpdk::eal::Eal;
use crate::dpdk::lcore::LcoreId;
use crate::dpdk::mempool::Mempool;
use crate::dpdk::port::{PortId, PortSetup};
use crate::dpdk::DpdkError;
use crate::packet::ether::mac_to_string;
use crate::stats::report::Report;
use crate::stats::SharedCounters;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Buffer size of every mbuf: 2 KiB of data plus DPDK's default headroom.
const MBUF_DATA_ROOM: u16 = 2048 + 128;

/// How a run ends and what it prints.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub duration: Option<Duration>,
    pub packets: Option<u64>,
    pub until_idle: Option<Duration>,
    /// EAL arguments (after `--`).
    pub eal_args: Vec<String>,
    /// Read the drivers' hardware counters into the report.
    pub hw_stats: bool,
    /// [stats] Live view, `--stats-json`, `--metrics`.
    pub stats: crate::stats::exporter::StatsOptions,
}

/// The EAL argument list for a pipeline: program name, the user's arguments,
/// then `--vdev` for each vdev port and `-a` for PCI ports (unless the user
/// chose devices with -a/-b/--no-pci already).
pub fn eal_args(p: &Pipeline, user: &[String]) -> Vec<String> {
    let mut v = vec!["newipd".to_string()];
    v.extend(user.iter().cloned());
    let user_picks_pci = user.iter().any(|a| {
        a == "-a" || a == "-b" || a.starts_with("--allow") || a.starts_with("--block") || a == "--no-pci" || a.starts_with("-a") || a.starts_with("-b")
    });
    for port in &p.ports {
        match port.kind {
            DeviceKind::Vdev => {
                v.push("--vdev".into());
                v.push(port.device.clone());
            }
            DeviceKind::Pci if !user_picks_pci => {
                v.push("-a".into());
                v.push(port.device.clone());
            }
            DeviceKind::Pci => {}
        }
    }
    v
}

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Dpdk(#[from] DpdkError),
    #[error("port '{name}': {msg}")]
    Port { name: String, msg: String },
    #[error("the packet lcore returned {0}")]
    Worker(i32),
    #[error("{0}")]
    Stats(String),
}

/// Run `p` until a limit or SIGINT/SIGTERM; returns the final report.
pub fn run(p: &Pipeline, opts: &RunOptions) -> Result<Report, RunError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while draining is harmless: the flag is already set.
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    let eal = Eal::init(&eal_args(p, &opts.eal_args))?;
    let hz = eal.tsc_hz();

    let mut ids = Vec::new();
    for spec in &p.ports {
        let id = PortId::by_name(&spec.dev_name).map_err(|e| RunError::Port { name: spec.name.clone(), msg: e.to_string() })?;
        ids.push(id);
    }
    let s = &p.settings;
    let workers = LcoreId::workers();
    let lcore = match p.lcores.worker {
        Some(l) => LcoreId(l),
        None => workers.first().copied().unwrap_or_else(LcoreId::main),
    };
    let mbufs = if s.mbufs != 0 {
        s.mbufs
    } else {
        let rings: u32 = p.ports.iter().map(|q| q.rx_desc as u32 + q.tx_desc as u32).sum();
        let bursts = (crate::MAX_BURST as u32) * (p.ports.len() as u32 + 2);
        let need = rings + bursts + 2 * s.mbuf_cache + 1024;
        need.next_power_of_two().max(8192) - 1
    };
    let pool = Mempool::new("newipd_pool", mbufs, s.mbuf_cache, MBUF_DATA_ROOM, -1)?;
    let mut macs = Vec::new();
    for (spec, id) in p.ports.iter().zip(&ids) {
        let setup = PortSetup { rx_queues: 1, tx_queues: 1, rx_desc: spec.rx_desc, tx_desc: spec.tx_desc, promiscuous: spec.promiscuous };
        id.configure_and_start(&setup, &pool).map_err(|e| RunError::Port { name: spec.name.clone(), msg: e.to_string() })?;
        let mac = id.mac()?;
        let (driver, _, _) = id.driver_info()?;
        let link = id.link();
        eprintln!(
            "newipd: port {} ({}, driver {}) mac {} link {}{}",
            spec.name,
            spec.dev_name,
            driver,
            mac_to_string(&mac),
            if link.up { "up" } else { "down" },
            if link.up && link.speed_mbps > 0 { format!(" {} Mb/s", link.speed_mbps) } else { String::new() }
        );
        macs.push(mac);
    }
    let router = Arc::new(build_router(p, &macs));
    let in_use_start = pool.in_use();

    let stats = Arc::new(SharedCounters::default());
    // [stats] histogram mailbox of the packet lcore; the stats thread and exporters
    let (mailbox, latency) = crate::stats::histo::HistoMailbox::new();
    let observer = super::observe::Observer::start(p, &opts.stats, vec![Arc::clone(&stats)], vec![mailbox], &[lcore.0 as usize])?;
    let worker = Worker {
        ports: ids
            .iter()
            .enumerate()
            .map(|(index, id)| WorkerPort {
                index,
                id: *id,
                rxq: 0,
                txq: 0,
                link_delay_ns: p.ports[index].link_delay_ns,
                sched: p.ports[index].sched,
            })
            .collect(),
        router,
        pool,
        clock: Clock::new(hz),
        stats: Arc::clone(&stats),
        stop: Arc::clone(&stop),
        burst: s.burst,
        tx_drain_tsc: hz * s.drain_us / 1_000_000,
        drain_tsc: hz / 1000 * s.shutdown_drain_ms,
        publish_tsc: hz / 1000,
        idle_sleep_us: s.idle_sleep_us,
        latency: Some(latency),
        histo_tsc: hz / 10,
        limits: Limits {
            duration_tsc: opts.duration.map(|d| (d.as_secs_f64() * hz as f64) as u64),
            packets: opts.packets,
            idle_tsc: opts.until_idle.map(|d| (d.as_secs_f64() * hz as f64) as u64),
        },
    };
    println!("newipd: ready: {} port(s), {} route(s), packet loop on lcore {}", p.ports.len(), p.routes.len(), lcore.0);
    let _ = std::io::stdout().flush();

    let outcome = if lcore == LcoreId::current() {
        worker.run()
    } else {
        let slot = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        lcore.launch(move || {
            let o = worker.run();
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(o);
            0
        })?;
        let rc = lcore.wait();
        if rc != 0 {
            return Err(RunError::Worker(rc));
        }
        let o = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        o.ok_or(RunError::Worker(-1))?
    };
    // Rates count the time packets were flowing: a run that ends on idleness
    // stops the clock at the last packet.
    let active_end = if opts.until_idle.is_some() { outcome.last_rx_tsc } else { outcome.end_tsc };
    let elapsed = (active_end.wrapping_sub(outcome.start_tsc)) as f64 / hz as f64;

    let mut hw = Vec::new();
    for id in &ids {
        hw.push(if opts.hw_stats { Some(id.hw_stats()) } else { None });
        id.stop();
    }
    let in_use_end = pool.in_use();
    for id in &ids {
        id.close();
    }
    let names: Vec<(String, String)> = p.ports.iter().map(|q| (q.name.clone(), q.device.clone())).collect();
    let mut report = Report::new(&names, &stats.snapshot(), outcome.queued, elapsed);
    observer.finish(&mut report); // [stats]
    report.packet_lcore_cpu_s = (outcome.cpu_ns > 0).then(|| outcome.cpu_ns as f64 / 1e9);
    report.mbufs_in_use_start = in_use_start as u64;
    report.mbufs_in_use_end = in_use_end as u64;
    report.lcores = vec![lcore.0];
    report.packet_loop_heap_allocations = outcome.loop_allocations;
    for (r, mac) in report.ports.iter_mut().zip(&macs) {
        r.mac = mac_to_string(mac);
    }
    for (r, h) in report.ports.iter_mut().zip(hw) {
        r.hw = h.map(|h| {
            BTreeMap::from([
                ("ipackets".to_string(), h.ipackets),
                ("opackets".to_string(), h.opackets),
                ("imissed".to_string(), h.imissed),
                ("ierrors".to_string(), h.ierrors),
                ("oerrors".to_string(), h.oerrors),
                ("rx_nombuf".to_string(), h.rx_nombuf),
            ])
        });
    }
    drop(eal);
    Ok(report)
}

/// Route tables with next hops that carry the egress port's MAC and the
/// route's path figures, plus newipd's own addresses.
pub fn build_router(p: &Pipeline, port_macs: &[[u8; 6]]) -> Router {
    let mut next_hops: Vec<NextHop> = Vec::new();
    let mut routes = Vec::new();
    for r in &p.routes {
        let nh = NextHop::new(r.port as u16, r.next_hop_mac, port_macs[r.port]).with_path(r.to_hops, r.to_delay_ns);
        let idx = match next_hops.iter().position(|x| *x == nh) {
            Some(i) => i,
            None => {
                next_hops.push(nh);
                next_hops.len() - 1
            }
        } as u32;
        routes.push((r.prefix, idx));
    }
    let locals: Vec<Prefix> = p.ports.iter().flat_map(|q| q.addresses.iter().copied()).collect();
    Router::build(&routes, next_hops, port_macs.to_vec(), &locals, p.settings.verify_ipv4_checksum)
}
