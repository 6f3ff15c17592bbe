//! Pipeline files (TOML): ports, lcore plan, routes, traffic classes,
//! settings. Parsing is strict (unknown keys are errors) and validation
//! names the field at fault.

use newipd_core::class::{self, ClassAction, Classes, Family, Rule};
use newipd_core::fib::Prefix;
use newipd_core::wire::ether::{mac_to_string, parse_mac};
use newipd_core::kinds::MAX_PORTS;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// A configuration error: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {msg}")]
pub struct ConfigError {
    pub field: String,
    pub msg: String,
}

fn err<T>(field: impl Into<String>, msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError { field: field.into(), msg: msg.into() })
}

/// The file as written.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub lcores: Lcores,
    #[serde(default, rename = "port")]
    pub ports: Vec<PortFile>,
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteFile>,
    #[serde(default, rename = "class")]
    pub classes: Vec<ClassFile>,
    #[serde(default, rename = "policy")]
    pub policies: Vec<PolicyFile>,
}

/// `[settings]`: data-path knobs, all optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Packets per rx_burst (1..=64).
    pub burst: usize,
    /// mbufs in the pool; 0 sizes it from ports, descriptors and lcores.
    pub mbufs: u32,
    /// Per-lcore mempool cache.
    pub mbuf_cache: u32,
    /// Verify the IPv4 header checksum of every packet (RFC 1812).
    pub verify_ipv4_checksum: bool,
    /// Sleep this many µs after a poll round that found no packet (0 = pure polling).
    pub idle_sleep_us: u64,
    /// On stop, keep sending queued packets for at most this long, then drop
    /// the rest as `shutdown-drained`.
    pub shutdown_drain_ms: u64,
    /// Slots of each ring between an RX lcore and an egress lcore (pipelined
    /// mode; a power of two, 64..=65536).
    pub ring_size: usize,
    /// ICMP errors (time exceeded, destination unreachable) each packet
    /// lcore may send a second (0: none), and in one burst.
    pub icmp_errors_per_s: u64,
    pub icmp_burst: u64,
    /// Routes learned from the kernel: read the route's metric as the
    /// predicted delay to the destination in µs (`to_delay_ns` = metric ×
    /// 1000), for IGPs whose link costs are delays. A `[[policy]]` that
    /// gives `to_delay_ns` wins over it.
    pub metric_is_delay_us: bool,
    /// Back the FIB's tables with memory at start (both first levels and
    /// the group pools: about 710 MiB), so that a full table goes in
    /// without the OS zeroing pages in the middle of the burst. Off: pages
    /// are backed as routes first write them (a few for a small table).
    pub fib_memory_at_start: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            burst: 32,
            mbufs: 0,
            mbuf_cache: 256,
            verify_ipv4_checksum: true,
            idle_sleep_us: 0,
            shutdown_drain_ms: 1000,
            ring_size: 1024,
            icmp_errors_per_s: 1000,
            icmp_burst: 50,
            metric_is_delay_us: false,
            fib_memory_at_start: false,
        }
    }
}

/// `[lcores]`: which EAL lcores do what. Either `worker` (one lcore runs
/// everything: run to completion, the default) or `rx` and `tx` (pipelined:
/// RX lcores parse and classify and hand packets over rings to the TX lcore
/// that owns each egress port's deadline queue and TX queue).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Lcores {
    /// EAL lcore id of the worker; default: the first worker lcore, or the main lcore if -l gives only one.
    pub worker: Option<u32>,
    /// Pipelined: RX lcores; the RX queues of all ports are spread over them in turn.
    #[serde(default)]
    pub rx: Vec<u32>,
    /// Pipelined: egress lcores; the ports are spread over them in turn (each port has one owner).
    #[serde(default)]
    pub tx: Vec<u32>,
}

impl Lcores {
    /// RX and TX roles on separate lcores.
    pub fn pipelined(&self) -> bool {
        !self.rx.is_empty()
    }
}

