//! SIGHUP: reload the pipeline file while newipd runs. What can change
//! live (routes, classes, path-figure policy) changes atomically; anything
//! that needs a restart is refused by name and nothing changes; a file that
//! does not validate changes nothing either. The log says which.
//!
//! Live:
//! * `[[route]]`: the pipeline's routes in the RIB ([`Rib::set_statics`]),
//!   and so in the FIB the lcores read;
//! * `[[class]]`: the router's class table, swapped whole
//!   ([`Router::set_classes`]): each packet is classified by the old table
//!   or the new one;
//! * `[[policy]]` and `settings.metric_is_delay_us`: the path figures of
//!   kernel routes ([`Rib::set_policies`]).
//!
//! Everything else (every `[[port]]` field, the other settings, `[lcores]`)
//! was used to set up devices, pools, queues and lcores, and is refused by
//! name ([`needs_restart`]).

use super::config::{Lcores, Pipeline, PolicySpec, PortSpec, Settings};
use super::rib::Rib;
use newipd_core::class::{self, Classes};
use newipd_core::path::Router;
use newipd_core::sched::port::SchedConfig;
use newipd_core::wire::ether::mac_to_string;
use std::fmt::Display;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where the running pipeline came from: the file and the `--port` overrides.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub overrides: Vec<String>,
}

/// What a SIGHUP works on.
pub struct Reloader {
    pub source: Source,
    /// The pipeline as running now.
    pub running: Pipeline,
    pub rib: Arc<Mutex<Rib>>,
    pub router: Arc<Router>,
}

impl Reloader {
    /// Answer one SIGHUP: returns the log lines.
    pub fn sighup(&mut self) -> Vec<String> {
        let file = match Pipeline::load_with(&self.source.path, &self.source.overrides) {
            Ok(p) => p,
            Err(e) => {
                // One log line: the parser's multi-line messages joined.
                let e: Vec<&str> = e.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                return vec![format!("newipd: SIGHUP: {}; nothing changed, the running configuration stays", e.join(": "))];
            }
        };
        let restart = needs_restart(&self.running, &file);
        if !restart.is_empty() {
            return vec![format!("newipd: SIGHUP: not applied: {} need a restart; nothing changed", restart.join(", "))];
        }
        let changes = self.apply(&file);
        self.running = file;
        let what = if changes.is_empty() { "no change".to_string() } else { changes.join(", ") };
        vec![format!("newipd: SIGHUP: reloaded {}: {what}", self.source.path.display())]
    }

    /// Put the live parts of `file` in place (its restart-only parts equal
    /// the running ones): routes, then classes, then policy, all under the
    /// RIB's mutex (the netlink mirror waits meanwhile). What changed.
    fn apply(&mut self, file: &Pipeline) -> Vec<String> {
        let mut rib = self.rib.lock().unwrap_or_else(|e| e.into_inner());
        let mut changes = rib.set_statics(&file.routes);
        let classes = class_changes(&self.running.classes, &file.classes);
        if !classes.is_empty() {
            self.router.set_classes(file.classes.clone());
        }
        changes.extend(classes);
        let policies = policy_changes(&self.running, file);
        if !policies.is_empty() {
            rib.set_policies(file.policies.clone(), file.settings.metric_is_delay_us);
        }
        changes.extend(policies);
        changes
    }
}

/// `name (running A, file B)` if the two differ.
fn differ<T: PartialEq + Display>(out: &mut Vec<String>, name: &str, running: T, file: T) {
    if running != file {
        out.push(format!("{name} (running {running}, file {file})"));
    }
}

/// `name` alone if the two differ (values derived from several fields, or too long to say).
fn differ_named<T: PartialEq>(out: &mut Vec<String>, name: &str, running: &T, file: &T) {
    if running != file {
        out.push(name.to_string());
    }
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn opt<T: Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "none".to_string(), |v| v.to_string())
}

fn list<T: Display>(v: &[T]) -> String {
    format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))
}

