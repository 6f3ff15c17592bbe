//! The netlink mirror: a NETLINK_ROUTE socket read on its own thread,
//! feeding the [`Engine`], whose events go to a consumer.
//!
//! ```text
//! Mirror::open  -> joins the groups, schedules the first round (every kind)
//! Mirror::sync  -> reads until that round is done (model = kernel)
//! Mirror::spawn -> the control thread: notifications, resyncs, until stopped
//! ```
//!
//! Memory is bounded by the kernel's state (the model holds what the kernel
//! holds, filtered) plus the socket's receive buffer (set at open, default
//! [`DEFAULT_RCVBUF`]) plus the read buffer (64 KiB, grown only to the
//! largest single message seen). During a dump the fresh copy of one kind
//! exists beside the model's, so a resync of the routes briefly holds them
//! twice. Nothing queues without bound: when the mirror falls behind, the
//! kernel drops notifications, the socket reports ENOBUFS and the mirror
//! resyncs.

use super::engine::{Engine, EngineStats, Filter};
use super::event::MirrorEvent;
use super::model::{Kind, Model};
use super::parse::{route_update, update, Tables};
use super::socket::{messages, NlSocket, Read, DEFAULT_RCVBUF};
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_DUMP_INTR};
use netlink_packet_route::RouteNetlinkMessage;
use serde::Serialize;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a read blocks before the thread looks at its stop flag.
const READ_TIMEOUT: Duration = Duration::from_millis(100);

/// A dump from which nothing came for this long while the socket is idle
/// has stalled (the kernel fills the next part whenever a read leaves the
/// buffer half empty, so this should not happen): ask for it again.
const DUMP_STALL: Duration = Duration::from_secs(1);

/// What to mirror and how.
#[derive(Clone, Debug)]
pub struct MirrorOptions {
    /// Interfaces to follow (all by default).
    pub filter: Filter,
    /// Routing tables to follow (main by default).
    pub tables: Tables,
    /// Socket receive buffer to ask for, in bytes.
    pub rcvbuf: usize,
}

impl Default for MirrorOptions {
    fn default() -> Self {
        MirrorOptions { filter: Filter::all(), tables: Tables::Main, rcvbuf: DEFAULT_RCVBUF }
    }
}

/// The mirror's counters: the engine's and the socket's.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MirrorStats {
    #[serde(flatten)]
    pub engine: EngineStats,
    /// The receive buffer the kernel granted (bytes, doubled by the kernel).
    pub rcvbuf: usize,
    /// Netlink messages read.
    pub messages: u64,
    /// Messages netlink-packet-route could not decode (skipped).
    pub undecodable: u64,
}

/// A NETLINK_ROUTE socket and the state it mirrors.
pub struct Mirror {
    sock: NlSocket,
    engine: Engine,
    tables: Tables,
    /// The dump in progress: its sequence number, and whether a part of it
    /// came marked NLM_F_DUMP_INTR.
    dump: Option<(u32, bool)>,
    /// When the dump in progress last gave something (or was asked).
    last_part: Instant,
    messages: u64,
    undecodable: u64,
}

impl Mirror {
    /// Opens the socket, joins the groups and schedules the first dump of every kind.
    pub fn open(opts: MirrorOptions) -> io::Result<Mirror> {
        let sock = NlSocket::open(opts.rcvbuf, READ_TIMEOUT)?;
        let mut engine = Engine::new(opts.filter);
        engine.start(&Kind::ALL, "start");
        Ok(Mirror { sock, engine, tables: opts.tables, dump: None, last_part: Instant::now(), messages: 0, undecodable: 0 })
    }

    pub fn model(&self) -> &Model {
        self.engine.model()
    }

    pub fn stats(&self) -> MirrorStats {
        MirrorStats { engine: self.engine.stats().clone(), rcvbuf: self.sock.rcvbuf(), messages: self.messages, undecodable: self.undecodable }
    }

    /// Reads until the current round of dumps is done: after `open`, until
    /// the model equals the kernel's state. `out` gets the events (the first
    /// round's are every object, added).
    pub fn sync(&mut self, out: &mut dyn FnMut(MirrorEvent)) -> io::Result<()> {
        while self.engine.busy() {
            self.step(out)?;
        }
        Ok(())
    }