/// `[[port]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortFile {
    pub name: String,
    /// A PCI address (`0000:03:00.0`) or vdev devargs (`net_pcap0,rx_pcap=in.pcap`).
    pub device: String,
    /// Default next-hop MAC for routes out of this port.
    pub peer_mac: Option<String>,
    #[serde(default = "default_desc")]
    pub rx_desc: u16,
    /// RX queues (1..=16); with more than one the port spreads flows over
    /// them by RSS, if the device can (else newipd uses what it offers).
    #[serde(default = "default_rx_queues")]
    pub rx_queues: u16,
    #[serde(default = "default_desc")]
    pub tx_desc: u16,
    #[serde(default = "default_true")]
    pub promiscuous: bool,
    /// newipd's own addresses on this port: New IP addresses of every type
    /// (a New IP ping to one is answered), and the port's IPv4 and IPv6
    /// address, the source of the ICMP errors it sends:
    /// `10.0.0.1`, `2001:db8::1`, `8bit:3`, `16bit:0x0102`, `flex:0a0001`.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Propagation delay of the link leaving this port, added to precise-LBF experienced time.
    #[serde(default)]
    pub link_delay_ns: u32,
    /// Egress queue discipline: "edf" (earliest deadline first, default) or "fifo".
    #[serde(default)]
    pub scheduler: newipd_core::sched::port::Discipline,
    /// Egress link rate in bits/s (20 bytes of preamble and gap and the FCS
    /// counted per frame); 0 = as fast as the device takes packets.
    #[serde(default)]
    pub rate_bps: u64,
    /// Packets the egress queue may hold.
    #[serde(default = "default_queue")]
    pub queue_capacity: usize,
    /// Deadline queue bucket width in ns (rounded down to a power of two).
    #[serde(default = "default_bucket_ns")]
    pub bucket_ns: u64,
    /// Span of the deadline queue in µs; later deadlines share its last bucket.
    #[serde(default = "default_horizon_us")]
    pub horizon_us: u64,
    /// Per-hop deadline given to best-effort packets, in µs (below the horizon).
    #[serde(default = "default_best_effort_us")]
    pub best_effort_us: u64,
    /// On-time (0x8002) queueing bound per prio 0..7 in µs; default: prio p
    /// gets (p + 1) / 8 of best_effort_us.
    pub on_time_bound_us: Option<Vec<u64>>,
    /// Packet wash: wash arriving packets when the queued bytes take longer
    /// than this to send at rate_bps; 0 = no wash (needs rate_bps).
    #[serde(default)]
    pub wash_threshold_us: u64,
    /// The kernel interface (a TAP newipd creates, with the port's MAC and
    /// MTU) that stands for this port: the kernel answers ARP / ND and
    /// takes packets for newipd's own addresses on it, and its routes,
    /// addresses and neighbours drive newipd's tables.
    pub host_interface: Option<String>,
    /// Packets a second this port may hand to its host interface (the
    /// rest is counted `punt-policed`), and in one burst.
    #[serde(default = "default_punt_rate")]
    pub punt_rate_pps: u64,
    #[serde(default = "default_punt_burst")]
    pub punt_burst: u64,
    /// IP bytes a frame out of this port may carry (68..=9000; default
    /// 1500; above 1500 the mbufs grow to hold such frames whole). Longer IPv4 packets are fragmented, or answered with
    /// fragmentation needed when they carry DF; longer IPv6 ones with
    /// packet too big. The host interface gets the same MTU.
    #[serde(default = "default_mtu")]
    pub mtu: u16,
}

fn default_mtu() -> u16 {
    1500
}

/// `[[policy]]`: path figures for routes learned from the kernel, by the
/// longest policy prefix that contains the route's prefix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// `10.0.0.0/8`, `2001:db8::/32`, `0.0.0.0/0`.
    pub prefix: String,
    /// Routers left to the destination, this one included (>= 1).
    #[serde(default = "default_hops")]
    pub to_hops: u16,
    /// Predicted latency to the destination, excluding queueing; absent:
    /// from the route's metric (`settings.metric_is_delay_us`) or 0.
    pub to_delay_ns: Option<u32>,
}

fn default_punt_rate() -> u64 {
    10_000
}

fn default_punt_burst() -> u64 {
    1000
}

/// `[[class]]`: a traffic class of legacy (IPv4 / IPv6 without a contract)
/// traffic. Every match field given must match; the first class that
/// matches wins; unmatched traffic is best effort.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassFile {
    pub name: String,
    /// DSCP values (0..63); any if absent.
    pub dscp: Option<Vec<u8>>,
    /// "ipv4" or "ipv6"; both if absent.
    #[serde(default)]
    pub family: Family,
    /// L4 protocol: "tcp", "udp", "sctp", "udplite", "icmp", "icmpv6" or a number.
    pub protocol: Option<Protocol>,
    /// Source port or "lo-hi" range (TCP, UDP, SCTP, UDP-Lite).
    pub src_port: Option<PortRange>,
    /// Destination port or "lo-hi" range.
    pub dst_port: Option<PortRange>,
    /// Per-hop deadline from arrival, µs; absent: best effort.
    pub budget_us: Option<u64>,
    /// Demote a late packet to best effort instead of dropping it (`class-late`).
    #[serde(default)]
    pub late_ok: bool,
}

/// An L4 protocol by name or number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Protocol {
    Number(u8),
    Name(String),
}

/// A port or an inclusive "lo-hi" range.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortRange {
    One(u16),
    Range(String),
}

fn default_rx_queues() -> u16 {
    1
}

fn default_queue() -> usize {
    16384
}

fn default_bucket_ns() -> u64 {
    1024
}

fn default_horizon_us() -> u64 {
    16384
}

fn default_best_effort_us() -> u64 {
    10000
}

fn default_desc() -> u16 {
    1024
}

fn default_true() -> bool {
    true
}

/// `[[route]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    /// `10.0.0.0/8`, `2001:db8::/32`, `8bit:5`, `16bit:0x1234`, `flex:0a02/12`.
    pub prefix: String,
    pub port: String,
    pub next_hop_mac: Option<String>,
    /// Routers left to the destination, this one included (>= 1).
    #[serde(default = "default_hops")]
    pub to_hops: u16,
    /// Predicted latency to the destination, excluding queueing.
    #[serde(default)]
    pub to_delay_ns: u32,
}

fn default_hops() -> u16 {
    1
}

/// How a device reaches the EAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// `--vdev DEVARGS`; the port name is the part before the first comma.
    Vdev,
    /// A PCI address, allowed with `-a`.
    Pci,
}

