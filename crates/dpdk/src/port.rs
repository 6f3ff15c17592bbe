//! Ethernet devices: configuration, start/stop, MAC, link state, hardware stats.

use super::mempool::Mempool;
use super::log::{self, Mark};
use super::{strerror, sys, DpdkError};
use std::ffi::CString;

/// A DPDK port id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortId(pub u16);

/// How to set a port up.
#[derive(Debug, Clone)]
pub struct PortSetup {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub promiscuous: bool,
    /// The port's MTU (IP bytes a frame carries; 0: the driver's default, 1500).
    pub mtu: u16,
}

/// What [`PortId::configure_and_start`] set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// Several RX queues, spread by RSS hashing.
    pub rss: bool,
}

/// Hardware counters as the driver reports them.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct HwStats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    /// Packets the NIC dropped because no RX descriptor was free.
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

fn call_err(call: &'static str, port: PortId, rc: i32) -> DpdkError {
    DpdkError::Call { call, what: format!("port {}", port.0), reason: strerror(rc) }
}

/// As [`call_err`], with the error lines the driver logged since `m` (its own reason).
fn driver_err(call: &'static str, port: PortId, rc: i32, m: Mark) -> DpdkError {
    let reason = match log::errors_since(m) {
        Some(said) => format!("{} (the driver said: {said})", strerror(rc)),
        None => strerror(rc),
    };
    DpdkError::Call { call, what: format!("port {}", port.0), reason }
}

impl PortId {
    /// Find a probed device by name (vdev name such as `net_pcap0`, or a PCI address).
    pub fn by_name(name: &str) -> Result<PortId, DpdkError> {
        let c = CString::new(name).map_err(|_| DpdkError::NoSuchPort(name.into()))?;
        let mut id: u16 = 0;
        // SAFETY: c is a valid C string and id a valid out-pointer.
        let rc = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if rc == 0 {
            return Ok(PortId(id));
        }
        match log::probe_failure(name) {
            Some(cause) => Err(DpdkError::ProbeFailed { name: name.into(), cause }),
            None => Err(DpdkError::NoSuchPort(name.into())),
        }
    }

    /// Number of ports DPDK probed.
    pub fn count() -> u16 {
        // SAFETY: plain query.
        unsafe { sys::rte_eth_dev_count_avail() }
    }

    /// NUMA socket of the device (or -1 / SOCKET_ID_ANY if unknown).
    pub fn socket(self) -> i32 {
        // SAFETY: plain query on a port id.
        unsafe { sys::rte_eth_dev_socket_id(self.0) }
    }

    /// Driver name and queue limits.
    pub fn driver_info(self) -> Result<(String, u16, u16), DpdkError> {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-struct.
        let rc = unsafe { sys::rte_eth_dev_info_get(self.0, &mut info) };
        if rc != 0 {
            return Err(call_err("rte_eth_dev_info_get", self, rc));
        }
        let name = if info.driver_name.is_null() {
            String::from("?")
        } else {
            // SAFETY: driver_name is a static C string owned by the driver.
            unsafe { std::ffi::CStr::from_ptr(info.driver_name) }.to_string_lossy().into_owned()
        };
        Ok((name, info.max_rx_queues, info.max_tx_queues))
    }

    /// The RSS hash functions the device offers (0: no RSS).
    pub fn rss_offloads(self) -> u64 {
        let mut info = sys::rte_eth_dev_info::default();
        // SAFETY: info is a valid out-struct.
        match unsafe { sys::rte_eth_dev_info_get(self.0, &mut info) } {
            0 => info.flow_type_rss_offloads,
            _ => 0,
        }
    }

