//! Running a pipeline: EAL arguments from the pipeline's devices, the mbuf
//! pool, port bring-up, the packet lcores (run to completion, or RX and TX
//! lcores joined by rings), link watching from the main thread, stop, and
//! the report.

use newipd_dpdk::time::Clock;
use crate::datapath::egress::{Egress, Latency};
use crate::datapath::handoff::{Handoff, RingSink, RingSource};
use crate::datapath::privmeta::META_PRIV_SIZE;
use newipd_core::path::icmp;
use newipd_core::path::ingress::IcmpConfig;
use newipd_core::path::Router;
use crate::datapath::ingress::Ingress;
use crate::datapath::rtc::Worker;
use crate::datapath::rx::RxWorker;
use crate::datapath::tx::TxWorker;
use crate::datapath::worker::{Limits, LoopConf, Outcome, Quota, WorkerPort};
use newipd_core::fib::{NextHop, Prefix};
use newipd_core::rcu::{Qsbr, Ticket};
use crate::control::config::{DeviceKind, Pipeline, PortSpec};
use newipd_dpdk::eal::Eal;
use newipd_dpdk::lcore::LcoreId;
use newipd_dpdk::mempool::Mempool;
use newipd_dpdk::port::{Link, PortId, PortSetup};
use newipd_dpdk::spsc;
use newipd_dpdk::DpdkError;
use newipd_core::wire::ether::mac_to_string;
use newipd_core::stats::histo::HistoMailbox;
use crate::control::hostif::{self, HostPlan, HostThread};
use crate::control::netlink::{Filter, Mirror, MirrorEvent, MirrorOptions};
use crate::control::reload::Reloader;
use crate::datapath::punt::Punt;
use crate::control::rib::Rib;
use crate::ops::observe::ObserveError;
use crate::ops::report::Report;
use newipd_core::stats::{Counters, SharedCounters};
use signal_hook::consts::{SIGHUP, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};


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
    /// Before the packet loop starts, wait at most this long for every
    /// port's link to be up (memif peers connected); an error names the
    /// ports still down.
    pub wait_links: Option<Duration>,
    /// Live view, `--stats-json`, `--metrics`.
    pub stats: crate::ops::exporter::StatsOptions,
    /// The file (and `--port` overrides) SIGHUP reloads; None: SIGHUP says
    /// there is nothing to reload.
    pub reload_from: Option<crate::control::reload::Source>,
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
    Plan(String),
    #[error("{0}")]
    Stats(String),
}

/// The statistics side's errors are the run's, variant for variant.
impl From<ObserveError> for RunError {
    fn from(e: ObserveError) -> RunError {
        match e {
            ObserveError::Dpdk(e) => RunError::Dpdk(e),
            ObserveError::Stats(msg) => RunError::Stats(msg),
        }
    }
}

