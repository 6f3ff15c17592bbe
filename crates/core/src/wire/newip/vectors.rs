//! Named hex test vectors. `docs/wire-format.md` shows each one with a
//! field-by-field breakdown, and a test checks that every hex string below
//! appears there verbatim. New IP vectors start at the first byte of the New
//! IP header (after the EtherType); [`IPV6_HBH`] starts at the IPv6 header.

/// IPv4 10.0.0.1 -> 10.0.0.2, unicast, no contract, payload "hello".
pub const IPV4_NO_CONTRACT: &str = "03000e0000000a0000010a00000268656c6c6f";

/// IPv6 2001:db8::1 -> 2001:db8::2, Max Delay (500 ms allowed, 20 ms so
/// far), payload "hi".
pub const IPV6_MAX_DELAY: &str =
    "03262c01010020010db800000000000000000000000120010db8000000000000000000000002000101f400146869";

/// 8-bit 1 -> 2, LBF (min 10 ms, max 50 ms, experienced 2.5 ms,
/// to-delay 5 ms, 3 hops), payload aa bb.
pub const BITS8_LBF: &str = "03081402020001020002000a0032001900050003aabb";

/// 16-bit 0x0102 -> 0x0304, Ping request (hops 255, timestamp
/// 0x000102030405 µs), empty payload.
pub const BITS16_PING: &str = "030a18030300010203040003000000ff0000000102030405";

/// Flexible 0a.01.02 (3 bytes) -> 0a.02.00.00.01 (5 bytes), precise LBF
/// (max 2 ms, experienced 150 µs, 2 hops, late_ok), payload "x".
pub const FLEX_PRECISE_LBF: &str =
    "031024040400030a0102050a020000018001001000000000001e8480000249f00002000178";

/// Asymmetric: IPv4 192.0.2.1 -> 8-bit 7, on-time (damper 50 µs, prio 5,
/// Di), payload 00.
pub const ASYM_ON_TIME: &str = "030b17000200c000020107800200080000c3500501000000";

/// IPv4 10.0.0.1 -> 224.0.0.9 multicast; unknown TLV 0x9abc (3 bytes) then
/// Max Delay (100 ms); payload "ok".
pub const UNKNOWN_TLV: &str = "030e1b0000020a000001e00000099abc0003deadbe0001006400006f6b";

/// 8-bit 1 -> 2, qualitative payload of 12 bytes in three 4-byte chunks with
/// significance 0, 15 and 3.
pub const QUALITATIVE: &str =
    "03082202020001028003001603000000000000040000000400040f00000800040300000102030405060708090a0b";

/// [`QUALITATIVE`] after a router washed 4 bytes: the significance-15 chunk
/// is marked washed with length 0, the last chunk moved to offset 4, and the
/// payload is 8 bytes.
pub const QUALITATIVE_WASHED: &str =
    "03082202020001028003001603000000000000040000000400000f010004000403000001020308090a0b";

/// IPv6 2001:db8::1 -> 2001:db8::2 with a Hop-by-Hop header carrying option
/// 0x3E (max 1 ms, experienced 10 µs, 1 hop), then UDP 49152 -> 49153 with
/// payload "ping". Starts at the IPv6 header.
pub const IPV6_HBH: &str = "600000000024004020010db800000000000000000000000120010db800000000000000000000000211023e1000000000000f4240000027100001000001020000c000c001000c458e70696e67";

/// All New IP vectors (not [`IPV6_HBH`]) with their names.
pub const NEWIP_VECTORS: [(&str, &str); 9] = [
    ("IPV4_NO_CONTRACT", IPV4_NO_CONTRACT),
    ("IPV6_MAX_DELAY", IPV6_MAX_DELAY),
    ("BITS8_LBF", BITS8_LBF),
    ("BITS16_PING", BITS16_PING),
    ("FLEX_PRECISE_LBF", FLEX_PRECISE_LBF),
    ("ASYM_ON_TIME", ASYM_ON_TIME),
    ("UNKNOWN_TLV", UNKNOWN_TLV),
    ("QUALITATIVE", QUALITATIVE),
    ("QUALITATIVE_WASHED", QUALITATIVE_WASHED),
];

/// Decode a hex string (no separators) into bytes; `None` on odd length or a
/// non-hex character. For tests and tools.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    b.chunks(2)
        .map(|p| match p {
            [h, l] => Some(nib(*h)? << 4 | nib(*l)?),
            _ => None,
        })
        .collect()
}
