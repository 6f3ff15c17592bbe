//! Host interfaces: for each port that names one, a TAP in newipd's network
//! namespace with the port's MAC and MTU, and the control thread that moves
//! frames between the TAPs and the lcores (the system calls live here, off
//! the forwarding lcores).
//!
//! ```text
//!  lcore ── punt ring (one per RX lcore) ──▶ host thread ── write ──▶ TAP ──▶ kernel
//!  lcore ◀── inject ring (one per port) ◀── host thread ◀── read ─── TAP ◀── kernel
//! ```
//!
//! The thread spins while frames move and sleeps in `poll(2)` on the TAPs
//! for at most [`IDLE_WAIT_MS`] when a round moved nothing, so an idle
//! router costs it about a thousand wake-ups a second and a punted frame
//! waits at most that long. It also keeps each TAP's carrier equal to its
//! port's link. Counters are aggregate per port ([`HostStats`]).

use crate::datapath::link;
use newipd_core::kinds::MAX_PORTS;
use newipd_dpdk::mbuf::Mbuf;
use newipd_dpdk::mempool::Mempool;
use newipd_dpdk::spsc::{Consumer, Producer};
use newipd_dpdk::tap::{wait_readable, Tap};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Longest sleep of an idle round.
pub const IDLE_WAIT_MS: i32 = 1;

/// Frames read from one TAP in a round before looking at the others.
const READ_BURST: usize = 64;

/// Punted frames taken from one punt ring in a round.
const WRITE_BURST: usize = 256;

/// Per host interface counters, written by the host thread only.
#[derive(Default)]
pub struct HostCounters {
    /// Punted frames the kernel took.
    pub to_kernel: AtomicU64,
    /// Punted frames the kernel refused (its queue full, the interface down).
    pub to_kernel_refused: AtomicU64,
    /// Frames the kernel sent, put on the inject ring.
    pub from_kernel: AtomicU64,
    /// Frames the kernel sent that were dropped here: inject ring full, no mbuf.
    pub from_kernel_dropped: AtomicU64,
}

/// Every host interface's counters.
pub struct HostStats {
    pub names: Vec<Option<String>>,
    pub ports: Vec<HostCounters>,
}

/// One host interface's counters, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HostReport {
    pub port: String,
    pub host_interface: String,
    pub to_kernel: u64,
    pub to_kernel_refused: u64,
    pub from_kernel: u64,
    pub from_kernel_dropped: u64,
}

impl HostStats {
    /// The counters of every port with a host interface, named by `ports`.
    pub fn report(&self, ports: &[String]) -> Vec<HostReport> {
        self.names
            .iter()
            .zip(&self.ports)
            .zip(ports)
            .filter_map(|((n, c), p)| {
                n.as_ref().map(|n| HostReport {
                    port: p.clone(),
                    host_interface: n.clone(),
                    to_kernel: c.to_kernel.load(Relaxed),
                    to_kernel_refused: c.to_kernel_refused.load(Relaxed),
                    from_kernel: c.from_kernel.load(Relaxed),
                    from_kernel_dropped: c.from_kernel_dropped.load(Relaxed),
                })
            })
            .collect()
    }
}

/// What the host thread works with.
pub struct HostPlan {
    /// By port index: the TAP, or None.
    pub taps: Vec<Option<Tap>>,
    /// One per RX lcore.
    pub punt: Vec<Consumer<Mbuf>>,
    /// By port index: the ring to the lcore that owns the port's egress.
    pub inject: Vec<Option<Producer<Mbuf>>>,
    /// DPDK port id -> port index.
    pub index_of_port_id: Vec<(u16, usize)>,
    pub pool: Mempool,
    /// Largest frame an mbuf of `pool` holds (its data room less the headroom).
    pub frame_room: u16,
}

/// The running host thread.
pub struct HostThread {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
    pub stats: Arc<HostStats>,
}

/// Create the TAPs of every port that names a host interface: `names[i]`
/// with `macs[i]` and `mtus[i]`. An error names the interface and the cause.
pub fn create_taps(names: &[Option<String>], macs: &[[u8; 6]], mtus: &[u32]) -> Result<Vec<Option<Tap>>, String> {
    let mut taps = Vec::new();
    for ((n, mac), &mtu) in names.iter().zip(macs).zip(mtus) {
        taps.push(match n {
            None => None,
            Some(n) => Some(Tap::create(n, *mac, mtu).map_err(|e| {
                let hint = match e.raw_os_error() {
                    Some(libc::EBUSY) | Some(libc::EINVAL) => " (an interface of that name exists and is not a free TAP: pick another name or remove it)",
                    Some(libc::EPERM) => " (creating a TAP needs CAP_NET_ADMIN: run as root)",
                    Some(libc::ENOENT) => " (no /dev/net/tun: load the tun module)",
                    _ => "",
                };
                format!("host interface '{n}': {e}{hint}")
            })?),
        });
    }
    Ok(taps)
}