/// A validated port.
#[derive(Debug, Clone)]
pub struct PortSpec {
    pub name: String,
    pub device: String,
    pub kind: DeviceKind,
    /// The DPDK device name to look the port up by.
    pub dev_name: String,
    pub peer_mac: Option<[u8; 6]>,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub rx_queues: u16,
    pub promiscuous: bool,
    pub addresses: Vec<Prefix>,
    pub link_delay_ns: u32,
    pub sched: newipd_core::sched::port::SchedConfig,
    /// The host interface's name, if the port has one.
    pub host_interface: Option<String>,
    pub punt_rate_pps: u64,
    pub punt_burst: u64,
    pub mtu: u16,
}

/// A validated `[[policy]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    pub prefix: Prefix,
    pub to_hops: u16,
    pub to_delay_ns: Option<u32>,
}

/// A validated route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub prefix: Prefix,
    /// Index into [`Pipeline::ports`].
    pub port: usize,
    pub next_hop_mac: [u8; 6],
    pub to_hops: u16,
    pub to_delay_ns: u32,
}

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub settings: Settings,
    pub lcores: Lcores,
    pub ports: Vec<PortSpec>,
    pub routes: Vec<RouteSpec>,
    /// Traffic classes of legacy traffic (numbering in [`newipd_core::class`]).
    pub classes: Classes,
    /// Path figures for kernel routes, most specific prefix first.
    pub policies: Vec<PolicySpec>,
}

fn is_pci(s: &str) -> bool {
    // [dddd:]bb:dd.f in hex
    let parts: Vec<&str> = s.split(':').collect();
    let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    let (dom, bus, devfn) = match parts.as_slice() {
        [d, b, df] => (Some(*d), *b, *df),
        [b, df] => (None, *b, *df),
        _ => return false,
    };
    let Some((dev, func)) = devfn.split_once('.') else { return false };
    dom.map_or(true, |d| hex(d, 4)) && hex(bus, 2) && hex(dev, 2) && func.len() == 1 && func.chars().all(|c| ('0'..='7').contains(&c))
}