/// The fields of `file` that differ from `running` and need a restart to
/// change, by name (`settings.burst (running 32, file 64)`, `port[1].rx_desc
/// (running 1024, file 512)`, `port[2] added`, `lcores.worker (...)`).
/// Empty: the two differ at most in what a reload changes live.
///
/// Every struct is taken apart field by field with no `..`: a field added
/// to [`Pipeline`], [`Settings`], [`Lcores`], [`PortSpec`] or
/// [`SchedConfig`] does not compile here until it is sorted as live or
/// restart-only.
pub fn needs_restart(running: &Pipeline, file: &Pipeline) -> Vec<String> {
    let mut out = Vec::new();
    // Live: routes, classes, policies (and settings.metric_is_delay_us below).
    let Pipeline { settings, lcores, ports, routes: _, classes: _, policies: _ } = file;
    settings_differ(&mut out, &running.settings, settings);
    let Lcores { worker, rx, tx } = lcores;
    differ(&mut out, "lcores.worker", opt(&running.lcores.worker), opt(worker));
    differ(&mut out, "lcores.rx", list(&running.lcores.rx), list(rx));
    differ(&mut out, "lcores.tx", list(&running.lcores.tx), list(tx));
    for (i, (old, new)) in running.ports.iter().zip(ports).enumerate() {
        port_differs(&mut out, i, old, new);
    }
    for i in ports.len()..running.ports.len() {
        out.push(format!("port[{i}] removed"));
    }
    for i in running.ports.len()..ports.len() {
        out.push(format!("port[{i}] added"));
    }
    out
}

fn settings_differ(out: &mut Vec<String>, old: &Settings, new: &Settings) {
    let Settings {
        burst,
        mbufs,
        mbuf_cache,
        verify_ipv4_checksum,
        idle_sleep_us,
        shutdown_drain_ms,
        ring_size,
        icmp_errors_per_s,
        icmp_burst,
        metric_is_delay_us: _, // live: the path figures of kernel routes
        fib_memory_at_start,
    } = new;
    differ(out, "settings.burst", old.burst, *burst);
    differ(out, "settings.mbufs", old.mbufs, *mbufs);
    differ(out, "settings.mbuf_cache", old.mbuf_cache, *mbuf_cache);
    differ(out, "settings.verify_ipv4_checksum", old.verify_ipv4_checksum, *verify_ipv4_checksum);
    differ(out, "settings.idle_sleep_us", old.idle_sleep_us, *idle_sleep_us);
    differ(out, "settings.shutdown_drain_ms", old.shutdown_drain_ms, *shutdown_drain_ms);
    differ(out, "settings.ring_size", old.ring_size, *ring_size);
    differ(out, "settings.icmp_errors_per_s", old.icmp_errors_per_s, *icmp_errors_per_s);
    differ(out, "settings.icmp_burst", old.icmp_burst, *icmp_burst);
    differ(out, "settings.fib_memory_at_start", old.fib_memory_at_start, *fib_memory_at_start);
}