/// Run `p` until a limit or SIGINT/SIGTERM; returns the final report.
pub fn run(p: &Pipeline, opts: &RunOptions) -> Result<Report, RunError> {
    let stop = Arc::new(AtomicBool::new(false));
    // SIGINT, SIGTERM and every other signal that would end newipd without
    // its report stop it gracefully (a second one while draining is
    // harmless: the flag is already set).
    newipd_dpdk::signals::stop_on(&stop, &[]).map_err(|e| RunError::Stats(format!("signal handlers: {e}")))?;
    // Registered now so none kills newipd while it starts; answered once it runs.
    let signals = Signals::new([SIGUSR1, SIGUSR2, SIGHUP]).map_err(|e| RunError::Stats(format!("SIGUSR1/SIGUSR2/SIGHUP handlers: {e}")))?;
    let eal = Eal::init(&eal_args(p, &opts.eal_args))?;
    let hz = eal.tsc_hz();

    let mut ids = Vec::new();
    for spec in &p.ports {
        let id = PortId::by_name(&spec.dev_name).map_err(|e| RunError::Port { name: spec.name.clone(), msg: e.to_string() })?;
        ids.push(id);
    }
    let s = &p.settings;
    let roles = Roles::pick(p)?;
    // Jumbo ports: mbufs large enough for their frames, one segment each.
    let data_room = newipd_dpdk::mempool::data_room_for(p.ports.iter().map(|q| q.mtu).max().unwrap_or(1500));
    let pool = Mempool::with_priv("newipd_pool", pool_size(p, &roles), s.mbuf_cache, META_PRIV_SIZE, data_room, -1)?;
    let mut macs = Vec::new();
    let mut queues = Vec::new();
    let mut memif = false;
    for (spec, id) in p.ports.iter().zip(&ids) {
        let (driver, max_rx, _) = id.driver_info()?;
        let rxq = spec.rx_queues.min(max_rx.max(1));
        if rxq < spec.rx_queues {
            eprintln!("newipd: port {}: driver {driver} offers {max_rx} RX queue(s); using {rxq} of the {} asked", spec.name, spec.rx_queues);
        }
        let setup = PortSetup { rx_queues: rxq, tx_queues: 1, rx_desc: spec.rx_desc, tx_desc: spec.tx_desc, promiscuous: spec.promiscuous, mtu: spec.mtu };
        let started = id.configure_and_start(&setup, &pool).map_err(|e| RunError::Port { name: spec.name.clone(), msg: e.to_string() })?;
        if rxq > 1 && !started.rss {
            eprintln!("newipd: port {}: driver {driver} has no RSS; its {rxq} RX queues are filled the driver's own way", spec.name);
        }
        let mac = id.mac()?;
        memif |= driver == "net_memif";
        let link = id.link();
        eprintln!("newipd: port {} ({}, driver {}) mac {} {}{}", spec.name, spec.dev_name, driver, mac_to_string(&mac), describe(&link), if started.rss { ", RSS" } else { "" });
        macs.push(mac);
        queues.push(rxq);
    }
    // The route tables before the wait for links: building them is the
    // slowest step of start-up, and a peer that is up sends at once.
    let router = Arc::new(build_router(p, &macs));
    let rib = Arc::new(Mutex::new(Rib::new(
        Arc::clone(&router),
        p.ports.iter().map(|q| q.host_interface.clone()).collect(),
        &p.routes,
        &p.ports.iter().map(|q| q.addresses.clone()).collect::<Vec<_>>(),
        p.policies.clone(),
        p.settings.metric_is_delay_us,
    )));
    if let Some(t) = opts.wait_links {
        let end = std::time::Instant::now() + t;
        for (spec, id) in p.ports.iter().zip(&ids) {
            // In slices, so SIGINT/SIGTERM end the wait (the run then stops at once, with its report).
            while !stop.load(Ordering::Relaxed) && !id.wait_up(end.saturating_duration_since(Instant::now()).min(Duration::from_millis(100))) {
                if Instant::now() >= end {
                    return Err(RunError::Port { name: spec.name.clone(), msg: format!("link still down after {t:?} (--wait-links)") });
                }
            }
        }
        if !stop.load(Ordering::Relaxed) {
            eprintln!("newipd: every link is up");
        }
    }
    // Host interfaces: the TAPs, the rings to and from the host thread,
    // and the netlink mirror that drives the RIB.
    let host_names: Vec<Option<String>> = p.ports.iter().map(|q| q.host_interface.clone()).collect();
    let has_hosts = host_names.iter().any(Option::is_some);
    let mtus: Vec<u32> = p.ports.iter().map(|q| q.mtu as u32).collect();
    let taps = hostif::create_taps(&host_names, &macs, &mtus).map_err(RunError::Plan)?;
    let ingress_lcores = match &roles {
        Roles::Rtc(_) => 1,
        Roles::Pipelined { rx, .. } => rx.len(),
    };
    let mut punt_rings = Vec::new();
    let mut punt_consumers = Vec::new();
    let mut inject_producers: Vec<Option<spsc::Producer<newipd_dpdk::mbuf::Mbuf>>> = Vec::new();
    let mut inject_consumers: Vec<Option<spsc::Consumer<newipd_dpdk::mbuf::Mbuf>>> = Vec::new();
    if has_hosts {
        for _ in 0..ingress_lcores {
            let (a, b) = spsc::channel(HOST_RING);
            punt_rings.push(Some(a));
            punt_consumers.push(b);
        }
        for h in &host_names {
            let (a, b) = match h {
                Some(_) => {
                    let (a, b) = spsc::channel(HOST_RING);
                    (Some(a), Some(b))
                }
                None => (None, None),
            };
            inject_producers.push(a);
            inject_consumers.push(b);
        }
    }
    let punt_rates: Vec<Option<(u64, u64)>> =
        p.ports.iter().map(|q| q.host_interface.as_ref().map(|_| (q.punt_rate_pps, q.punt_burst))).collect();
    let mut mirror = None;
    if has_hosts {
        let names: Vec<String> = host_names.iter().flatten().cloned().collect();
        let t = Instant::now();
        let mut m = Mirror::open(MirrorOptions { filter: Filter::interfaces(names.clone()), ..Default::default() })
            .map_err(|e| RunError::Plan(format!("netlink (following the kernel's tables for {}): {e}", names.join(", "))))?;
        {
            let mut rib = rib.lock().unwrap_or_else(|e| e.into_inner());
            m.sync(&mut |ev| rib.apply(&ev)).map_err(|e| RunError::Plan(format!("netlink dump: {e}")))?;
            let (l, st, k, n) = rib.counts();
            eprintln!(
                "newipd: host interfaces {}: following the kernel (first dump {:.1} ms): {l} own address(es), {st} pipeline route(s), {k} kernel route(s), {n} neighbour(s) in the FIB",
                names.join(", "),
                t.elapsed().as_secs_f64() * 1e3
            );
        }
        let r = Arc::clone(&rib);
        mirror = Some(
            m.spawn(move |ev| {
                let mut rib = r.lock().unwrap_or_else(|e| e.into_inner());
                rib.apply(&ev);
                match &ev {
                    MirrorEvent::Overrun { total } => eprintln!("newipd: netlink overrun ({total} so far): resyncing with the kernel"),
                    MirrorEvent::Synced { resync: true, reason, changes, .. } => {
                        let (l, st, k, n) = rib.counts();
                        eprintln!("newipd: resynced with the kernel ({reason}, {changes} change(s)): {l} own address(es), {st} pipeline route(s), {k} kernel route(s), {n} neighbour(s) in the FIB");
                    }
                    _ => {}
                }
            })
            .map_err(|e| RunError::Plan(format!("netlink thread: {e}")))?,
        );
    }
    let in_use_start = pool.in_use();

    let ports: Vec<WorkerPort> = ids
        .iter()
        .enumerate()
        .map(|(index, id)| WorkerPort { index, id: *id, rxq: 0, txq: 0, link_delay_ns: p.ports[index].link_delay_ns, sched: p.ports[index].sched })
        .collect();
    let limits = Limits {
        duration_tsc: opts.duration.map(|d| (d.as_secs_f64() * hz as f64) as u64),
        packets: opts.packets.map(|n| Arc::new(Quota::new(n))),
        idle_tsc: opts.until_idle.map(|d| (d.as_secs_f64() * hz as f64) as u64),
    };
    let conf = |stats: &Arc<SharedCounters>| LoopConf {
        stats: Arc::clone(stats),
        stop: Arc::clone(&stop),
        clock: Clock::new(hz),
        burst: s.burst,
        publish_tsc: hz / 1000,
        idle_sleep_us: s.idle_sleep_us,
        drain_tsc: hz / 1000 * s.shutdown_drain_ms,
        histo_tsc: hz / 10,
    };
    // One histogram mailbox per lcore with egress ports; the stats thread reads them.
    let mut histos = Vec::new();
    let mut latency = || {
        let (mb, hist) = HistoMailbox::new();
        histos.push(mb);
        Latency { hist, clock: Clock::new(hz) }
    };
    let rx_queues = |pairs: &[(usize, u16)]| -> Vec<WorkerPort> { pairs.iter().map(|&(i, q)| WorkerPort { rxq: q, ..ports[i] }).collect() };
    let t0 = Clock::new(hz).ns(newipd_dpdk::time::tsc());

    let mut stats = Vec::new();
    let mut jobs: Vec<(LcoreId, Job)> = Vec::new();
    let ready;
    match &roles {
        Roles::Rtc(lcore) => {
            let st = Arc::new(SharedCounters::for_ports(ports.len()));
            let all: Vec<(usize, u16)> = queues.iter().enumerate().flat_map(|(i, &n)| (0..n).map(move |q| (i, q))).collect();
            let punt = punt_rings.first_mut().and_then(Option::take).map(|r| Punt::new(r, &punt_rates, &vec![1; ports.len()]));
            let inject: Vec<_> = inject_consumers.iter_mut().enumerate().filter_map(|(i, c)| c.take().map(|c| (i, c))).collect();
            let w = Worker {
                ingress: Ingress::new(rx_queues(&all), Arc::clone(&router), pool, ports.len(), s.burst).with_punt(punt),
                egress: Egress::new(&ports, s.burst, t0, latency()).with_inject(inject),
                conf: conf(&st),
                limits: limits.clone(),
            };
            stats.push(st);
            ready = format!("newipd: ready: {} port(s), {} route(s), packet loop on lcore {}", p.ports.len(), p.routes.len(), lcore.0);
            jobs.push((*lcore, Box::new(move || w.run())));
        }
        Roles::Pipelined { rx, tx } => {
            let plan = crate::datapath::plan::plan(&queues, rx.len(), tx.len()).map_err(RunError::Plan)?;
            // rings[r][t]: RX lcore r to TX lcore t.
            let mut producers: Vec<Vec<_>> = (0..rx.len()).map(|_| Vec::new()).collect();
            let mut consumers: Vec<Vec<_>> = (0..tx.len()).map(|_| Vec::new()).collect();
            for prod in producers.iter_mut() {
                for cons in consumers.iter_mut() {
                    let (a, b) = spsc::channel::<Handoff>(s.ring_size);
                    prod.push(a);
                    cons.push(b);
                }
            }
            for (t, (lcore, rings)) in tx.iter().zip(consumers).enumerate() {
                let owned: Vec<WorkerPort> = ports.iter().filter(|q| plan.owner[q.index] == t).copied().collect();
                let st = Arc::new(SharedCounters::for_ports(ports.len()));
                let inject: Vec<_> =
                    inject_consumers.iter_mut().enumerate().filter(|(i, _)| plan.owner[*i] == t).filter_map(|(i, c)| c.take().map(|c| (i, c))).collect();
                let w = TxWorker { rings: RingSource { rings }, egress: Egress::new(&owned, s.burst, t0, latency()).with_inject(inject), conf: conf(&st), reader: TxWorker::reader(router.fib().qsbr()) };
                stats.push(st);
                jobs.push((*lcore, Box::new(move || w.run())));
            }
            let share: Vec<u64> = (0..ports.len()).map(|i| plan.rx.iter().filter(|qs| qs.iter().any(|&(p, _)| p == i)).count() as u64).collect();
            for (r, (lcore, rings)) in rx.iter().zip(producers).enumerate() {
                let st = Arc::new(SharedCounters::for_ports(ports.len()));
                let punt = punt_rings.get_mut(r).and_then(Option::take).map(|ring| Punt::new(ring, &punt_rates, &share));
                let w = RxWorker {
                    ingress: Ingress::new(rx_queues(&plan.rx[r]), Arc::clone(&router), pool, ports.len(), s.burst).with_punt(punt),
                    rings: RingSink::new(rings, &plan.owner),
                    conf: conf(&st),
                    limits: limits.clone(),
                };
                stats.push(st);
                jobs.push((*lcore, Box::new(move || w.run())));
            }
            let name = |i: usize| p.ports[i].name.as_str();
            let rx_desc: Vec<String> =
                rx.iter().zip(&plan.rx).map(|(l, qs)| format!("{}:{}", l.0, qs.iter().map(|&(i, q)| format!("{}/{q}", name(i))).collect::<Vec<_>>().join(","))).collect();
            let tx_desc: Vec<String> = tx
                .iter()
                .enumerate()
                .map(|(t, l)| format!("{}:{}", l.0, (0..ports.len()).filter(|&i| plan.owner[i] == t).map(name).collect::<Vec<_>>().join(",")))
                .collect();
            ready = format!(
                "newipd: ready: {} port(s), {} route(s), pipelined: rx lcores {} -> rings of {} -> tx lcores {}",
                p.ports.len(),
                p.routes.len(),
                rx_desc.join(" "),
                s.ring_size,
                tx_desc.join(" ")
            );
        }
    }
    let mut lcores: Vec<u32> = jobs.iter().map(|(l, _)| l.0).collect();
    lcores.sort_unstable();
    let packet_cpus: Vec<usize> = lcores.iter().map(|&l| l as usize).collect();
    let observer = crate::ops::observe::Observer::start(p, &opts.stats, stats.clone(), histos, &packet_cpus, &router)?;
    let names: Vec<(String, String)> = p.ports.iter().map(|q| (q.name.clone(), q.device.clone())).collect();
    let reloader = opts.reload_from.clone().map(|source| Reloader { source, running: p.clone(), rib: Arc::clone(&rib), router: Arc::clone(&router) });
    let watch = SignalWatch::start(signals, stats.clone(), names.clone(), lcores.clone(), reloader, Arc::clone(&rib))?;
    let links = LinkWatch::start(&p.ports, &ids, Arc::clone(router.fib().qsbr()))?;
    let host = if has_hosts {
        let plan = HostPlan {
            taps,
            punt: punt_consumers,
            inject: inject_producers,
            index_of_port_id: ids.iter().enumerate().map(|(i, id)| (id.0, i)).collect(),
            pool,
            frame_room: data_room - 128,
        };
        Some(HostThread::start(plan).map_err(|e| RunError::Plan(format!("host interface thread: {e}")))?)
    } else {
        None
    };
    let outcome = run_jobs(jobs, &stop, &ready);
    links.stop();
    watch.stop();
    // The mirror first: closing the TAPs makes the kernel drop their routes,
    // which the report should not show as newipd's last state.
    if let Some(m) = mirror {
        m.stop();
        let _ = m.join();
    }
    let host_stats = host.map(HostThread::stop);
    let outcome = outcome?;

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
    // memif ports are left to the process exit (see Eal::leave).
    for id in ids.iter().filter(|_| !memif) {
        id.close();
    }
    let mut total = Counters::default();
    for st in &stats {
        total.add(&st.snapshot());
    }
    let mut report = Report::new(&names, &total, outcome.queued, elapsed);
    observer.finish(&mut report);
    report.packet_lcore_cpu_s = (outcome.cpu_ns > 0).then(|| outcome.cpu_ns as f64 / 1e9);
    report.mbufs_in_use_start = in_use_start as u64;
    report.mbufs_in_use_end = in_use_end as u64;
    report.lcores = lcores;
    report.packet_loop_heap_allocations = outcome.loop_allocations;
    if let Some(h) = host_stats {
        report.host_interfaces = h.report(&p.ports.iter().map(|q| q.name.clone()).collect::<Vec<_>>());
    }
    report.rib = Some(rib.lock().unwrap_or_else(|e| e.into_inner()).stats());
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
    if memif {
        eal.leave();
    } else {
        drop(eal);
    }
    Ok(report)
}

