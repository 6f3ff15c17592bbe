//! The kinds every layer shares, defined once and depending on nothing:
//! why a packet was not sent ([`Reason`]: every packet newipd drops is
//! counted under exactly one of these names), what else is counted
//! ([`Event`]), and the limits that size per-port, per-class and per-burst
//! arrays.

/// Largest burst newipd moves at once (rx, tx, rings).
pub const MAX_BURST: usize = 64;

/// Most ports one newipd runs (counter arrays are this long).
pub const MAX_PORTS: usize = 32;

/// Traffic classes: 0 best effort, 1 scheduled by a New IP contract, then
/// the pipeline's `[[class]]` entries in order (class numbering in
/// `newipd_core::class`).
pub const MAX_CLASSES: usize = 16;

macro_rules! reasons {
    ($($variant:ident => $name:literal : $doc:literal,)*) => {
        /// A named drop reason (the counter names in reports and metrics).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Reason {
            $(#[doc = $doc] $variant,)*
        }

        impl Reason {
            /// Every reason, in counter order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The counter name, e.g. `malformed-ipv4-ihl`.
            pub const fn name(self) -> &'static str {
                match self { $(Reason::$variant => $name,)* }
            }

            /// One-line explanation for reports and docs.
            pub const fn describe(self) -> &'static str {
                match self { $(Reason::$variant => $doc,)* }
            }
        }
    };
}

