//! DPDK's log, kept: from [`Eal::init`](super::eal::Eal::init) on, every
//! line DPDK and its drivers log still reaches stderr (and, once the EAL is
//! up, DPDK's own console and syslog stream), and the latest 64 KiB are kept
//! with their levels. An error can then quote the driver's own reason ("a
//! pcap that is not a pcap", "Address already in use") instead of only
//! DPDK's return code.
//!
//! Keeping a line takes a mutex and a copy into a buffer reserved once, per
//! log line and never per packet; nothing is allocated after the start.

use super::sys;
use std::io::Write;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// RTE_LOG_ERR: lines at this level or more severe count as errors.
pub const LEVEL_ERR: u8 = 4;

/// The level of a write that did not come through rte_log (never an error).
const LEVEL_UNKNOWN: u8 = 9;

/// Bytes of log kept (the oldest lines go first).
const KEEP: usize = 64 * 1024;

/// One kept line of DPDK's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// DPDK's level: 1 emergency ... 4 error, 5 warning, 6 notice, 7 info, 8 debug (9: not through rte_log).
    pub level: u8,
    pub text: String,
}

/// A position in the log: lines kept after it are newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(u64);

struct Kept {
    /// Lines, each as its level byte, its text and '\n' (the last may be open).
    bytes: Vec<u8>,
    /// Number of the first kept line since the start.
    first: u64,
    /// Lines started since the start.
    started: u64,
    /// The last line has no '\n' yet.
    open: bool,
    /// DPDK's own stream (console and syslog) to pass lines on to, once the
    /// EAL made it; until then (and after the EAL is cleaned up) stderr.
    onward: usize,
}

static KEPT: Mutex<Kept> = Mutex::new(Kept { bytes: Vec::new(), first: 0, started: 0, open: false, onward: 0 });

fn kept() -> MutexGuard<'static, Kept> {
    KEPT.lock().unwrap_or_else(|e| e.into_inner())
}

/// glibc's `cookie_io_functions_t`.
#[repr(C)]
struct CookieIo {
    read: Option<extern "C" fn(*mut c_void, *mut c_char, usize) -> isize>,
    write: Option<extern "C" fn(*mut c_void, *const c_char, usize) -> isize>,
    seek: Option<extern "C" fn(*mut c_void, *mut i64, c_int) -> c_int>,
    close: Option<extern "C" fn(*mut c_void) -> c_int>,
}

extern "C" {
    /// glibc: a FILE whose writes call `io.write`.
    fn fopencookie(cookie: *mut c_void, mode: *const c_char, io: CookieIo) -> *mut sys::FILE;
}

/// Where DPDK writes a log message (one call per message: the stream is unbuffered).
extern "C" fn write_log(_cookie: *mut c_void, buf: *const c_char, size: usize) -> isize {
    if buf.is_null() || size == 0 {
        return 0;
    }
    // SAFETY: the C library hands over `size` readable bytes at `buf`.
    let data = unsafe { std::slice::from_raw_parts(buf as *const u8, size) };
    // SAFETY: a plain per-thread read of the level of the message being logged.
    let level = match unsafe { sys::rte_log_cur_msg_loglevel() } {
        l @ 1..=8 => l as u8,
        _ => LEVEL_UNKNOWN, // written to the stream without rte_log
    };
    let mut k = kept();
    if QUIET.with(|q| q.get()) {
        // Kept (errors_since quotes it), not passed on: see `quietly`.
    } else if k.onward == 0 {
        let _ = std::io::stderr().write_all(data);
    } else {
        // SAFETY: `onward` is DPDK's default stream, open until Eal's drop clears it (under this lock).
        unsafe { libc::fwrite(data.as_ptr() as *const c_void, 1, size, k.onward as *mut libc::FILE) };
        // SAFETY: as above.
        unsafe { libc::fflush(k.onward as *mut libc::FILE) };
    }
    k.keep(level, data);
    size as isize
}

impl Kept {
    fn keep(&mut self, level: u8, data: &[u8]) {
        if self.bytes.capacity() < KEEP {
            return; // not started (reserved by `start`)
        }
        for line in data.split_inclusive(|&b| b == b'\n') {
            let need = line.len() + usize::from(!self.open);
            if need > KEEP {
                continue;
            }
            self.make_room(need);
            if !self.open {
                self.bytes.push(level);
                self.started += 1;
            }
            self.bytes.extend_from_slice(line);
            self.open = line.last() != Some(&b'\n');
        }
    }