/// Slots of each ring between the lcores and the host thread.
const HOST_RING: usize = 1024;

/// A packet loop to run on one lcore.
type Job = Box<dyn FnOnce() -> Outcome + Send + 'static>;

/// Which lcores do what.
enum Roles {
    /// One lcore runs everything.
    Rtc(LcoreId),
    /// RX lcores hand over to TX lcores.
    Pipelined { rx: Vec<LcoreId>, tx: Vec<LcoreId> },
}

impl Roles {
    fn pick(p: &Pipeline) -> Result<Roles, RunError> {
        let workers = LcoreId::workers();
        if !p.lcores.pipelined() {
            let lcore = match p.lcores.worker {
                Some(l) => LcoreId(l),
                None => workers.first().copied().unwrap_or_else(LcoreId::main),
            };
            // Checked here, before any port starts or `ready` is said.
            if lcore != LcoreId::main() && !workers.contains(&lcore) {
                return Err(DpdkError::BadLcore(lcore.0).into());
            }
            return Ok(Roles::Rtc(lcore));
        }
        let ids = |v: &[u32]| -> Result<Vec<LcoreId>, RunError> {
            v.iter().map(|&l| if workers.contains(&LcoreId(l)) { Ok(LcoreId(l)) } else { Err(DpdkError::BadLcore(l).into()) }).collect()
        };
        Ok(Roles::Pipelined { rx: ids(&p.lcores.rx)?, tx: ids(&p.lcores.tx)? })
    }