impl Pipeline {
    /// Read, parse and validate a pipeline file.
    pub fn load(path: &Path) -> Result<Pipeline, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError { field: path.display().to_string(), msg: format!("cannot read: {e}") })?;
        Self::parse(&text)
    }

    /// Read a pipeline file, replace devices as `NAME=DEVICE` overrides say
    /// (`--port`), validate. Errors start with the file's path.
    pub fn load_with(path: &Path, overrides: &[String]) -> Result<Pipeline, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut f: PipelineFile = toml::from_str(&text).map_err(|e| {
            // Let the validator format it (line and column, field).
            match Pipeline::parse(&text) {
                Err(ce) => format!("{}: {ce}", path.display()),
                Ok(_) => format!("{}: {e}", path.display()),
            }
        })?;
        for o in overrides {
            Pipeline::override_device(&mut f, o).map_err(|e| e.to_string())?;
        }
        Pipeline::validate(f).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parse and validate pipeline TOML.
    pub fn parse(text: &str) -> Result<Pipeline, ConfigError> {
        let f: PipelineFile = toml::from_str(text).map_err(|e| ConfigError {
            field: e.span().map(|s| line_col(text, s.start)).unwrap_or_else(|| "file".into()),
            msg: e.message().to_string(),
        })?;
        Self::validate(f)
    }

    /// Replace a port's device (`NAME=DEVICE` on the command line).
    pub fn override_device(f: &mut PipelineFile, spec: &str) -> Result<(), ConfigError> {
        let Some((name, dev)) = spec.split_once('=') else {
            return err("--port", format!("'{spec}' is not NAME=DEVICE"));
        };
        match f.ports.iter_mut().find(|p| p.name == name) {
            Some(p) => {
                p.device = dev.to_string();
                Ok(())
            }
            None => err("--port", format!("no port named '{name}' in the pipeline")),
        }
    }

    /// Validate a parsed file.
    pub fn validate(f: PipelineFile) -> Result<Pipeline, ConfigError> {
        let s = &f.settings;
        if s.burst == 0 || s.burst > newipd_core::kinds::MAX_BURST {
            return err("settings.burst", format!("{} is outside 1..={}", s.burst, newipd_core::kinds::MAX_BURST));
        }
        if s.mbufs != 0 && s.mbufs < 512 {
            return err("settings.mbufs", format!("{} is too small: use 0 (automatic) or at least 512", s.mbufs));
        }
        if s.mbuf_cache > 512 {
            return err("settings.mbuf_cache", format!("{} is above DPDK's limit of 512", s.mbuf_cache));
        }
        if !s.ring_size.is_power_of_two() || !(64..=65536).contains(&s.ring_size) {
            return err("settings.ring_size", format!("{} must be a power of two in 64..=65536", s.ring_size));
        }
        if s.idle_sleep_us > 1_000_000 {
            return err("settings.idle_sleep_us", format!("{} is above 1000000 (one second)", s.idle_sleep_us));
        }
        if s.icmp_errors_per_s > 10_000_000 {
            return err("settings.icmp_errors_per_s", format!("{} is above 10000000 a second", s.icmp_errors_per_s));
        }
        if s.icmp_burst == 0 || s.icmp_burst > 1_000_000 {
            return err("settings.icmp_burst", format!("{} is not in 1..=1000000", s.icmp_burst));
        }
        if s.shutdown_drain_ms > 3_600_000 {
            return err("settings.shutdown_drain_ms", format!("{} is above 3600000 (one hour)", s.shutdown_drain_ms));
        }
        validate_lcores(&f.lcores)?;
        if f.ports.is_empty() {
            return err("port", "the pipeline has no [[port]]");
        }
        if f.ports.len() > MAX_PORTS {
            return err("port", format!("{} ports; at most {MAX_PORTS} are supported", f.ports.len()));
        }
        let mut ports = Vec::new();
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        let mut by_dev: HashMap<String, usize> = HashMap::new();
        let mut own: Vec<(usize, Prefix)> = Vec::new();
        for (i, p) in f.ports.iter().enumerate() {
            let at = |k: &str| format!("port[{i}].{k}");
            if p.name.is_empty() || !p.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return err(at("name"), format!("'{}' must be non-empty letters, digits, '-' or '_'", p.name));
            }
            if let Some(j) = by_name.insert(&p.name, i) {
                return err(at("name"), format!("'{}' is already the name of port[{j}]", p.name));
            }
            let device = p.device.trim().to_string();
            if device.is_empty() {
                return err(at("device"), "empty; give a PCI address or vdev devargs such as net_tap0,iface=nip0");
            }
            let (kind, dev_name) = if is_pci(&device) {
                let full = if device.matches(':').count() == 1 { format!("0000:{device}") } else { device.clone() };
                (DeviceKind::Pci, full.to_lowercase())
            } else if device.starts_with("net_") || device.starts_with("eth_") {
                (DeviceKind::Vdev, device.split(',').next().unwrap_or("").to_string())
            } else {
                return err(
                    at("device"),
                    format!("'{device}' is neither a PCI address (0000:03:00.0) nor vdev devargs (net_pcap0,rx_pcap=in.pcap)"),
                );
            };
            if let Some(j) = by_dev.insert(dev_name.clone(), i) {
                return err(at("device"), format!("device '{dev_name}' is already used by port[{j}]"));
            }
            let peer_mac = match &p.peer_mac {
                None => None,
                Some(m) => Some(parse_mac(m).ok_or_else(|| ConfigError {
                    field: at("peer_mac"),
                    msg: format!("'{m}' is not a MAC address like 02:00:00:00:00:01"),
                })?),
            };
            for (k, v) in [("rx_desc", p.rx_desc), ("tx_desc", p.tx_desc)] {
                if !(32..=16384).contains(&v) {
                    return err(at(k), format!("{v} is outside 32..=16384"));
                }
            }
            if !(1..=16).contains(&p.rx_queues) {
                return err(at("rx_queues"), format!("{} is outside 1..=16", p.rx_queues));
            }
            let mut addresses = Vec::new();
            for (j, a) in p.addresses.iter().enumerate() {
                let field = at(&format!("addresses[{j}]"));
                let pfx = Prefix::parse(a).map_err(|e| ConfigError { field: field.clone(), msg: e.to_string() })?;
                if !pfx.is_host() || a.contains('/') {
                    return err(field, format!("'{a}' is a prefix; give one address (e.g. 10.0.0.1, 8bit:3, flex:0a0001)"));
                }
                if let Some((k, _)) = own.iter().find(|(_, q)| *q == pfx) {
                    return err(field, format!("'{a}' is already an address of port[{k}]"));
                }
                own.push((i, pfx));
                addresses.push(pfx);
            }
            if !(64..=1 << 20).contains(&p.queue_capacity) {
                return err(at("queue_capacity"), format!("{} is outside 64..=1048576", p.queue_capacity));
            }
            if !(1..=1 << 30).contains(&p.bucket_ns) {
                return err(at("bucket_ns"), format!("{} is outside 1..=2^30 ns", p.bucket_ns));
            }
            let shift = 63 - p.bucket_ns.leading_zeros();
            let buckets = (p.horizon_us.saturating_mul(1000) >> shift).max(1).next_power_of_two();
            if !(64..=newipd_core::sched::bitmap::MAX_SLOTS as u64).contains(&buckets) {
                return err(
                    at("horizon_us"),
                    format!("{} µs makes {buckets} buckets of {} ns; keep it between 64 and 262144 buckets", p.horizon_us, 1u64 << shift),
                );
            }
            if p.best_effort_us == 0 || p.best_effort_us >= p.horizon_us {
                return err(at("best_effort_us"), format!("{} must be above 0 and below horizon_us ({})", p.best_effort_us, p.horizon_us));
            }
            let on_time_bound_ns = match &p.on_time_bound_us {
                None => newipd_core::contract::on_time::default_bounds_ns(p.best_effort_us * 1000),
                Some(v) => {
                    let Ok(a) = <[u64; 8]>::try_from(v.as_slice()) else {
                        return err(at("on_time_bound_us"), format!("{} values; give 8, one per prio 0..7", v.len()));
                    };
                    if let Some(b) = a.iter().find(|&&b| b == 0 || b >= p.horizon_us) {
                        return err(at("on_time_bound_us"), format!("{b} must be above 0 and below horizon_us ({})", p.horizon_us));
                    }
                    a.map(|b| b * 1000)
                }
            };
            if p.wash_threshold_us != 0 && p.rate_bps == 0 {
                return err(at("wash_threshold_us"), "packet wash needs a shaped port: set rate_bps");
            }
            let sched = newipd_core::sched::port::SchedConfig {
                discipline: p.scheduler,
                capacity: p.queue_capacity,
                bucket_shift: shift,
                buckets: buckets as usize,
                rate_bps: p.rate_bps,
                best_effort_ns: p.best_effort_us * 1000,
                on_time_bound_ns,
                wash_bytes: newipd_core::sched::wash::budget_bytes(p.rate_bps, p.wash_threshold_us),
            };
            let host_interface = match &p.host_interface {
                None => None,
                Some(n) => {
                    if n.is_empty() || n.len() > 15 || !n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                        return err(at("host_interface"), format!("'{n}' is not a Linux interface name (1 to 15 letters, digits, '-', '_' or '.')"));
                    }
                    if let Some(j) = ports.iter().position(|q: &PortSpec| q.host_interface.as_deref() == Some(n.as_str())) {
                        return err(at("host_interface"), format!("'{n}' is already the host interface of port[{j}]"));
                    }
                    Some(n.clone())
                }
            };
            if p.punt_rate_pps > 10_000_000 {
                return err(at("punt_rate_pps"), format!("{} is above 10000000 a second", p.punt_rate_pps));
            }
            if p.mtu > 9000 {
                return err(at("mtu"), format!("{} is above 9000 (jumbo frames up to 9000 bytes)", p.mtu));
            }
            if p.mtu < 68 {
                return err(at("mtu"), format!("{} is below IPv4's minimum of 68", p.mtu));
            }
            if p.punt_burst == 0 || p.punt_burst > 1_000_000 {
                return err(at("punt_burst"), format!("{} is not in 1..=1000000", p.punt_burst));
            }
            ports.push(PortSpec {
                name: p.name.clone(),
                device,
                kind,
                dev_name,
                peer_mac,
                rx_desc: p.rx_desc,
                tx_desc: p.tx_desc,
                rx_queues: p.rx_queues,
                promiscuous: p.promiscuous,
                addresses,
                link_delay_ns: p.link_delay_ns,
                sched,
                host_interface,
                punt_rate_pps: p.punt_rate_pps,
                punt_burst: p.punt_burst,
                mtu: p.mtu,
            });
        }
        let mut routes = Vec::new();
        let mut seen: HashMap<Prefix, usize> = HashMap::new();
        for (i, r) in f.routes.iter().enumerate() {
            let at = |k: &str| format!("route[{i}].{k}");
            let prefix = Prefix::parse(&r.prefix).map_err(|e| ConfigError { field: at("prefix"), msg: e.to_string() })?;
            if let Some(j) = seen.insert(prefix, i) {
                return err(at("prefix"), format!("duplicate route {prefix} (already route[{j}])"));
            }
            let Some(&port) = by_name.get(r.port.as_str()) else {
                let names: Vec<&str> = f.ports.iter().map(|p| p.name.as_str()).collect();
                return err(at("port"), format!("no port named '{}' (ports are: {})", r.port, names.join(", ")));
            };
            let next_hop_mac = match (&r.next_hop_mac, ports[port].peer_mac) {
                (Some(m), _) => parse_mac(m).ok_or_else(|| ConfigError {
                    field: at("next_hop_mac"),
                    msg: format!("'{m}' is not a MAC address like 02:00:00:00:00:01"),
                })?,
                (None, Some(m)) => m,
                (None, None) => {
                    return err(
                        at("next_hop_mac"),
                        format!("missing, and port '{}' has no peer_mac to default to", r.port),
                    )
                }
            };
            if r.to_hops == 0 {
                return err(at("to_hops"), "must be at least 1 (this router counts)");
            }
            routes.push(RouteSpec { prefix, port, next_hop_mac, to_hops: r.to_hops, to_delay_ns: r.to_delay_ns });
        }
        let classes = validate_classes(&f.classes)?;
        let mut policies: Vec<PolicySpec> = Vec::new();
        for (i, p) in f.policies.iter().enumerate() {
            let at = |k: &str| format!("policy[{i}].{k}");
            let prefix = Prefix::parse(&p.prefix).map_err(|e| ConfigError { field: at("prefix"), msg: e.to_string() })?;
            if !matches!(prefix, Prefix::V4 { .. } | Prefix::V6 { .. }) {
                return err(at("prefix"), format!("{prefix}: policies apply to kernel routes, which are IPv4 or IPv6"));
            }
            if let Some(j) = policies.iter().position(|q| q.prefix == prefix) {
                return err(at("prefix"), format!("duplicate policy {prefix} (already policy[{j}])"));
            }
            if p.to_hops == 0 {
                return err(at("to_hops"), "must be at least 1 (this router counts)");
            }
            policies.push(PolicySpec { prefix, to_hops: p.to_hops, to_delay_ns: p.to_delay_ns });
        }
        // Most specific first: the first that contains a route is its policy.
        policies.sort_by_key(|p| std::cmp::Reverse(p.prefix.len()));
        Ok(Pipeline { settings: f.settings, lcores: f.lcores, ports, routes, classes, policies })
    }

    /// A short human summary (for `newipd check`).
    pub fn summary(&self) -> String {
        let mut s = format!("{} port(s), {} route(s)\n", self.ports.len(), self.routes.len());
        for p in &self.ports {
            let host = p.host_interface.as_ref().map(|h| format!(", host interface {h}")).unwrap_or_default();
            s += &format!("  port {:<10} {:?} {}{host}\n", p.name, p.kind, p.device);
        }
        for r in &self.routes {
            s += &format!("  route {:<24} -> {} via {}\n", r.prefix.to_string(), self.ports[r.port].name, mac_to_string(&r.next_hop_mac));
        }
        for n in class::FIRST_CONFIGURED as usize..self.classes.len() {
            let a = self.classes.action(n as u8);
            let what = if a.budget_ns == 0 { "best effort".to_string() } else { format!("{} µs per hop", a.budget_ns / 1000) };
            s += &format!("  class {n} {:<16} {what}{}\n", self.classes.name(n as u8), if a.late_ok { ", late_ok" } else { "" });
        }
        s
    }
}