impl HostThread {
    /// Start the thread.
    pub fn start(plan: HostPlan) -> std::io::Result<HostThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(HostStats {
            names: plan.taps.iter().map(|t| t.as_ref().map(|t| t.name().to_string())).collect(),
            ports: (0..plan.taps.len()).map(|_| HostCounters::default()).collect(),
        });
        let (quit, st) = (Arc::clone(&stop), Arc::clone(&stats));
        let thread = std::thread::Builder::new().name("newipd-host".into()).spawn(move || host_loop(plan, &quit, &st))?;
        Ok(HostThread { stop, thread, stats })
    }

    /// Stop the thread (after the lcores: nothing is punted any more).
    pub fn stop(self) -> Arc<HostStats> {
        self.stop.store(true, Relaxed);
        let _ = self.thread.join();
        self.stats
    }
}

fn host_loop(mut plan: HostPlan, stop: &AtomicBool, st: &HostStats) {
    let frame_room = plan.frame_room;
    let mut index = [usize::MAX; 1024];
    for &(id, i) in &plan.index_of_port_id {
        if let Some(x) = index.get_mut(id as usize) {
            *x = i;
        }
    }
    let mut carrier: Vec<Option<bool>> = vec![None; plan.taps.len().min(MAX_PORTS)];
    let mut spare: Option<Mbuf> = None;
    let mut warned = false;
    while !stop.load(Relaxed) {
        let mut moved = 0usize;
        // The kernel's side of each port's link.
        for (i, t) in plan.taps.iter().enumerate() {
            let Some(t) = t else { continue };
            let up = link::is_up(i);
            if carrier.get(i).copied().flatten() != Some(up) {
                if let Err(e) = t.set_carrier(up) {
                    if !warned {
                        eprintln!("newipd: host interface {}: {e}", t.name());
                        warned = true;
                    }
                }
                if let Some(c) = carrier.get_mut(i) {
                    *c = Some(up);
                }
            }
        }
        // Lcores -> kernel.
        for ring in plan.punt.iter_mut() {
            moved += ring.pop_each(WRITE_BURST, |m| {
                let i = index.get(m.port() as usize).copied().unwrap_or(usize::MAX);
                let (Some(Some(tap)), Some(c)) = (plan.taps.get(i), st.ports.get(i)) else { return };
                match tap.write(m.data()) {
                    Ok(true) => c.to_kernel.fetch_add(1, Relaxed),
                    Ok(false) | Err(_) => c.to_kernel_refused.fetch_add(1, Relaxed),
                };
            });
        }
        // Kernel -> lcores.
        for (i, t) in plan.taps.iter().enumerate() {
            let (Some(tap), Some(c)) = (t, st.ports.get(i)) else { continue };
            for _ in 0..READ_BURST {
                let Some(mut m) = spare.take().or_else(|| Mbuf::alloc(&plan.pool)) else {
                    // No mbuf: leave the frames in the kernel's queue for now.
                    break;
                };
                if m.len() == 0 && m.append(frame_room).is_none() {
                    c.from_kernel_dropped.fetch_add(1, Relaxed);
                    break;
                }
                match tap.read(m.data_mut()) {
                    Ok(Some(n)) if n > 0 && n <= frame_room as usize => {
                        m.trim(frame_room - n as u16);
                        moved += 1;
                        let pushed = match plan.inject.get_mut(i).and_then(Option::as_mut) {
                            Some(ring) => match ring.push(m) {
                                Ok(()) => {
                                    ring.publish();
                                    true
                                }
                                Err(_) => false,
                            },
                            None => false,
                        };
                        if pushed {
                            c.from_kernel.fetch_add(1, Relaxed);
                        } else {
                            c.from_kernel_dropped.fetch_add(1, Relaxed);
                        }
                    }
                    Ok(Some(_)) => {
                        // Empty or larger than an mbuf: dropped (the buffer is reused).
                        c.from_kernel_dropped.fetch_add(1, Relaxed);
                        spare = Some(m);
                    }
                    Ok(None) | Err(_) => {
                        spare = Some(m);
                        break;
                    }
                }
            }
        }
        if moved == 0 {
            let taps: Vec<&Tap> = plan.taps.iter().flatten().collect();
            let _ = wait_readable(&taps, IDLE_WAIT_MS);
        }
    }
}
