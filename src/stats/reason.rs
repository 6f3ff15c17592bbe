//! Why a packet was not sent. Every packet newipd drops is counted under
//! exactly one of these names.

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
    UnsupportedEthertype => "unsupported-ethertype": "EtherType newipd does not route (ARP, LLDP, ...)",
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
    TxFull => "tx-full": "the egress TX queue had no room",
}

/// Number of reasons (length of every drop counter array).
pub const N_REASONS: usize = Reason::ALL.len();

#[cfg(test)]
mod tests {
    use super::*;

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