    /// Configure queues and descriptors, set up every queue with `pool`, and
    /// start. With several RX queues, RSS (IP, UDP, TCP hashes) is asked for
    /// when the device offers it; without, the queues are set up plainly (a
    /// vdev fills them its own way).
    pub fn configure_and_start(self, setup: &PortSetup, pool: &Mempool) -> Result<Started, DpdkError> {
        let mark = log::mark();
        let (_, max_rx, max_tx) = self.driver_info()?;
        if setup.rx_queues > max_rx || setup.tx_queues > max_tx {
            return Err(DpdkError::Call {
                call: "rte_eth_dev_configure",
                what: format!("port {}", self.0),
                reason: format!(
                    "{} rx / {} tx queues asked, the device has at most {max_rx} / {max_tx}",
                    setup.rx_queues, setup.tx_queues
                ),
            });
        }
        let mut conf = sys::rte_eth_conf::default();
        conf.rxmode.mtu = setup.mtu as u32;
        let offloads = self.rss_offloads();
        let rss = setup.rx_queues > 1 && offloads != 0;
        if rss {
            // SAFETY: conf is a valid configuration struct; the shim sets the RSS fields only.
            unsafe { sys::newipd_eth_conf_rss(&mut conf, offloads) };
        }
        // SAFETY: conf is a valid configuration (zeroed: no offloads; RSS if set above).
        let rc = unsafe { sys::rte_eth_dev_configure(self.0, setup.rx_queues, setup.tx_queues, &conf) };
        if rc != 0 {
            return Err(driver_err("rte_eth_dev_configure", self, rc, mark));
        }
        let (mut nrx, mut ntx) = (setup.rx_desc, setup.tx_desc);
        // SAFETY: valid out-pointers.
        let rc = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(self.0, &mut nrx, &mut ntx) };
        if rc != 0 {
            return Err(driver_err("rte_eth_dev_adjust_nb_rx_tx_desc", self, rc, mark));
        }
        let socket = self.socket().max(0) as u32;
        for q in 0..setup.rx_queues {
            // SAFETY: NULL rx_conf means the driver's defaults; pool is live.
            let rc = unsafe { sys::rte_eth_rx_queue_setup(self.0, q, nrx, socket, std::ptr::null(), pool.as_ptr()) };
            if rc != 0 {
                return Err(driver_err("rte_eth_rx_queue_setup", self, rc, mark));
            }
        }
        for q in 0..setup.tx_queues {
            // SAFETY: NULL tx_conf means the driver's defaults.
            let rc = unsafe { sys::rte_eth_tx_queue_setup(self.0, q, ntx, socket, std::ptr::null()) };
            if rc != 0 {
                return Err(driver_err("rte_eth_tx_queue_setup", self, rc, mark));
            }
        }
        // SAFETY: the port is configured.
        let rc = unsafe { sys::rte_eth_dev_start(self.0) };
        if rc != 0 {
            return Err(driver_err("rte_eth_dev_start", self, rc, mark));
        }
        if setup.promiscuous {
            // Not every vdev supports it (net_pcap does not need it): ignore failure.
            // SAFETY: the port is started.
            unsafe { sys::rte_eth_promiscuous_enable(self.0) };
        }
        Ok(Started { rss })
    }

    /// Stop the port (its queues stop, held RX mbufs go back to the pool).
    pub fn stop(self) {
        // SAFETY: stopping a started or stopped port is allowed.
        unsafe { sys::rte_eth_dev_stop(self.0) };
    }

    /// Start the port again after [`stop`](Self::stop) (its queues keep
    /// their setup). A memif client connects to its server here; the error
    /// quotes the driver ("Failed to connect socket") when it logged why.
    pub fn start(self) -> Result<(), DpdkError> {
        let mark = log::mark();
        // SAFETY: the port was configured by configure_and_start; starting a stopped port is allowed.
        let rc = unsafe { sys::rte_eth_dev_start(self.0) };
        if rc != 0 {
            return Err(driver_err("rte_eth_dev_start", self, rc, mark));
        }
        Ok(())
    }

    /// Close the port and release its resources (after stop).
    pub fn close(self) {
        // SAFETY: the port is stopped.
        unsafe { sys::rte_eth_dev_close(self.0) };
    }

    /// The port's MAC address.
    pub fn mac(self) -> Result<[u8; 6], DpdkError> {
        let mut a = sys::rte_ether_addr::default();
        // SAFETY: a is a valid out-struct.
        let rc = unsafe { sys::rte_eth_macaddr_get(self.0, &mut a) };
        if rc != 0 {
            return Err(call_err("rte_eth_macaddr_get", self, rc));
        }
        Ok(a.addr_bytes)
    }

    /// Current link state without waiting.
    pub fn link(self) -> Link {
        let mut l = sys::rte_eth_link::default();
        // SAFETY: l is a valid out-struct.
        let rc = unsafe { sys::rte_eth_link_get_nowait(self.0, &mut l) };
        if rc != 0 {
            return Link { up: false, speed_mbps: 0, full_duplex: false };
        }
        Link { up: l.link_status() != 0, speed_mbps: l.link_speed, full_duplex: l.link_duplex() != 0 }
    }

    /// Poll the link state (every millisecond) until it is up or `timeout`
    /// passes (a timeout past the clock's range waits without end); returns
    /// whether it came up.
    pub fn wait_up(self, timeout: std::time::Duration) -> bool {
        let end = std::time::Instant::now().checked_add(timeout);
        loop {
            if self.link().up {
                return true;
            }
            if end.is_some_and(|e| std::time::Instant::now() >= e) {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Hardware counters.
    pub fn hw_stats(self) -> HwStats {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: s is a valid out-struct.
        let rc = unsafe { sys::rte_eth_stats_get(self.0, &mut s) };
        if rc != 0 {
            let _ = strerror(rc);
            return HwStats::default();
        }
        HwStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }
}