/// Check the `[[class]]` entries and compile them.
fn validate_classes(files: &[ClassFile]) -> Result<Classes, ConfigError> {
    if files.len() > class::MAX_CONFIGURED {
        return err("class", format!("{} classes; at most {} are supported", files.len(), class::MAX_CONFIGURED));
    }
    let mut entries: Vec<(String, Rule, ClassAction)> = Vec::new();
    for (i, c) in files.iter().enumerate() {
        let at = |k: &str| format!("class[{i}].{k}");
        if c.name.is_empty() || !c.name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
            return err(at("name"), format!("'{}' must be non-empty letters, digits, '-' or '_'", c.name));
        }
        if class::BUILTIN_NAMES.contains(&c.name.as_str()) {
            return err(at("name"), format!("'{}' is the name of a built-in class", c.name));
        }
        if let Some(j) = entries.iter().position(|e| e.0 == c.name) {
            return err(at("name"), format!("'{}' is already the name of class[{j}]", c.name));
        }
        let mut rule = Rule { family: c.family, ..Rule::ANY };
        if let Some(v) = &c.dscp {
            if v.is_empty() {
                return err(at("dscp"), "empty list; leave it out to match any DSCP");
            }
            if let Some(d) = v.iter().find(|&&d| d > 63) {
                return err(at("dscp"), format!("{d} is outside 0..=63"));
            }
            rule.dscp = v.iter().fold(0u64, |m, &d| m | 1 << d);
        }
        rule.proto = match &c.protocol {
            None => None,
            Some(Protocol::Number(n)) => Some(*n),
            Some(Protocol::Name(s)) => Some(match s.as_str() {
                "icmp" => 1,
                "tcp" => 6,
                "udp" => 17,
                "icmpv6" => 58,
                "sctp" => 132,
                "udplite" => 136,
                _ => return err(at("protocol"), format!("'{s}': give tcp, udp, sctp, udplite, icmp, icmpv6 or a number")),
            }),
        };
        for (k, spec, slot) in [("src_port", &c.src_port, &mut rule.src_ports), ("dst_port", &c.dst_port, &mut rule.dst_ports)] {
            let Some(spec) = spec else { continue };
            let range = match spec {
                PortRange::One(p) => Some((*p, *p)),
                PortRange::Range(s) => s.split_once('-').and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?))),
            };
            match range {
                Some((lo, hi)) if lo <= hi => *slot = Some((lo, hi)),
                _ => return err(at(k), format!("{spec:?} is not a port or a \"lo-hi\" range with lo <= hi")),
            }
            if rule.proto.is_some_and(|p| ![6, 17, 132, 136].contains(&p)) {
                return err(at(k), "ports need protocol tcp, udp, sctp or udplite (or no protocol)");
            }
        }
        let budget_ns = match c.budget_us {
            None => 0,
            Some(us) if (1..=10_000_000).contains(&us) => us * 1000,
            Some(us) => return err(at("budget_us"), format!("{us} is outside 1..=10000000 µs")),
        };
        if c.late_ok && budget_ns == 0 {
            return err(at("late_ok"), "only meaningful with budget_us (a best-effort class is never late)");
        }
        entries.push((c.name.clone(), rule, ClassAction { budget_ns, late_ok: c.late_ok }));
    }
    Ok(Classes::new(&entries))
}