reasons! {
    MalformedEthernet => "malformed-ethernet": "frame shorter than an Ethernet header",
    MalformedVlan => "malformed-vlan": "802.1Q/802.1ad tag cut off by the end of the frame",
    UnsupportedVlanDepth => "unsupported-vlan-depth": "more than two VLAN tags",
    UnsupportedEthertype => "unsupported-ethertype": "EtherType newipd does not route (LLDP, ...; ARP is counted as arp)",
    MalformedIpv4Header => "malformed-ipv4-header": "frame too short for a 20-byte IPv4 header",
    MalformedIpv4Version => "malformed-ipv4-version": "IPv4 EtherType but version field is not 4",
    MalformedIpv4Ihl => "malformed-ipv4-ihl": "IHL below 5 or header longer than the frame",
    MalformedIpv4Length => "malformed-ipv4-length": "total length below the header length or beyond the frame",
    MalformedIpv4Checksum => "malformed-ipv4-checksum": "IPv4 header checksum does not verify",
    MalformedIpv6Header => "malformed-ipv6-header": "frame too short for a 40-byte IPv6 header",
    MalformedIpv6Version => "malformed-ipv6-version": "IPv6 EtherType but version field is not 6",
    MalformedIpv6Length => "malformed-ipv6-length": "payload length runs beyond the frame",
    TtlExpired => "ttl-expired": "IPv4 TTL 0 or 1 on arrival",
    HopLimitExpired => "hop-limit-expired": "IPv6 hop limit 0 or 1 on arrival",
    NoRoute => "no-route": "no route matches the destination",
    NextHopUnresolved => "next-hop-unresolved": "the route's next hop has no neighbour MAC yet (unresolved)",
    NextHopDown => "next-hop-down": "the route's next hop is marked down (its link or neighbour failed)",
    TxFull => "tx-full": "the egress TX queue had no room",
    NoMbuf => "no-mbuf": "the mbuf pool was empty when a copy was needed (broadcast)",
    MalformedNewipTruncated => "malformed-newip-truncated": "New IP header cut off by the end of the frame",
    MalformedNewipOffsets => "malformed-newip-offsets": "New IP header spec offsets out of order or past the frame",
    MalformedNewipAddrType => "malformed-newip-addr-type": "unknown New IP address type",
    MalformedNewipAddrLength => "malformed-newip-addr-length": "New IP address runs past its section",
    MalformedNewipFlexLength => "malformed-newip-flex-length": "flexible address length 0 or above 32",
    MalformedNewipCast => "malformed-newip-cast": "unknown New IP addr_cast",
    MalformedNewipContractTruncated => "malformed-newip-contract-truncated": "contract cut off by the payload offset",
    MalformedNewipContractUnknown => "malformed-newip-contract-unknown": "unknown fixed-size contract type (below 0x8000)",
    MalformedNewipTlvLength => "malformed-newip-tlv-length": "TLV contract length wrong or past the contract area",
    MalformedNewipChunks => "malformed-newip-chunks": "qualitative chunks overlap, are unsorted or leave the payload",
    MalformedHbhTruncated => "malformed-hbh-truncated": "IPv6 hop-by-hop header cut off",
    MalformedHbhOptionLength => "malformed-hbh-option-length": "hop-by-hop option runs past its header",
    MalformedHbhPlbfLength => "malformed-hbh-plbf-length": "latency option 0x3E with a length other than 16",
    NewipUnsupportedCast => "newip-unsupported-cast": "multicast, coordcast or groupcast (not forwarded yet)",
    NewipForRouter => "newip-for-router": "addressed to newipd itself but not a ping request",
    NewipPingHopsExpired => "newip-ping-hops-expired": "ping contract with hops 0",
    NewipMaxDelayExceeded => "newip-max-delay-exceeded": "max-delay contract: delay_exp plus local delay above max_allowed_delay",
    NewipLbfNoHops => "newip-lbf-no-hops": "LBF contract with fib_tohops 0",
    NewipEarlyDiscard => "newip-early-discard": "LBF contract: experienced + fib_todelay already above max_delay",
    NewipInfeasible => "newip-infeasible": "precise LBF: the deadline cannot be met from here (late_ok not set)",
    NewipLate => "newip-late": "deadline passed before the packet could be sent (late_ok not set)",
    QueueFull => "queue-full": "egress queue full: the packet with the latest deadline was dropped",
    QueueFullLate => "queue-full-late": "egress queue full: an already late packet was dropped to make room",
    ShutdownDrained => "shutdown-drained": "still queued when newipd stopped and the drain time ran out",
    ClassLate => "class-late": "legacy packet of a class with a per-hop deadline not sent by it (late_ok not set)",
    NewipOnTimeBroken => "newip-on-time-broken": "on-time contract: queued longer than the port's bound for its prio (Di not set)",
    RingFull => "ring-full": "the ring to the lcore that owns the egress port had no room",
    Arp => "arp": "ARP: the kernel answers it on a host interface; without one newipd neither answers nor forwards it",
    Ipv6Nd => "ipv6-nd": "IPv6 neighbour discovery (router/neighbour solicitation and advertisement, redirect): link-local, never forwarded",
    Ipv6Mld => "ipv6-mld": "IPv6 multicast listener query, report or done (MLD): link-local, never forwarded",
    LinkLocal => "link-local": "to a link-local destination (224.0.0.0/24, 255.255.255.255, ff02::/16, fe80::/10): never routed",
    MulticastNotRouted => "multicast-not-routed": "multicast beyond the link (224.0.0.0/4, ff00::/8): newipd does not route multicast",
    LinkDown => "link-down": "the egress port's link was down: the driver refused the packet",
    ForRouter => "for-router": "IPv4 / IPv6 addressed to one of newipd's own addresses (the kernel takes it on a host interface)",
    Blackhole => "blackhole": "the route is a blackhole, unreachable or prohibit route (from the kernel)",
    PuntPoliced => "punt-policed": "for the host interface, but over the port's punt rate (punt_rate_pps, punt_burst)",
    PuntQueueFull => "punt-queue-full": "for the host interface, but the ring to the control thread had no room",
    FragmentationNeeded => "fragmentation-needed": "IPv4 with DF longer than the egress port's MTU (answered with ICMP fragmentation needed and the MTU)",
    PacketTooBig => "packet-too-big": "IPv6 longer than the egress port's MTU (answered with ICMPv6 packet too big and the MTU)",
    CannotFragment => "cannot-fragment": "IPv4 without DF longer than the egress MTU that could not be fragmented (options, no mbuf)",
}

