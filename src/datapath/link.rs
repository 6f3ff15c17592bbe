//! Each port's link state as the link watcher (a control thread) last saw
//! it, for the lcores that send: packets the driver refused while the link
//! was down are counted `link-down`, not `tx-full`. Read only on that cold
//! path; written about twice a second.
//!
//! And each port's *pause* gate: the link watcher pauses a port before it
//! stops and restarts it (a memif client whose server went away, see
//! `LinkWatch` in `control/run.rs`). Lcores load the mask once per poll
//! round ([`paused_mask`]) and per TX burst; a paused port is neither
//! polled nor sent to (its bursts are freed and counted `link-down`), so
//! `rte_eth_dev_stop`/`start` never run while an lcore is inside its
//! rx_burst/tx_burst. The watcher waits for a QSBR grace period between
//! [`pause`] and the stop (see `wait_for_lcores` in `control/run.rs` for the
//! memory-model argument).

use newipd_core::kinds::{Reason, MAX_PORTS};
use newipd_dpdk::port::PortId;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::{Relaxed, SeqCst}};

static UP: [AtomicBool; MAX_PORTS] = [const { AtomicBool::new(true) }; MAX_PORTS];

/// One bit a port (pipeline order): set while the port is paused. Alone on
/// its 128-byte line (CPUs fetch lines in pairs): every lcore loads it each
/// round and TX burst, so no other static written now and then may share
/// its line and turn those loads into misses.
#[repr(align(128))]
struct Gate(AtomicU32);
static PAUSED: Gate = Gate(AtomicU32::new(0));
const _: () = assert!(MAX_PORTS <= 32, "PAUSED and ASK_DRIVER hold one bit a port");

/// One bit a port: its driver keeps the link state in memory and answers a
/// query without a system call (memif), so a refused burst asks it.
static ASK_DRIVER: AtomicU32 = AtomicU32::new(0);

fn bit(index: usize) -> u32 {
    if index < MAX_PORTS {
        1 << index
    } else {
        0
    }
}

/// Record the link state of port `index` (pipeline order).
pub fn set_up(index: usize, up: bool) {
    if let Some(f) = UP.get(index) {
        f.store(up, Relaxed);
    }
}

/// Was port `index`'s link up when last seen? (Up until seen otherwise.)
pub fn is_up(index: usize) -> bool {
    UP.get(index).is_none_or(|f| f.load(Relaxed))
}

/// Pause port `index`: from their next poll round on, lcores neither poll
/// nor send to it. The caller then waits for a grace period before it
/// touches the port (SeqCst: ordered before the ticket the caller takes).
pub fn pause(index: usize) {
    PAUSED.0.fetch_or(bit(index), SeqCst);
}

/// Let lcores use port `index` again (after its restart).
pub fn resume(index: usize) {
    PAUSED.0.fetch_and(!bit(index), SeqCst);
}

/// The paused ports, one bit each: one relaxed load (an lcore takes it
/// once per poll round, after its quiescent point, and per TX burst).
#[inline(always)]
pub fn paused_mask() -> u32 {
    PAUSED.0.load(Relaxed)
}

/// Is port `index` paused in `mask` (from [`paused_mask`])?
#[inline(always)]
pub fn is_paused(mask: u32, index: usize) -> bool {
    mask & bit(index) != 0
}

/// Port `index`'s driver answers link queries from memory: see [`refused`].
pub fn set_ask_driver(index: usize, ask: bool) {
    if ask {
        ASK_DRIVER.fetch_or(bit(index), Relaxed);
    } else {
        ASK_DRIVER.fetch_and(!bit(index), Relaxed);
    }
}

/// Why the driver of port `index` (`id`) refused packets (the cold path of
/// a short TX burst): `link-down` if the watcher last saw the link down,
/// or, for a driver that answers from memory (memif, whose link goes down
/// the moment its peer leaves, up to a watcher period before the watcher
/// sees it), if the driver says it is down now; `tx-full` otherwise.
#[cold]
pub fn refused(index: usize, id: PortId) -> Reason {
    let down = !is_up(index) || (ASK_DRIVER.load(Relaxed) & bit(index) != 0 && !id.link().up);
    if down {
        Reason::LinkDown
    } else {
        Reason::TxFull
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_start_up_and_follow_what_is_set() {
        assert!(is_up(MAX_PORTS - 1));
        set_up(MAX_PORTS - 1, false);
        assert!(!is_up(MAX_PORTS - 1));
        set_up(MAX_PORTS - 1, true);
        assert!(is_up(MAX_PORTS - 1));
        set_up(MAX_PORTS + 5, false);
        assert!(is_up(MAX_PORTS + 5), "out of range: nothing to say, up");
    }

    /// The gate of one port (ports 29 and 30: the other tests of the
    /// process never use them).
    #[test]
    fn pause_resume_and_the_mask() {
        let (a, b) = (MAX_PORTS - 3, MAX_PORTS - 2);
        assert!(!is_paused(paused_mask(), a) && !is_paused(paused_mask(), b), "ports start unpaused");
        pause(a);
        let m = paused_mask();
        assert!(is_paused(m, a), "paused: {m:#x}");
        assert!(!is_paused(m, b), "only the port paused: {m:#x}");
        assert_eq!(m & (1 << a), 1 << a);
        pause(b);
        pause(a); // twice: still one bit
        let m = paused_mask();
        assert!(is_paused(m, a) && is_paused(m, b));
        resume(a);
        let m = paused_mask();
        assert!(!is_paused(m, a) && is_paused(m, b), "resume clears its own bit only: {m:#x}");
        resume(b);
        resume(b); // twice: harmless
        assert!(!is_paused(paused_mask(), a) && !is_paused(paused_mask(), b));
        // Out of range: nothing to pause, never paused.
        pause(MAX_PORTS + 1);
        assert!(!is_paused(paused_mask(), MAX_PORTS + 1));
        assert_eq!(paused_mask() & (1 << a | 1 << b), 0);
        // A mask taken before a pause does not see it; the next one does.
        let before = paused_mask();
        pause(a);
        assert!(!is_paused(before, a) && is_paused(paused_mask(), a));
        resume(a);
    }
}
