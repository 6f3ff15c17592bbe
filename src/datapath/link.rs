//! Each port's link state as the link watcher (a control thread) last saw
//! it, for the lcores that send: packets the driver refused while the link
//! was down are counted `link-down`, not `tx-full`. Read only on that cold
//! path; written about twice a second.

use newipd_core::kinds::MAX_PORTS;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

static UP: [AtomicBool; MAX_PORTS] = [const { AtomicBool::new(true) }; MAX_PORTS];

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
}