    /// Drop the oldest lines until `need` more bytes fit in what was reserved.
    fn make_room(&mut self, need: usize) {
        while self.bytes.len() + need > KEEP {
            let end = match self.bytes.iter().position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => self.bytes.len(),
            };
            self.bytes.drain(..end);
            self.first += 1;
            if self.bytes.is_empty() {
                self.open = false;
            }
        }
    }

    fn lines_since(&self, m: Mark) -> Vec<LogLine> {
        let skip = m.0.saturating_sub(self.first) as usize;
        let mut out = Vec::new();
        for raw in self.bytes.split_inclusive(|&b| b == b'\n').skip(skip) {
            if let Some((&level, text)) = raw.split_first() {
                let text = String::from_utf8_lossy(text).trim_end().to_string();
                if !text.is_empty() {
                    out.push(LogLine { level, text });
                }
            }
        }
        out
    }
}

/// Our FILE, made once and never closed (DPDK may hold it in another thread).
fn stream() -> *mut sys::FILE {
    static STREAM: OnceLock<usize> = OnceLock::new();
    *STREAM.get_or_init(|| {
        let io = CookieIo { read: None, write: Some(write_log), seek: None, close: None };
        // SAFETY: a NUL-terminated mode and callbacks that live for the whole process.
        let f = unsafe { fopencookie(std::ptr::null_mut(), c"w".as_ptr(), io) };
        if !f.is_null() {
            // One write per message, so each write has the level of its own message.
            // SAFETY: f is a valid stream nothing has written to yet.
            unsafe { libc::setvbuf(f as *mut libc::FILE, std::ptr::null_mut(), libc::_IONBF, 0) };
        }
        f as usize
    }) as *mut sys::FILE
}

/// Before `rte_eal_init`: route DPDK's log through the keeper (to stderr).
pub(crate) fn start() {
    let f = stream();
    if f.is_null() {
        return;
    }
    {
        let mut k = kept();
        if k.bytes.capacity() < KEEP {
            k.bytes.reserve_exact(KEEP);
        }
    }
    // SAFETY: f is a valid stream for the rest of the process.
    unsafe { sys::rte_openlog_stream(f) };
}

/// After a successful `rte_eal_init`: pass lines on to the stream the EAL
/// made (console and syslog) instead of plain stderr.
pub(crate) fn follow_eal() {
    let f = stream();
    if f.is_null() {
        return;
    }
    // SAFETY: resetting to NULL selects DPDK's default stream, which get_stream then returns.
    let dflt = unsafe {
        sys::rte_openlog_stream(std::ptr::null_mut());
        sys::rte_log_get_stream()
    };
    if !dflt.is_null() && dflt != f {
        kept().onward = dflt as usize;
    }
    // SAFETY: f is a valid stream for the rest of the process.
    unsafe { sys::rte_openlog_stream(f) };
}

/// Before `rte_eal_cleanup` (which closes DPDK's default stream): lines go to stderr again.
pub(crate) fn leave_eal() {
    kept().onward = 0;
}

