//! The live view: a screen redrawn every interval when stdout is a
//! terminal, one plain log line per interval otherwise.

use super::snapshot::{write_tables, Snapshot};
use std::fmt::Write;

/// How the stats thread shows snapshots while running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveMode {
    /// Nothing while running (the final report still prints).
    #[default]
    Off,
    /// Redraw a full screen (ANSI clear) each interval.
    Screen,
    /// One log line per interval.
    Lines,
}

/// The full screen for a terminal (starts with clear-screen).
pub fn screen(s: &Snapshot) -> String {
    let mut o = String::from("\x1b[H\x1b[2J");
    let _ = writeln!(
        o,
        "newipd live  up {:.1} s   rx {:.3} Mpps   tx {:.3} Mpps   queued {}   dropped {}   identity {}",
        s.uptime_s,
        s.rx_pps / 1e6,
        s.tx_pps / 1e6,
        s.queued,
        s.dropped,
        if s.identity_holds { "holds" } else { "BROKEN" }
    );
    let _ = writeln!(o, "  {:<12} {:>10} {:>10} {:>14} {:>14} {:>12} {:>8}", "port", "rx Mpps", "tx Mpps", "rx", "tx", "dropped", "queued");
    for p in &s.ports {
        let _ = writeln!(
            o,
            "  {:<12} {:>10.3} {:>10.3} {:>14} {:>14} {:>12} {:>8}",
            p.name,
            p.rx_pps / 1e6,
            p.tx_pps / 1e6,
            p.rx,
            p.tx,
            p.dropped,
            p.queued
        );
    }
    if !s.drops.is_empty() {
        let _ = writeln!(o, "  drops by reason:");
        for (r, n) in &s.drops {
            let _ = writeln!(o, "    {r:<34} {n:>12}");
        }
    }
    write_tables(&mut o, &s.classes, &s.stages);
    o
}

/// One line for logs: rates, totals, queue depth and the p99 sojourn per
/// active class.
pub fn line(s: &Snapshot) -> String {
    let mut o = format!(
        "newipd: stats t={:.1}s rx={:.3}Mpps tx={:.3}Mpps rx_total={} tx_total={} dropped={} queued={}",
        s.uptime_s,
        s.rx_pps / 1e6,
        s.tx_pps / 1e6,
        s.rx,
        s.tx,
        s.dropped,
        s.queued
    );
    for k in s.classes.iter().filter(|k| k.sojourn.count > 0) {
        let _ = write!(o, " {}_p99={:.1}us", k.name, k.sojourn.p99_ns as f64 / 1000.0);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::snapshot::tests::sample;

    #[test]
    fn screen_and_line_show_rates_drops_and_latency() {
        let (names, c, h) = sample();
        let s = Snapshot::build(&names, &c, &h, None, 2.0);
        let sc = screen(&s);
        assert!(sc.starts_with("\x1b[H\x1b[2J"));
        assert!(sc.contains("no-route") && sc.contains("wan") && sc.contains("contract") && sc.contains("route"), "{sc}");
        let l = line(&s);
        assert!(!l.contains('\n'));
        assert!(l.contains("rx=0.000005Mpps") || l.contains("rx=0.000Mpps"), "{l}");
        assert!(l.contains("contract_p99=20.0us") || l.contains("contract_p99=20.1us"), "{l}");
    }
}