fn port_differs(out: &mut Vec<String>, i: usize, old: &PortSpec, new: &PortSpec) {
    let at = |k: &str| format!("port[{i}].{k}");
    let PortSpec {
        name,
        device,
        kind: _,     // from device
        dev_name: _, // from device
        peer_mac,
        rx_desc,
        tx_desc,
        rx_queues,
        promiscuous,
        addresses,
        link_delay_ns,
        sched,
        host_interface,
        punt_rate_pps,
        punt_burst,
        mtu,
    } = new;
    differ(out, &at("name"), quoted(&old.name), quoted(name));
    differ(out, &at("device"), quoted(&old.device), quoted(device));
    differ(out, &at("peer_mac"), opt(&old.peer_mac.map(|m| mac_to_string(&m))), opt(&peer_mac.map(|m| mac_to_string(&m))));
    differ(out, &at("rx_desc"), old.rx_desc, *rx_desc);
    differ(out, &at("tx_desc"), old.tx_desc, *tx_desc);
    differ(out, &at("rx_queues"), old.rx_queues, *rx_queues);
    differ(out, &at("promiscuous"), old.promiscuous, *promiscuous);
    differ(out, &at("addresses"), list(&old.addresses), list(addresses));
    differ(out, &at("link_delay_ns"), old.link_delay_ns, *link_delay_ns);
    differ(out, &at("host_interface"), opt(&old.host_interface), opt(host_interface));
    differ(out, &at("punt_rate_pps"), old.punt_rate_pps, *punt_rate_pps);
    differ(out, &at("punt_burst"), old.punt_burst, *punt_burst);
    differ(out, &at("mtu"), old.mtu, *mtu);
    // The scheduler, by the file's names for its fields.
    let SchedConfig { discipline, capacity, bucket_shift, buckets, rate_bps, best_effort_ns, on_time_bound_ns, wash_bytes } = sched;
    let o = &old.sched;
    differ(out, &at("scheduler"), format!("{:?}", o.discipline).to_lowercase(), format!("{discipline:?}").to_lowercase());
    differ(out, &at("queue_capacity"), o.capacity, *capacity);
    differ(out, &at("bucket_ns"), 1u64 << o.bucket_shift, 1u64 << bucket_shift);
    differ_named(out, &at("horizon_us"), &o.buckets, buckets);
    differ(out, &at("rate_bps"), o.rate_bps, *rate_bps);
    differ(out, &at("best_effort_us"), o.best_effort_ns / 1000, best_effort_ns / 1000);
    differ(out, &at("on_time_bound_us"), list(&o.on_time_bound_ns.map(|b| b / 1000)), list(&on_time_bound_ns.map(|b| b / 1000)));
    differ_named(out, &at("wash_threshold_us"), &o.wash_bytes, wash_bytes);
}

/// What differs between two class tables, by class name: `class NAME
/// added`, `removed`, `changed` (its rule, action or place in the order).
pub fn class_changes(running: &Classes, file: &Classes) -> Vec<String> {
    if running == file {
        return Vec::new();
    }
    let configured = |c: &Classes| -> Vec<(String, u8)> { (class::FIRST_CONFIGURED..c.len() as u8).map(|n| (c.name(n).to_string(), n)).collect() };
    let (old, new) = (configured(running), configured(file));
    let mut out = Vec::new();
    for (name, n) in &new {
        match old.iter().find(|(o, _)| o == name) {
            None => out.push(format!("class {name} added")),
            Some((_, m)) if m != n || running.rule(*m) != file.rule(*n) || running.action(*m) != file.action(*n) => {
                out.push(format!("class {name} changed"))
            }
            Some(_) => {}
        }
    }
    for (name, _) in old.iter().filter(|(o, _)| !new.iter().any(|(n, _)| n == o)) {
        out.push(format!("class {name} removed"));
    }
    if out.is_empty() {
        out.push("classes changed".to_string());
    }
    out
}