thread_local! {
    /// This thread runs [`quietly`]: its lines are kept, not passed on.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f`, keeping what DPDK logs on this thread meanwhile (for
/// [`errors_since`]) without passing it on to stderr: for a call retried
/// often whose failure the caller reports once in its own words (a memif
/// client reconnecting every 100 ms while its server is away).
pub fn quietly<T>(f: impl FnOnce() -> T) -> T {
    let was = QUIET.with(|q| q.replace(true));
    let r = f();
    QUIET.with(|q| q.set(was));
    r
}

/// The current end of the log.
pub fn mark() -> Mark {
    Mark(kept().started)
}

/// Lines logged since `m`, oldest first (lines begun before `m` excluded).
pub fn since(m: Mark) -> Vec<LogLine> {
    kept().lines_since(m)
}

/// Error lines (level error or worse) logged since `m`, joined for a message;
/// `None` if there were none.
pub fn errors_since(m: Mark) -> Option<String> {
    let v: Vec<String> = since(m).into_iter().filter(|l| l.level <= LEVEL_ERR).map(|l| l.text).collect();
    (!v.is_empty()).then(|| v.join("; "))
}

/// The lines `rte_eal_init` logged (kept for [`probe_failure`]).
static INIT: Mutex<Vec<LogLine>> = Mutex::new(Vec::new());

pub(crate) fn set_init_lines(lines: Vec<LogLine>) {
    *INIT.lock().unwrap_or_else(|e| e.into_inner()) = lines;
}

/// Why the EAL did not create device `dev`, in its driver's words, if it logged why.
pub fn probe_failure(dev: &str) -> Option<String> {
    probe_cause(&INIT.lock().unwrap_or_else(|e| e.into_inner()), dev)
}

/// The vdev bus logs "failed to initialize NAME device" after a driver's
/// probe failed; the driver's own error lines come just before it, after the
/// previous device's. Without that line, error lines naming `dev`.
pub fn probe_cause(lines: &[LogLine], dev: &str) -> Option<String> {
    let errors: Vec<&LogLine> = lines.iter().filter(|l| l.level <= LEVEL_ERR).collect();
    let failed = |l: &LogLine| l.text.contains("failed to initialize ") && l.text.ends_with(" device");
    let own = format!("failed to initialize {dev} device");
    let picked: Vec<&str> = match errors.iter().position(|l| l.text.contains(&own)) {
        Some(end) => {
            let begin = errors[..end].iter().rposition(|l| failed(l)).map_or(0, |i| i + 1);
            errors[begin..end].iter().map(|l| l.text.as_str()).filter(|t| !t.contains("probe failed")).collect()
        }
        None => errors.iter().map(|l| l.text.as_str()).filter(|t| t.contains(dev)).collect(),
    };
    (!picked.is_empty()).then(|| picked.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(level: u8, text: &str) -> LogLine {
        LogLine { level, text: text.into() }
    }

    #[test]
    fn keeps_lines_with_levels_and_drops_the_oldest() {
        let mut k = Kept { bytes: Vec::with_capacity(KEEP), first: 0, started: 0, open: false, onward: 0 };
        k.keep(4, b"first\nsec");
        k.keep(5, b"ond\n");
        let m = Mark(k.started);
        k.keep(7, b"third\n");
        assert_eq!(k.lines_since(Mark(0)), vec![line(4, "first"), line(4, "second"), line(7, "third")]);
        assert_eq!(k.lines_since(m), vec![line(7, "third")]);
        let big = vec![b'x'; 1000];
        for _ in 0..100 {
            k.keep(6, &big);
            k.keep(6, b"\n");
        }
        assert!(k.bytes.len() <= KEEP && k.bytes.capacity() == KEEP, "stays within what was reserved");
        let all = k.lines_since(Mark(0));
        assert!(all.len() < 100 && all.iter().all(|l| l.text.len() == 1000), "{}", all.len());
        assert_eq!(k.first + all.len() as u64, k.started);
    }

    #[test]
    fn nothing_is_kept_before_start() {
        let mut k = Kept { bytes: Vec::new(), first: 0, started: 0, open: false, onward: 0 };
        k.keep(4, b"early\n");
        assert!(k.lines_since(Mark(0)).is_empty());
    }

    #[test]
    fn a_probe_failure_is_the_drivers_lines_before_the_bus_gives_up() {
        let lines = [
            line(7, "EAL: Detected CPU lcores: 2"),
            line(4, "rte_pmd_foo_probe(): not this one"),
            line(4, "vdev_probe(): failed to initialize net_pcap0 device"),
            line(4, "open_single_rx_pcap(): Couldn't open /x.pcap: unknown file format"),
            line(5, "a warning"),
            line(4, "vdev_probe(): failed to initialize net_pcap1 device"),
            line(4, "EAL: Bus (vdev) probe failed."),
        ];
        assert_eq!(probe_cause(&lines, "net_pcap0").as_deref(), Some("rte_pmd_foo_probe(): not this one"));
        assert_eq!(probe_cause(&lines, "net_pcap1").as_deref(), Some("open_single_rx_pcap(): Couldn't open /x.pcap: unknown file format"));
        assert_eq!(probe_cause(&lines, "net_null0"), None);
        let pci = [line(4, "EAL: Requested device 0000:7f:1f.7 cannot be used")];
        assert_eq!(probe_cause(&pci, "0000:7f:1f.7").as_deref(), Some("EAL: Requested device 0000:7f:1f.7 cannot be used"));
    }
}