    fn rings(&self) -> u32 {
        match self {
            Roles::Rtc(_) => 0,
            Roles::Pipelined { rx, tx } => (rx.len() * tx.len()) as u32,
        }
    }
}

/// `settings.mbufs`, or enough for every descriptor, ring, burst and cache.
fn pool_size(p: &Pipeline, roles: &Roles) -> u32 {
    let s = &p.settings;
    if s.mbufs != 0 {
        return s.mbufs;
    }
    let descs: u32 = p.ports.iter().map(|q| q.rx_desc as u32 * q.rx_queues as u32 + q.tx_desc as u32).sum();
    let rings = roles.rings() * s.ring_size as u32;
    let bursts = (newipd_core::kinds::MAX_BURST as u32) * (p.ports.len() as u32 + 2) * (roles.rings() + 1);
    let need = descs + rings + bursts + 2 * s.mbuf_cache + 1024;
    need.next_power_of_two().max(8192) - 1
}

fn describe(l: &Link) -> String {
    match (l.up, l.speed_mbps) {
        (true, 0) => "link up".into(),
        (true, mbps) => format!("link up {mbps} Mb/s"),
        (false, _) => "link down".into(),
    }
}

/// Launch every job on its lcore (a job for the main lcore runs here), say
/// `ready` once all are running, then watch the ports' links from this
/// thread until every job is done.
fn run_jobs(jobs: Vec<(LcoreId, Job)>, stop: &Arc<AtomicBool>, ready: &str) -> Result<Outcome, RunError> {
    let say_ready = || {
        println!("{ready}");
        let _ = std::io::stdout().flush();
    };
    if let [(lcore, _)] = jobs.as_slice() {
        if *lcore == LcoreId::current() {
            let (_, job) = jobs.into_iter().next().expect("one job");
            say_ready();
            return Ok(job());
        }
    }
    let done = Arc::new(AtomicUsize::new(0));
    let mut launched = Vec::new();
    let mut failed = None;
    for (lcore, job) in jobs {
        if failed.is_some() {
            // Dropping the job closes its rings; the others see them finished.
            continue;
        }
        let slot = Arc::new(Mutex::new(None));
        let (out, fin) = (Arc::clone(&slot), Arc::clone(&done));
        match lcore.launch(move || {
            let o = job();
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(o);
            fin.fetch_add(1, Ordering::Release);
            0
        }) {
            Ok(()) => launched.push((lcore, slot)),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                failed = Some(e);
            }
        }
    }
    if failed.is_none() {
        say_ready();
    }
    while done.load(Ordering::Acquire) < launched.len() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut outcomes = Vec::new();
    for (lcore, slot) in launched {
        let rc = lcore.wait();
        if rc != 0 {
            return Err(RunError::Worker(rc));
        }
        outcomes.push(slot.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or(RunError::Worker(-1))?);
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(Outcome::merge(&outcomes))
}