/// Things worth counting that are not drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Event {
    /// Unknown TLV contracts skipped (the packet is still forwarded).
    UnknownTlvSkipped,
    /// New IP ping requests to newipd's own addresses answered.
    PingAnswered,
    /// Packets that could not be on time but carried late_ok: sent as best effort.
    LateOkDemoted,
    /// Extra copies made to flood broadcast packets (they add to tx, not rx).
    BroadcastCopies,
    /// Packets whose qualitative payload was washed (port backlog above its budget).
    WashedPackets,
    /// Payload bytes removed by packet wash.
    WashedBytes,
    /// On-time packets whose bound broke here with Di set: marked Ds, sent as best effort.
    OnTimeDowngraded,
    /// ICMP / ICMPv6 errors newipd sent (time exceeded, destination
    /// unreachable) about packets it dropped: created packets, like
    /// broadcast copies (the dropped packet is counted under its reason).
    IcmpErrorsSent,
    /// Errors not sent because the lcore's ICMP rate limit was spent.
    IcmpRateLimited,
    /// ICMP / ICMPv6 echo requests to newipd's own addresses answered by
    /// newipd itself (a port without a host interface): each request
    /// becomes its reply, so they count in rx and tx, never as drops.
    EchoAnswered,
    /// IPv4 packets (without DF) longer than the egress port's MTU, sent as fragments.
    Fragmented,
    /// Fragments made beyond the first (the packet itself): created packets.
    FragmentsCreated,
    /// Packets handed to the port's host interface (the kernel): ARP, ND,
    /// to newipd's own addresses, link-local, next hop not yet resolved.
    /// They leave the data path here, like sent ones.
    Punted,
    /// Packets the kernel sent on a host interface, sent out of its port:
    /// created packets (they add to tx, not rx).
    Injected,
}

impl Event {
    pub const ALL: &'static [Event] = &[
        Event::UnknownTlvSkipped,
        Event::PingAnswered,
        Event::LateOkDemoted,
        Event::BroadcastCopies,
        Event::WashedPackets,
        Event::WashedBytes,
        Event::OnTimeDowngraded,
        Event::IcmpErrorsSent,
        Event::IcmpRateLimited,
        Event::EchoAnswered,
        Event::Fragmented,
        Event::FragmentsCreated,
        Event::Punted,
        Event::Injected,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Event::UnknownTlvSkipped => "newip-unknown-tlv-skipped",
            Event::PingAnswered => "newip-ping-answered",
            Event::LateOkDemoted => "late-ok-demoted",
            Event::BroadcastCopies => "broadcast-copies",
            Event::WashedPackets => "washed-packets",
            Event::WashedBytes => "washed-bytes",
            Event::OnTimeDowngraded => "on-time-downgraded",
            Event::IcmpErrorsSent => "icmp-errors-sent",
            Event::IcmpRateLimited => "icmp-rate-limited",
            Event::EchoAnswered => "icmp-echo-answered",
            Event::Fragmented => "fragmented",
            Event::FragmentsCreated => "fragments-created",
            Event::Punted => "punted",
            Event::Injected => "injected",
        }
    }
}

impl Reason {
    /// Does the kernel take a packet dropped for this reason, when its port
    /// has a host interface? Neighbour and link-scope control, packets to
    /// newipd's own addresses (routing protocols included), multicast, and
    /// packets whose next hop the kernel has yet to resolve.
    pub const fn punts(self) -> bool {
        matches!(
            self,
            Reason::Arp
                | Reason::Ipv6Nd
                | Reason::Ipv6Mld
                | Reason::LinkLocal
                | Reason::MulticastNotRouted
                | Reason::ForRouter
                | Reason::NextHopUnresolved
        )
    }
}

/// Number of events.
pub const N_EVENTS: usize = Event::ALL.len();

/// Number of reasons (length of every drop counter array).
pub const N_REASONS: usize = Reason::ALL.len();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_indexed_in_order() {
        for (i, e) in Event::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i);
        }
    }

    #[test]
    fn names_are_unique_kebab_case_and_indexed_in_order() {
        let mut seen = std::collections::HashSet::new();
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert!(seen.insert(r.name()), "duplicate {}", r.name());
            assert!(r.name().chars().all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()));
            assert!(!r.describe().is_empty());
        }
    }
}