    /// Follows the kernel until `stop` is set (looked at every 100 ms).
    pub fn run(&mut self, stop: &AtomicBool, out: &mut dyn FnMut(MirrorEvent)) -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            self.step(out)?;
        }
        Ok(())
    }

    /// Moves the mirror to its own thread, which follows the kernel and hands
    /// every event to `out` until [`MirrorThread::stop`].
    pub fn spawn(mut self, mut out: impl FnMut(MirrorEvent) + Send + 'static) -> io::Result<MirrorThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new().name("netlink-mirror".into()).spawn(move || {
            self.run(&flag, &mut out)?;
            Ok(self)
        })?;
        Ok(MirrorThread { stop, handle })
    }

    /// Asks for the next dump if one is due, then reads one datagram (or times
    /// out) and applies what it holds.
    pub fn step(&mut self, out: &mut dyn FnMut(MirrorEvent)) -> io::Result<()> {
        if self.dump.is_none() {
            if let Some(kind) = self.engine.next_dump() {
                let seq = self.sock.request_dump(kind)?;
                self.dump = Some((seq, false));
                self.last_part = Instant::now();
            }
        }
        match self.sock.read()? {
            Read::Timeout => {
                if self.dump.is_some() && self.last_part.elapsed() > DUMP_STALL {
                    eprintln!("newipd: netlink mirror: the dump of {} stalled; asking again", self.engine.dumping().map_or("?", Kind::name));
                    self.dump = None;
                    self.engine.dump_done(true, out);
                }
                Ok(())
            }
            Read::Overrun => {
                self.engine.overrun(out);
                Ok(())
            }
            Read::Data(_) => self.apply_data(out),
        }
    }

    fn apply_data(&mut self, out: &mut dyn FnMut(MirrorEvent)) -> io::Result<()> {
        let port = self.sock.port();
        // Borrow the bytes apart from the rest of self.
        let Mirror { sock, engine, tables, dump, last_part, messages: count, undecodable } = self;
        for bytes in sock.datagrams().flat_map(messages) {
            *count += 1;
            // The header (messages() checked it is there).
            let flags = u16::from_ne_bytes([bytes[6], bytes[7]]);
            let seq = u32::from_ne_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            let pid = u32::from_ne_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
            let ours = dump.is_some_and(|(s, _)| pid == port && seq == s);
            if ours {
                *last_part = Instant::now();
                if flags & NLM_F_DUMP_INTR != 0 {
                    if let Some((_, intr)) = dump.as_mut() {
                        *intr = true;
                    }
                }
            }
            // Routes, nearly everything a full table sends, read in place.
            if let Some(u) = route_update(bytes, *tables) {
                match u {
                    Some(u) if ours => engine.dump_entry(u),
                    Some(u) => engine.notification(u, out),
                    None => {}
                }
                continue;
            }
            let msg = match NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) {
                Ok(m) => m,
                Err(e) => {
                    *undecodable += 1;
                    if *undecodable <= 5 {
                        eprintln!("newipd: netlink mirror: a message netlink-packet-route cannot decode, skipped: {e}");
                    }
                    continue;
                }
            };
            let h = msg.header;
            match msg.payload {
                NetlinkPayload::InnerMessage(inner) => {
                    let Some(u) = update(inner, h.flags, *tables) else { continue };
                    if ours {
                        engine.dump_entry(u);
                    } else {
                        engine.notification(u, out);
                    }
                }
                NetlinkPayload::Done(_) if ours => {
                    let interrupted = dump.take().is_some_and(|(_, i)| i);
                    engine.dump_done(interrupted, out);
                }
                NetlinkPayload::Error(e) if ours => {
                    let err = e.to_io();
                    match err.raw_os_error() {
                        // The socket was full when the kernel began the
                        // dump: it stays under way and goes on once reads
                        // have made room (the parts come with this sequence number).
                        Some(libc::ENOBUFS) => {}
                        // Busy (a dump still running) or interrupted: ask again.
                        Some(libc::EBUSY) | Some(libc::EINTR) | Some(libc::EAGAIN) => {
                            dump.take();
                            engine.dump_done(true, out);
                        }
                        _ => return Err(io::Error::new(err.kind(), format!("netlink dump of {}: {err}", engine.dumping().map_or("?", Kind::name)))),
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn into_model(self) -> Model {
        self.engine.into_model()
    }
}

/// The mirror on its own thread.
pub struct MirrorThread {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<io::Result<Mirror>>,
}

impl MirrorThread {
    /// Asks the thread to stop (it does within the read timeout, 100 ms,
    /// once its consumer has taken the event it may be handing over).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The thread ended (stopped, or failed: [`MirrorThread::join`] says why).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Waits for the thread and gives the mirror back (its model and counters).
    pub fn join(self) -> io::Result<Mirror> {
        self.handle.join().map_err(|_| io::Error::other("the netlink mirror thread panicked"))?
    }
}