/// How often the link watcher looks at the ports' link state.
const LINK_POLL: Duration = Duration::from_millis(500);

/// How often it looks while a memif client is reconnecting (traffic
/// resumes within about this long of its server's return).
const RECONNECT_POLL: Duration = Duration::from_millis(100);

/// How long a memif client's first handshake (at start-up) may take
/// before a link still down counts as the server gone.
const FIRST_HANDSHAKE: Duration = Duration::from_secs(2);

/// After a reconnect, how long the handshake may take before the client
/// tries again: doubling from the first to the last value while the
/// server keeps refusing (a server whose socket listens before its port
/// has started answers "ID not found"). Local handshakes take milliseconds.
const HANDSHAKE_FIRST: Duration = Duration::from_millis(250);
const HANDSHAKE_MAX: Duration = Duration::from_secs(1);

/// How long the watcher waits for the packet lcores to pass a quiescent
/// point after pausing a port (a round takes microseconds; an lcore
/// draining at shutdown reports none, and the port is then left paused
/// and untouched until the next look).
const GRACE_LIMIT: Duration = Duration::from_millis(200);

/// Where a memif client port stands.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Link up.
    Up,
    /// Started (at start-up or by a reconnect), resumed, waiting for the
    /// server's handshake for at most `wait`.
    Handshake { since: Instant, wait: Duration },
    /// Paused; stopped and started at each look until the connect succeeds.
    Retrying,
}