/// What differs in the path figures of kernel routes: `policy PREFIX
/// added` / `removed` / `changed`, `settings.metric_is_delay_us (running
/// false, file true)`.
pub fn policy_changes(running: &Pipeline, file: &Pipeline) -> Vec<String> {
    let mut out = Vec::new();
    let find = |v: &[PolicySpec], p: &PolicySpec| v.iter().find(|q| q.prefix == p.prefix).cloned();
    for p in &file.policies {
        match find(&running.policies, p) {
            None => out.push(format!("policy {} added", p.prefix)),
            Some(q) if q != *p => out.push(format!("policy {} changed", p.prefix)),
            Some(_) => {}
        }
    }
    for q in running.policies.iter().filter(|q| find(&file.policies, q).is_none()) {
        out.push(format!("policy {} removed", q.prefix));
    }
    differ(&mut out, "settings.metric_is_delay_us", running.settings.metric_is_delay_us, file.settings.metric_is_delay_us);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[settings]
burst = 32

[[port]]
name = "a"
device = "net_null0"
peer_mac = "02:00:00:00:00:0a"

[[port]]
name = "b"
device = "net_null1"
peer_mac = "02:00:00:00:00:0b"

[[route]]
prefix = "10.1.0.0/16"
port = "a"

[[class]]
name = "voice"
dscp = [46]
budget_us = 500

[[policy]]
prefix = "10.0.0.0/8"
to_hops = 3
"#;

    fn parse(text: &str) -> Pipeline {
        Pipeline::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// BASE with `from` replaced by `to` (which must be there).
    fn with(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "{from}");
        BASE.replacen(from, to, 1)
    }

    #[test]
    fn restart_only_changes_are_named() {
        let base = parse(BASE);
        assert_eq!(needs_restart(&base, &base), Vec::<String>::new());
        let a = "peer_mac = \"02:00:00:00:00:0a\"";
        let b = "peer_mac = \"02:00:00:00:00:0b\"";
        for (from, to, want) in [
            ("burst = 32", "burst = 64", "settings.burst (running 32, file 64)"),
            ("burst = 32", "burst = 32\nmbufs = 4095", "settings.mbufs (running 0, file 4095)"),
            ("burst = 32", "burst = 32\nmbuf_cache = 128", "settings.mbuf_cache (running 256, file 128)"),
            ("burst = 32", "burst = 32\nverify_ipv4_checksum = false", "settings.verify_ipv4_checksum (running true, file false)"),
            ("burst = 32", "burst = 32\nidle_sleep_us = 5", "settings.idle_sleep_us (running 0, file 5)"),
            ("burst = 32", "burst = 32\nshutdown_drain_ms = 5", "settings.shutdown_drain_ms (running 1000, file 5)"),
            ("burst = 32", "burst = 32\nring_size = 256", "settings.ring_size (running 1024, file 256)"),
            ("burst = 32", "burst = 32\nicmp_errors_per_s = 5", "settings.icmp_errors_per_s (running 1000, file 5)"),
            ("burst = 32", "burst = 32\nicmp_burst = 5", "settings.icmp_burst (running 50, file 5)"),
            ("burst = 32", "burst = 32\n[lcores]\nworker = 1", "lcores.worker (running none, file 1)"),
            ("burst = 32", "burst = 32\n[lcores]\nrx = [1]\ntx = [2]", "lcores.rx (running [], file [1])"),
            ("burst = 32", "burst = 32\n[lcores]\nrx = [1]\ntx = [2]", "lcores.tx (running [], file [2])"),
            ("net_null0", "net_null7", "port[0].device (running \"net_null0\", file \"net_null7\")"),
            (a, "peer_mac = \"02:00:00:00:00:0c\"", "port[0].peer_mac (running 02:00:00:00:00:0a, file 02:00:00:00:00:0c)"),
            (b, &format!("{b}\nrx_desc = 512"), "port[1].rx_desc (running 1024, file 512)"),
            (b, &format!("{b}\ntx_desc = 512"), "port[1].tx_desc (running 1024, file 512)"),
            (b, &format!("{b}\nrx_queues = 2"), "port[1].rx_queues (running 1, file 2)"),
            (b, &format!("{b}\npromiscuous = false"), "port[1].promiscuous (running true, file false)"),
            (b, &format!("{b}\naddresses = [\"10.9.9.9\"]"), "port[1].addresses (running [], file [10.9.9.9/32])"),
            (b, &format!("{b}\nlink_delay_ns = 7"), "port[1].link_delay_ns (running 0, file 7)"),
            (b, &format!("{b}\nhost_interface = \"nip1\""), "port[1].host_interface (running none, file nip1)"),
            (b, &format!("{b}\npunt_rate_pps = 7"), "port[1].punt_rate_pps (running 10000, file 7)"),
            (b, &format!("{b}\npunt_burst = 7"), "port[1].punt_burst (running 1000, file 7)"),
            (b, &format!("{b}\nscheduler = \"fifo\""), "port[1].scheduler (running edf, file fifo)"),
            (b, &format!("{b}\nqueue_capacity = 64"), "port[1].queue_capacity (running 16384, file 64)"),
            (b, &format!("{b}\nbucket_ns = 2048"), "port[1].bucket_ns (running 1024, file 2048)"),
            (b, &format!("{b}\nhorizon_us = 32768"), "port[1].horizon_us"),
            (b, &format!("{b}\nrate_bps = 1000000"), "port[1].rate_bps (running 0, file 1000000)"),
            (b, &format!("{b}\nbest_effort_us = 5000"), "port[1].best_effort_us (running 10000, file 5000)"),
            (b, &format!("{b}\non_time_bound_us = [1, 2, 3, 4, 5, 6, 7, 8]"), "port[1].on_time_bound_us (running [1250, 2500, 3750, 5000, 6250, 7500, 8750, 10000], file [1, 2, 3, 4, 5, 6, 7, 8])"),
            (b, &format!("{b}\n\n[[port]]\nname = \"c\"\ndevice = \"net_null2\""), "port[2] added"),
        ] {
            let file = parse(&with(from, to));
            let got = needs_restart(&base, &file);
            assert!(got.iter().any(|g| g == want), "{from} -> {to}: want {want}, got {got:?}");
            // And the other way round.
            assert!(!needs_restart(&file, &base).is_empty(), "{from} -> {to}: back");
        }
        // A port renamed (its route follows).
        let renamed = parse(&BASE.replace("\"a\"", "\"x\""));
        assert_eq!(needs_restart(&base, &renamed), ["port[0].name (running \"a\", file \"x\")"]);
        // Shaping and wash together: the wash threshold is named on its own.
        let shaped = parse(&with(b, &format!("{b}\nrate_bps = 8000000")));
        let washed = parse(&with(b, &format!("{b}\nrate_bps = 8000000\nwash_threshold_us = 500")));
        assert_eq!(needs_restart(&shaped, &washed), ["port[1].wash_threshold_us"]);
        // A port removed.
        let one = parse(&BASE.replace(&format!("[[port]]\nname = \"b\"\ndevice = \"net_null1\"\n{b}\n"), ""));
        assert_eq!(needs_restart(&base, &one), ["port[1] removed"]);
        // Several at once, all of them named, in file order.
        let both = parse(&with("burst = 32", "burst = 16").replace("net_null1", "net_null9"));
        assert_eq!(needs_restart(&base, &both), ["settings.burst (running 32, file 16)", "port[1].device (running \"net_null1\", file \"net_null9\")"]);
    }

    #[test]
    fn live_changes_need_no_restart_and_are_summed_up() {
        let base = parse(BASE);
        let route = parse(&with("port = \"a\"", "port = \"a\"\n\n[[route]]\nprefix = \"10.2.0.0/16\"\nport = \"b\""));
        let class = parse(&with("dscp = [46]", "dscp = [46, 34]"));
        let class_added = parse(&format!("{BASE}\n[[class]]\nname = \"bulk\"\nprotocol = \"tcp\"\n"));
        let policy = parse(&with("to_hops = 3", "to_hops = 4\nto_delay_ns = 100"));
        let policy_added = parse(&format!("{BASE}\n[[policy]]\nprefix = \"2001:db8::/32\"\n"));
        let metric = parse(&with("burst = 32", "burst = 32\nmetric_is_delay_us = true"));
        for p in [&route, &class, &class_added, &policy, &policy_added, &metric] {
            assert_eq!(needs_restart(&base, p), Vec::<String>::new());
        }
        assert_eq!(class_changes(&base.classes, &base.classes), Vec::<String>::new());
        assert_eq!(class_changes(&base.classes, &class.classes), ["class voice changed"]);
        assert_eq!(class_changes(&base.classes, &class_added.classes), ["class bulk added"]);
        assert_eq!(class_changes(&class_added.classes, &base.classes), ["class bulk removed"]);
        let budget = parse(&with("budget_us = 500", "budget_us = 600"));
        assert_eq!(class_changes(&base.classes, &budget.classes), ["class voice changed"]);
        // The order is the match order: a class moved is a class changed.
        let reordered = parse(&BASE.replace("[[class]]\nname = \"voice\"", "[[class]]\nname = \"bulk\"\nprotocol = \"tcp\"\n\n[[class]]\nname = \"voice\""));
        assert_eq!(class_changes(&class_added.classes, &reordered.classes), ["class bulk changed", "class voice changed"]);
        assert_eq!(policy_changes(&base, &base), Vec::<String>::new());
        assert_eq!(policy_changes(&base, &policy), ["policy 10.0.0.0/8 changed"]);
        assert_eq!(policy_changes(&base, &policy_added), ["policy 2001:db8::/32 added"]);
        assert_eq!(policy_changes(&policy_added, &base), ["policy 2001:db8::/32 removed"]);
        assert_eq!(policy_changes(&base, &metric), ["settings.metric_is_delay_us (running false, file true)"]);
    }

    /// A reloader over a temporary file holding `text`, with a router and
    /// RIB that hold its routes and classes.
    fn reloader(name: &str, text: &str, overrides: &[&str]) -> Reloader {
        let dir = std::env::temp_dir().join(format!("newipd-reload-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pipeline.toml");
        std::fs::write(&path, text).unwrap();
        let source = Source { path, overrides: overrides.iter().map(|s| s.to_string()).collect() };
        let running = Pipeline::load_with(&source.path, &source.overrides).unwrap();
        let router = Arc::new(Router::new(&[], &[], vec![], true).with_classes(running.classes.clone()));
        let mut rib = Rib::new(Arc::clone(&router), vec![None; running.ports.len()], &[], &[], running.policies.clone(), false);
        rib.set_statics(&running.routes);
        Reloader { source, running, rib: Arc::new(Mutex::new(rib)), router }
    }

    /// The port the FIB sends `addr` out of.
    fn port_of(r: &Reloader, addr: u32) -> Option<u16> {
        let fib = r.router.fib();
        fib.v4.lookup(addr).and_then(|nh| fib.next_hops.get(nh).ok()).map(|nh| nh.port)
    }

    fn rewrite(r: &Reloader, text: &str) {
        std::fs::write(&r.source.path, text).unwrap();
    }

    #[test]
    fn sighup_applies_routes_and_classes_live() {
        let mut r = reloader("live", BASE, &[]);
        let path = r.source.path.display().to_string();
        assert_eq!((port_of(&r, 0x0a01_0001), port_of(&r, 0x0a02_0001)), (Some(0), None));
        assert_eq!(r.sighup(), [format!("newipd: SIGHUP: reloaded {path}: no change")]);
        // Route B added, the voice class changed, a policy changed.
        let text = with("port = \"a\"", "port = \"a\"\n\n[[route]]\nprefix = \"10.2.0.0/16\"\nport = \"b\"")
            .replace("dscp = [46]", "dscp = [34]")
            .replace("to_hops = 3", "to_hops = 2");
        rewrite(&r, &text);
        assert_eq!(r.sighup(), [format!("newipd: SIGHUP: reloaded {path}: route 10.2.0.0/16 added, class voice changed, policy 10.0.0.0/8 changed")]);
        assert_eq!((port_of(&r, 0x0a01_0001), port_of(&r, 0x0a02_0001)), (Some(0), Some(1)));
        let k = |dscp| class::Key { v6: false, dscp, proto: 17, ports: None };
        assert_eq!((r.router.classes().lookup(&k(34)), r.router.classes().lookup(&k(46))), (2, class::BEST_EFFORT));
        assert_eq!(r.running.routes.len(), 2);
        assert_eq!(r.running.policies[0].to_hops, 2);
        // Route A removed, B moved to port a, the class removed.
        let text = BASE.replace("10.1.0.0/16", "10.2.0.0/16").replace("[[class]]\nname = \"voice\"\ndscp = [46]\nbudget_us = 500\n", "");
        rewrite(&r, &text);
        assert_eq!(r.sighup(), [format!("newipd: SIGHUP: reloaded {path}: route 10.1.0.0/16 removed, route 10.2.0.0/16 changed, class voice removed, policy 10.0.0.0/8 changed")]);
        assert_eq!((port_of(&r, 0x0a01_0001), port_of(&r, 0x0a02_0001)), (None, Some(0)));
        assert!(r.router.classes().is_empty());
        assert_eq!(r.sighup(), [format!("newipd: SIGHUP: reloaded {path}: no change")]);
    }

    #[test]
    fn sighup_changes_nothing_on_a_bad_file_or_a_restart_only_change() {
        let mut r = reloader("refused", BASE, &[]);
        let path = r.source.path.display().to_string();
        let classes = r.router.classes();
        let unchanged = |r: &Reloader| {
            assert_eq!((port_of(r, 0x0a01_0001), port_of(r, 0x0a02_0001)), (Some(0), None));
            assert_eq!(*r.router.classes(), *classes);
            assert_eq!(r.running.routes.len(), 1);
            assert_eq!(r.running.settings.burst, 32);
        };
        let add_b = "port = \"a\"\n\n[[route]]\nprefix = \"10.2.0.0/16\"\nport = \"b\"";
        // A TOML syntax error, with the live change beside it.
        rewrite(&r, &with("port = \"a\"", add_b).replace("dscp = [46]", "dscp = [46"));
        let lines = r.sighup();
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\n'), "one line: {lines:?}");
        assert!(lines[0].starts_with(&format!("newipd: SIGHUP: {path}: line ")), "{lines:?}");
        assert!(lines[0].ends_with("; nothing changed, the running configuration stays"), "{lines:?}");
        unchanged(&r);
        // A validation error: a route to a port that does not exist.
        rewrite(&r, &with("port = \"a\"", &add_b.replace("port = \"b\"", "port = \"c\"")));
        assert_eq!(
            r.sighup(),
            [format!("newipd: SIGHUP: {path}: route[1].port: no port named 'c' (ports are: a, b); nothing changed, the running configuration stays")]
        );
        unchanged(&r);
        // A file that is gone.
        std::fs::remove_file(&r.source.path).unwrap();
        let lines = r.sighup();
        assert!(lines[0].contains("cannot read") && lines[0].ends_with("nothing changed, the running configuration stays"), "{lines:?}");
        unchanged(&r);
        // Restart-only changes beside a live one: refused, by name, whole.
        rewrite(&r, &with("port = \"a\"", add_b).replace("burst = 32", "burst = 64").replace("peer_mac = \"02:00:00:00:00:0b\"", "peer_mac = \"02:00:00:00:00:0b\"\nrx_desc = 512"));
        assert_eq!(
            r.sighup(),
            ["newipd: SIGHUP: not applied: settings.burst (running 32, file 64), port[1].rx_desc (running 1024, file 512) need a restart; nothing changed"]
        );
        unchanged(&r);
        // Put back: applies.
        rewrite(&r, &with("port = \"a\"", add_b));
        assert_eq!(r.sighup(), [format!("newipd: SIGHUP: reloaded {path}: route 10.2.0.0/16 added")]);
        assert_eq!(port_of(&r, 0x0a02_0001), Some(1));
    }

    #[test]
    fn sighup_applies_the_port_overrides_again() {
        // The file names other devices than the command line: not a change.
        let mut r = reloader("overrides", BASE, &["a=net_null5", "b=net_null6"]);
        assert_eq!(r.running.ports[0].device, "net_null5");
        assert!(r.sighup()[0].ends_with(": no change"));
        // A device changed in the file is overridden all the same.
        rewrite(&r, &BASE.replace("net_null0", "net_null3"));
        assert!(r.sighup()[0].ends_with(": no change"));
        // A policy change and the metric setting: applied to the RIB.
        rewrite(&r, &with("burst = 32", "burst = 32\nmetric_is_delay_us = true"));
        assert!(r.sighup()[0].ends_with(": settings.metric_is_delay_us (running false, file true)"));
        assert!(r.running.settings.metric_is_delay_us);
    }
}
