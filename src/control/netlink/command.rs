//! `newipd mirror`: dump the kernel's state through the mirror and print
//! it; with a follow time, print each event as it comes, then the final state.
//!
//! The command is also the mirror's first consumer: it keeps its own copy of
//! the state from the events alone and, at the end, checks it equals the
//! mirror's model (a failure says the events lost something).

use super::engine::Filter;
use super::event::MirrorEvent;
use super::mirror::{Mirror, MirrorOptions, MirrorStats};
use super::model::Model;
use super::parse::Tables;
use super::show::{event_text, state_json, state_text};
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The command's settings (from the command line).
#[derive(Clone, Debug)]
pub struct MirrorCommand {
    /// Follow only these interfaces (None: all).
    pub interfaces: Option<Vec<String>>,
    /// Follow the kernel this long after the first dump (None: dump only).
    pub follow: Option<Duration>,
    /// JSON lines instead of text.
    pub json: bool,
    pub tables: Tables,
    /// Socket receive buffer to ask for, bytes.
    pub rcvbuf: usize,
}

/// Events queued between the mirror thread and the printer at most; when
/// the printer falls behind, the mirror waits, its socket overruns, and it
/// resyncs: memory stays bounded.
const QUEUE: usize = 4096;

struct Printer<W: Write> {
    out: W,
    json: bool,
    /// The consumer's own copy of the state, from the events alone.
    copy: Model,
}

impl<W: Write> Printer<W> {
    fn state(&mut self, label: &str, m: &Model, stats: &MirrorStats) -> std::io::Result<()> {
        if self.json {
            writeln!(self.out, "{}", state_json(label, m, stats))?;
        } else {
            write!(self.out, "{}", state_text(label, m))?;
        }
        self.out.flush()
    }

    fn event(&mut self, ev: &MirrorEvent) -> std::io::Result<()> {
        match ev {
            MirrorEvent::Overrun { total } => eprintln!("newipd mirror: overrun (ENOBUFS, {total} so far): notifications lost, resync started"),
            MirrorEvent::Synced { round, resync: true, reason, changes, .. } => {
                eprintln!("newipd mirror: resync done (round {round}, {reason}): {changes} changes")
            }
            _ => {}
        }
        // Names of links still present for a removal: print before applying.
        if self.json {
            serde_json::to_writer(&mut self.out, ev)?;
            self.out.write_all(b"\n")?;
        } else {
            writeln!(self.out, "{}", event_text(&self.copy, ev))?;
        }
        ev.apply_to(&mut self.copy);
        Ok(())
    }
}

/// Runs the command; the error is for the operator.
pub fn run(c: &MirrorCommand) -> Result<(), String> {
    let filter = match &c.interfaces {
        Some(names) => Filter::interfaces(names.iter().cloned()),
        None => Filter::all(),
    };
    let opts = MirrorOptions { filter, tables: c.tables, rcvbuf: c.rcvbuf };
    let mut mirror = Mirror::open(opts).map_err(|e| format!("netlink: cannot open a NETLINK_ROUTE socket: {e}"))?;
    let t0 = Instant::now();
    mirror.sync(&mut |_| {}).map_err(|e| format!("netlink: {e}"))?;
    let m = mirror.model();
    eprintln!(
        "newipd mirror: first dump in {:.1} ms: {} links, {} addresses, {} routes, {} neighbours (receive buffer {} bytes)",
        t0.elapsed().as_secs_f64() * 1e3,
        m.links.len(),
        m.addresses.len(),
        m.routes4.len() + m.routes6.len(),
        m.neighbours4.len() + m.neighbours6.len(),
        mirror.stats().rcvbuf
    );
    let stdout = std::io::stdout();
    let mut p = Printer { out: BufWriter::with_capacity(1 << 16, stdout.lock()), json: c.json, copy: m.clone() };
    p.state("initial", m, &mirror.stats()).map_err(|e| format!("stdout: {e}"))?;
    let Some(follow) = c.follow else { return Ok(()) };

    let stop = Arc::new(AtomicBool::new(false));
    newipd_dpdk::signals::stop_on(&stop, &[signal_hook::consts::SIGHUP]).map_err(|e| format!("signal handler: {e}"))?;
    let (tx, rx) = crossbeam::channel::bounded::<MirrorEvent>(QUEUE);
    let thread = mirror
        .spawn(move |ev| {
            // The printer gone (it stops last): nothing to do with the event.
            let _ = tx.send(ev);
        })
        .map_err(|e| format!("cannot start the mirror thread: {e}"))?;
    let deadline = Instant::now() + follow;
    let mut write_err = None;
    let mut print = |p: &mut Printer<_>, ev: MirrorEvent| {
        if write_err.is_none() {
            if let Err(e) = p.event(&ev) {
                write_err = Some(e);
            }
        }
    };
    while !stop.load(Ordering::Relaxed) && !thread.is_finished() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(left.min(Duration::from_millis(100))) {
            Ok(ev) => {
                print(&mut p, ev);
                if rx.is_empty() {
                    let _ = p.out.flush();
                }
            }
            Err(crossbeam::channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam::channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    thread.stop();
    // Take what the thread still hands over until it ends (it may be
    // waiting on a full queue), then join it.
    while let Ok(ev) = rx.recv() {
        print(&mut p, ev);
    }
    let mirror = thread.join().map_err(|e| format!("netlink: {e}"))?;
    if let Some(e) = write_err {
        return Err(format!("stdout: {e}"));
    }
    let stats = mirror.stats();
    p.state("final", mirror.model(), &stats).map_err(|e| format!("stdout: {e}"))?;
    eprintln!(
        "newipd mirror: {} messages, {} notifications applied, {} superseded by a dump, {} dump entries superseded by a notification, {} overruns, {} resyncs, {} dumps ({} interrupted)",
        stats.messages,
        stats.engine.notifications,
        stats.engine.superseded,
        stats.engine.entries_superseded,
        stats.engine.overruns,
        stats.engine.resyncs,
        stats.engine.dumps,
        stats.engine.dumps_interrupted
    );
    if p.copy != *mirror.model() {
        return Err("the events did not reproduce the mirrored state (a bug: please report it)".into());
    }
    Ok(())
}
