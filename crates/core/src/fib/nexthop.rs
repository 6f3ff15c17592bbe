//! Next hops: where a route sends a packet.

/// Index into the next-hop table.
pub type NhIndex = u32;

/// Largest next-hop index a route may name (route entries keep next hop + 1
/// in 22 bits).
pub const MAX_NH: NhIndex = (1 << 22) - 2;

/// Where a route sends a packet: the egress port and the 12 bytes of
/// Ethernet addresses to write (next hop's MAC, then the port's own MAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// Index of the egress port in the pipeline's port list.
    pub port: u16,
    pub macs: [u8; 12],
    /// Routers left to the destination, this one included (>= 1), for latency budgets.
    pub to_hops: u16,
    /// Predicted latency to the destination, excluding queueing, in ns.
    pub to_delay_ns: u32,
}

impl NextHop {
    pub fn new(port: u16, next_hop_mac: [u8; 6], port_mac: [u8; 6]) -> NextHop {
        let mut macs = [0u8; 12];
        macs[..6].copy_from_slice(&next_hop_mac);
        macs[6..].copy_from_slice(&port_mac);
        NextHop { port, macs, to_hops: 1, to_delay_ns: 0 }
    }

    /// The same next hop with the route's path figures.
    pub fn with_path(mut self, to_hops: u16, to_delay_ns: u32) -> NextHop {
        self.to_hops = to_hops.max(1);
        self.to_delay_ns = to_delay_ns;
        self
    }
}