/// A memif client port and its reconnection.
struct Client {
    /// The server's socket.
    socket: String,
    phase: Phase,
    /// The server went away and the link has not been up since (the
    /// "reconnecting" line was logged, the "reconnected" one is owed).
    away: bool,
    /// While retrying: the grace period taken at the pause, until the
    /// lcores have all passed a quiescent point since (then `None`: none is
    /// inside the port's rx/tx burst, none calls them until it is resumed).
    grace: Option<Ticket>,
    /// The handshake time the next reconnect allows.
    next_wait: Duration,
}

/// The link watcher: a control thread (whatever lcores run the packet
/// loops, the main one included) that reads every port's link state twice
/// a second, logs each change (`newipd: port NAME link down`) and publishes
/// it to the sending lcores ([`crate::datapath::link`]), which then count
/// what the driver refused as `link-down`.
///
/// It also reconnects memif clients (`net_memif...,role=client`): DPDK's
/// memif driver connects a client only when the port starts, so when the
/// server goes away (its process killed or restarted) the link stays down
/// for ever. The watcher then pauses the port (the lcores stop polling and
/// sending to it, counting what they would have sent `link-down`), waits
/// for a QSBR grace period so no lcore is inside the driver, and stops and
/// starts the port every 100 ms until the connect succeeds; then resumes
/// it. The link comes up once the server answers the handshake; a
/// handshake that does not complete in time (a server whose socket
/// listens before its port has started refuses it) starts another round.
struct LinkWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl LinkWatch {
    fn start(specs: &[PortSpec], ids: &[PortId], qsbr: Arc<Qsbr>) -> Result<LinkWatch, RunError> {
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let ids = ids.to_vec();
        let mut links: Vec<Link> = ids.iter().map(|id| id.link()).collect();
        for (i, l) in links.iter().enumerate() {
            crate::datapath::link::set_up(i, l.up);
        }
        let now = Instant::now();
        let mut clients: Vec<Option<Client>> = specs
            .iter()
            .zip(&links)
            .map(|(s, l)| {
                newipd_dpdk::host::memif_client_socket(&s.device).map(|socket| Client {
                    socket,
                    phase: if l.up { Phase::Up } else { Phase::Handshake { since: now, wait: FIRST_HANDSHAKE } },
                    away: false,
                    grace: None,
                    next_wait: HANDSHAKE_FIRST,
                })
            })
            .collect();
        for (i, s) in specs.iter().enumerate() {
            // memif keeps its link state in memory: a refused burst asks it.
            crate::datapath::link::set_ask_driver(i, s.device.starts_with("net_memif"));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let quit = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("newipd-links".into())
            .spawn(move || {
                let mut every = LINK_POLL;
                // Parked between looks (two wake-ups a second, ten while a
                // client reconnects); stop() unparks it.
                while !quit.load(Ordering::Relaxed) {
                    std::thread::park_timeout(every);
                    if quit.load(Ordering::Relaxed) {
                        break;
                    }
                    for (i, (id, was)) in ids.iter().zip(links.iter_mut()).enumerate() {
                        let now = id.link();
                        if now.up != was.up {
                            crate::datapath::link::set_up(i, now.up);
                            eprintln!("newipd: port {} {}", names[i], describe(&now));
                        }
                        *was = now;
                        if let Some(c) = clients[i].as_mut() {
                            reconnect(i, &names[i], *id, now.up, c, &qsbr);
                        }
                    }
                    every = if clients.iter().flatten().any(|c| !matches!(c.phase, Phase::Up)) { RECONNECT_POLL } else { LINK_POLL };
                }
            })
            .map_err(|e| RunError::Stats(format!("link watcher thread: {e}")))?;
        Ok(LinkWatch { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}

/// One look at memif client port `i` (`id`, link `up` now). A link that
/// goes down, or a handshake that does not complete in time, pauses the
/// port; while paused, once the lcores are clear of it, the port is
/// stopped and started (the connect) at each look until that succeeds,
/// then resumed to wait for the handshake. Logs when the server is seen
/// gone and when the link is up again, not each retry (the driver's own
/// error lines are kept quiet: see [`newipd_dpdk::log::quietly`]).
fn reconnect(i: usize, name: &str, id: PortId, up: bool, c: &mut Client, qsbr: &Qsbr) {
    use crate::datapath::link;
    match c.phase {
        Phase::Up if up => return,
        Phase::Handshake { .. } if up => {
            c.phase = Phase::Up;
            c.next_wait = HANDSHAKE_FIRST;
            if std::mem::take(&mut c.away) {
                eprintln!("newipd: port {name}: memif reconnected to {}", c.socket);
            }
            return;
        }
        Phase::Handshake { since, wait } if since.elapsed() < wait => return,
        Phase::Up | Phase::Handshake { .. } => {
            if !c.away {
                eprintln!("newipd: port {name}: memif server gone, reconnecting to {}", c.socket);
                c.away = true;
            }
            link::pause(i);
            // The ticket after the pause (see wait_for_lcores).
            c.grace = Some(qsbr.start());
            c.phase = Phase::Retrying;
        }
        Phase::Retrying => {}
    }
    if let Some(t) = c.grace {
        if !wait_for_lcores(qsbr, t) {
            return; // an lcore has not reported yet (asleep when idle, draining): look again next time
        }
        c.grace = None;
    }
    // Stopping a stopped port is harmless (a failed start leaves it stopped);
    // a started one must be stopped, or start does nothing.
    id.stop();
    if newipd_dpdk::log::quietly(|| id.start()).is_ok() {
        c.phase = Phase::Handshake { since: Instant::now(), wait: c.next_wait };
        c.next_wait = (c.next_wait * 2).min(HANDSHAKE_MAX);
        link::resume(i);
    }
}

/// Wait (at most [`GRACE_LIMIT`]) until every online packet lcore has
/// passed a quiescent point since ticket `t` was taken (right after
/// [`pause`](crate::datapath::link::pause)): then
/// none of them is inside the paused port's rx_burst or tx_burst, and none
/// calls them again until the port is resumed.
///
/// Why (the memory model): the pause is a `SeqCst` read-modify-write of the
/// mask, sequenced before the `AcqRel` increment of the QSBR token that
/// [`Qsbr::start`] makes. An lcore's quiescent point loads the token with
/// acquire; if it loaded that increment (or a later value: the ticket's
/// grace period counts only such points), it synchronises with it, so the
/// pause happens before everything the lcore does after the point, and its
/// mask loads there (one per poll round, one per TX burst, all after the
/// point) see the port paused. What the lcore did before the point (a
/// burst into the driver) is sequenced before its release store of its
/// counter, which the watcher reads with acquire before it stops the port.
/// An lcore coming online is covered by the SeqCst fences of
/// [`Qsbr::safe_ticket`] and `QsbrReader::online`.
fn wait_for_lcores(qsbr: &Qsbr, t: Ticket) -> bool {
    qsbr.wait_within(t, GRACE_LIMIT, Duration::from_micros(200))
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
    if p.settings.fib_memory_at_start {
        newipd_core::fib::lpm4::set_page_advice(|t| {
            newipd_dpdk::mem::advise_huge(t);
            newipd_dpdk::mem::populate(t);
        });
    } else {
        newipd_core::fib::lpm4::set_page_advice(|t| {
            newipd_dpdk::mem::advise_huge(t);
        });
    }
    let icmp = IcmpConfig {
        sources: icmp::Sources::new(&p.ports.iter().map(|q| q.addresses.clone()).collect::<Vec<_>>()),
        per_s: p.settings.icmp_errors_per_s,
        burst: p.settings.icmp_burst,
    };
    Router::build(&routes, next_hops, port_macs.to_vec(), &locals, p.settings.verify_ipv4_checksum)
        .with_mtus(&p.ports.iter().map(|q| q.mtu).collect::<Vec<_>>())
        .with_classes(p.classes.clone())
        .with_icmp(icmp)
}

/// SIGUSR1 prints the counters so far (the report of the run until now) and
/// the run goes on; SIGHUP reloads the pipeline file ([`Reloader`]) and the
/// run goes on. A thread of its own answers them: the
/// packet lcores only ever read the stop flag.
struct SignalWatch {
    handle: signal_hook::iterator::Handle,
    thread: std::thread::JoinHandle<()>,
}

impl SignalWatch {
    fn start(
        mut signals: Signals,
        stats: Vec<Arc<SharedCounters>>,
        names: Vec<(String, String)>,
        lcores: Vec<u32>,
        mut reloader: Option<Reloader>,
        rib: Arc<Mutex<Rib>>,
    ) -> Result<SignalWatch, RunError> {
        let handle = signals.handle();
        let since = Instant::now();
        let thread = std::thread::Builder::new()
            .name("newipd-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if sig == SIGUSR1 || sig == SIGUSR2 {
                        let mut total = Counters::default();
                        for st in &stats {
                            total.add(&st.snapshot());
                        }
                        let mut r = Report::new(&names, &total, total.total().queued, since.elapsed().as_secs_f64());
                        r.lcores = lcores.clone();
                        r.rib = Some(rib.lock().unwrap_or_else(|e| e.into_inner()).stats());
                        // Mbufs and allocations are counted at the end only.
                        let text: String = r.render().lines().filter(|l| !l.trim_start().starts_with("mbufs in use")).map(|l| format!("{l}\n")).collect();
                        let mut out = std::io::stdout().lock();
                        let name = if sig == SIGUSR1 { "SIGUSR1" } else { "SIGUSR2" };
                        let _ = write!(out, "newipd: {name}: the counters so far (the run goes on)\n{text}");
                        let _ = out.flush();
                    } else {
                        let lines = match reloader.as_mut() {
                            Some(r) => r.sighup(),
                            None => vec!["newipd: SIGHUP: this run has no pipeline file to reload".to_string()],
                        };
                        for l in lines {
                            eprintln!("{l}");
                        }
                    }
                }
            })
            .map_err(|e| RunError::Stats(format!("signal thread: {e}")))?;
        Ok(SignalWatch { handle, thread })
    }

    fn stop(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}