/// `[lcores]`: one mode, no lcore in two roles.
fn validate_lcores(l: &Lcores) -> Result<(), ConfigError> {
    if l.rx.is_empty() != l.tx.is_empty() {
        let missing = if l.rx.is_empty() { "lcores.rx" } else { "lcores.tx" };
        return err(missing, "pipelined mode needs both rx and tx lcores");
    }
    if l.pipelined() && l.worker.is_some() {
        return err("lcores.worker", "give either worker (run to completion) or rx and tx (pipelined), not both");
    }
    for (k, list) in [("lcores.rx", &l.rx), ("lcores.tx", &l.tx)] {
        if list.len() > 64 {
            return err(k, format!("{} lcores; at most 64", list.len()));
        }
        for (i, id) in list.iter().enumerate() {
            if list[..i].contains(id) || (k == "lcores.tx" && l.rx.contains(id)) {
                return err(k, format!("lcore {id} appears twice (each lcore has one role)"));
            }
        }
    }
    Ok(())
}

fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |p| before.len() - p - 1) + 1;
    format!("line {line}, column {col}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[settings]
burst = 32

[[port]]
name = "a"
device = "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"

[[port]]
name = "b"
device = "03:00.1"
peer_mac = "02:00:00:00:00:0b"

[[route]]
prefix = "10.0.0.0/8"
port = "b"

[[route]]
prefix = "2001:db8::/32"
port = "a"
next_hop_mac = "02:00:00:00:00:0a"
"#;

    fn bad(text: &str) -> ConfigError {
        Pipeline::parse(text).expect_err("should fail")
    }

    #[test]
    fn good_file_validates() {
        let text = GOOD.replace("03:00.1\"", "03:00.1\"\naddresses = [\"8bit:3\", \"flex:0a0001\", \"10.9.9.9\"]\nlink_delay_ns = 500");
        let text = text + "\n[[route]]\nprefix = \"flex:0a/8\"\nport = \"b\"\nto_hops = 3\nto_delay_ns = 200000\n";
        let p = Pipeline::parse(&text).unwrap();
        assert_eq!(p.ports[1].addresses.len(), 3);
        assert_eq!(p.ports[1].link_delay_ns, 500);
        assert_eq!((p.ports[1].sched.bucket_shift, p.ports[1].sched.buckets), (10, 16384));
        assert_eq!((p.routes[2].to_hops, p.routes[2].to_delay_ns), (3, 200_000));
        assert_eq!(p.routes[0].to_hops, 1);
        assert_eq!(p.ports[0].dev_name, "net_pcap0");
        assert_eq!(p.ports[1].kind, DeviceKind::Pci);
        assert_eq!(p.ports[1].dev_name, "0000:03:00.1");
        assert_eq!(p.routes[0].next_hop_mac, [2, 0, 0, 0, 0, 0x0b]);
        assert_eq!(p.routes[1].port, 0);
    }

    #[test]
    fn errors_name_the_field() {
        let e = bad(&GOOD.replace("burst = 32", "burts = 32"));
        assert!(e.msg.contains("unknown field `burts`"), "{e}");
        assert!(e.field.starts_with("line 3"), "{e}");
        let e = bad(&GOOD.replace("10.0.0.0/8", "10.0.0.0/33"));
        assert_eq!(e.field, "route[0].prefix");
        let e = bad(&GOOD.replace("port = \"b\"", "port = \"c\""));
        assert_eq!(e.field, "route[0].port");
        assert!(e.msg.contains("'c'") && e.msg.contains("a, b"), "{e}");
        let e = bad(&GOOD.replace("2001:db8::/32", "10.0.0.0/8"));
        assert_eq!(e.field, "route[1].prefix");
        assert!(e.msg.contains("duplicate"), "{e}");
        let e = bad(&GOOD.replace("burst = 32", "burst = 65"));
        assert_eq!(e.field, "settings.burst");
        let e = bad(&GOOD.replace("burst = 32", "burst = 32\nshutdown_drain_ms = 9223372036854775807"));
        assert_eq!(e.field, "settings.shutdown_drain_ms");
        let e = bad(&GOOD.replace("03:00.1", "eth0"));
        assert_eq!(e.field, "port[1].device");
        let e = bad(&GOOD.replace("name = \"b\"", "name = \"a\""));
        assert_eq!(e.field, "port[1].name");
        let e = bad(&GOOD.replace("\npeer_mac = \"02:00:00:00:00:0b\"", ""));
        assert_eq!(e.field, "route[0].next_hop_mac");
        let e = bad(&GOOD.replace("02:00:00:00:00:0a", "02:00:00:00:0a"));
        assert_eq!(e.field, "route[1].next_hop_mac");
        let e = bad(&GOOD.replace("port = \"b\"", "port = \"b\"\nto_hops = 0"));
        assert_eq!(e.field, "route[0].to_hops");
        let e = bad(&GOOD.replace("03:00.1\"", "03:00.1\"\naddresses = [\"10.0.0.0/8\"]"));
        assert_eq!(e.field, "port[1].addresses[0]");
        let e = bad(&GOOD.replace("03:00.1\"", "03:00.1\"\naddresses = [\"8bit:3\", \"8bit:3\"]"));
        assert!(e.msg.contains("already an address"), "{e}");
        let e = bad(&GOOD.replace("03:00.1\"", "03:00.1\"\nscheduler = \"lifo\""));
        assert!(e.msg.contains("unknown variant `lifo`"), "{e}");
        let e = bad(&GOOD.replace("03:00.1\"", "03:00.1\"\nbest_effort_us = 20000"));
        assert_eq!(e.field, "port[1].best_effort_us");
        let e = bad(&GOOD.replace("10.0.0.0/8", "flex:0a0f/12"));
        assert_eq!(e.field, "route[0].prefix");
        let e = bad("[[port]]\nname = \"x\"\n");
        assert!(e.msg.contains("missing field `device`"), "{e}");
    }

    const CLASSES: &str = r#"
[[class]]
name = "voice"
dscp = [46, 40]
budget_us = 500

[[class]]
name = "video"
family = "ipv6"
protocol = "udp"
dst_port = "5004-5010"
src_port = 7
budget_us = 4000
late_ok = true

[[class]]
name = "bulk"
protocol = 6
"#;

    #[test]
    fn classes_validate_in_order() {
        let p = Pipeline::parse(&(GOOD.to_string() + CLASSES)).unwrap();
        let c = &p.classes;
        assert_eq!(c.len(), 5);
        assert_eq!((c.name(2), c.name(3), c.name(4)), ("voice", "video", "bulk"));
        assert_eq!(c.action(2), ClassAction { budget_ns: 500_000, late_ok: false });
        assert_eq!(c.action(3), ClassAction { budget_ns: 4_000_000, late_ok: true });
        assert_eq!(c.action(4), ClassAction::default());
        let k = |v6, dscp, proto, ports| class::Key { v6, dscp, proto, ports };
        assert_eq!(c.lookup(&k(false, 40, 17, None)), 2);
        assert_eq!(c.lookup(&k(true, 0, 17, Some((7, 5010)))), 3);
        assert_eq!(c.lookup(&k(false, 0, 17, Some((7, 5010)))), 0, "video is IPv6 only");
        assert_eq!(c.lookup(&k(false, 0, 6, Some((1, 2)))), 4);
        assert!(p.summary().contains("class 3 video"), "{}", p.summary());
        // Defaults: no classes; on-time bounds from best_effort_us; wash off.
        let p = Pipeline::parse(GOOD).unwrap();
        assert!(p.classes.is_empty());
        assert_eq!(p.ports[0].sched.on_time_bound_ns[0], 1_250_000);
        assert_eq!(p.ports[0].sched.on_time_bound_ns[7], 10_000_000);
        assert_eq!(p.ports[0].sched.wash_bytes, 0);
        let text = GOOD.replace("03:00.1\"", "03:00.1\"\nrate_bps = 8000000\nwash_threshold_us = 500\non_time_bound_us = [1, 2, 3, 4, 5, 6, 7, 8]");
        let p = Pipeline::parse(&text).unwrap();
        assert_eq!(p.ports[1].sched.wash_bytes, 500);
        assert_eq!(p.ports[1].sched.on_time_bound_ns[7], 8000);
    }

    #[test]
    fn class_errors_name_the_field() {
        let with = |from: &str, to: &str| bad(&(GOOD.to_string() + &CLASSES.replace(from, to)));
        for (from, to, field) in [
            ("name = \"video\"", "name = \"voice\"", "class[1].name"),
            ("name = \"bulk\"", "name = \"best-effort\"", "class[2].name"),
            ("name = \"bulk\"", "name = \"a b\"", "class[2].name"),
            ("[46, 40]", "[46, 64]", "class[0].dscp"),
            ("[46, 40]", "[]", "class[0].dscp"),
            ("protocol = \"udp\"", "protocol = \"udpp\"", "class[1].protocol"),
            ("\"5004-5010\"", "\"5010-5004\"", "class[1].dst_port"),
            ("\"5004-5010\"", "\"http\"", "class[1].dst_port"),
            ("protocol = \"udp\"", "protocol = \"icmp\"", "class[1].src_port"),
            ("budget_us = 500", "budget_us = 0", "class[0].budget_us"),
            ("protocol = 6", "protocol = 6\nlate_ok = true", "class[2].late_ok"),
        ] {
            assert_eq!(with(from, to).field, field, "{from} -> {to}");
        }
        let e = with("budget_us = 500", "budget_ms = 5");
        assert!(e.msg.contains("unknown field `budget_ms`"), "{e}");
        let many: String = (0..15).map(|i| format!("[[class]]\nname = \"c{i}\"\n")).collect();
        assert_eq!(bad(&(GOOD.to_string() + &many)).field, "class");
        let e = bad(&GOOD.replace("03:00.1\"", "03:00.1\"\nwash_threshold_us = 100"));
        assert_eq!(e.field, "port[1].wash_threshold_us");
        let e = bad(&GOOD.replace("03:00.1\"", "03:00.1\"\non_time_bound_us = [1, 2]"));
        assert_eq!(e.field, "port[1].on_time_bound_us");
        let e = bad(&GOOD.replace("03:00.1\"", "03:00.1\"\non_time_bound_us = [1, 2, 3, 4, 5, 6, 7, 16384]"));
        assert_eq!(e.field, "port[1].on_time_bound_us");
    }

    #[test]
    fn lcore_roles_and_sizes() {
        let piped = GOOD.replace("[settings]\nburst = 32", "[settings]\nburst = 32\nring_size = 256\n\n[lcores]\nrx = [1, 2]\ntx = [3]");
        let p = Pipeline::parse(&piped).unwrap();
        assert!(p.lcores.pipelined());
        assert_eq!((p.lcores.rx.clone(), p.lcores.tx.clone(), p.settings.ring_size), (vec![1, 2], vec![3], 256));
        let p = Pipeline::parse(&piped.replace("03:00.1\"", "03:00.1\"\nrx_queues = 4")).unwrap();
        assert_eq!(p.ports[1].rx_queues, 4);
        assert_eq!(bad(&piped.replace("ring_size = 256", "ring_size = 1000")).field, "settings.ring_size");
        assert_eq!(bad(&piped.replace("tx = [3]", "tx = [2]")).field, "lcores.tx");
        assert_eq!(bad(&piped.replace("tx = [3]", "")).field, "lcores.tx");
        assert_eq!(bad(&piped.replace("rx = [1, 2]", "rx = [1, 2]\nworker = 4")).field, "lcores.worker");
        assert_eq!(bad(&piped.replace("03:00.1\"", "03:00.1\"\nrx_queues = 0")).field, "port[1].rx_queues");
        assert_eq!(bad(&GOOD.replace("burst = 32", "burst = 32\nidle_sleep_us = 2000000")).field, "settings.idle_sleep_us");
    }

    #[test]
    fn device_override() {
        let mut f: PipelineFile = toml::from_str(GOOD).unwrap();
        Pipeline::override_device(&mut f, "a=net_null0").unwrap();
        assert_eq!(f.ports[0].device, "net_null0");
        assert!(Pipeline::override_device(&mut f, "zz=net_null0").is_err());
        assert!(Pipeline::override_device(&mut f, "nonsense").is_err());
    }
}
