//! The hybrid FIB: one table per destination address type. IPv4 and IPv6
//! prefixes serve legacy traffic and New IP addresses of those types alike;
//! 8- and 16-bit New IP addresses are exact-match arrays; flexible addresses
//! match by longest bit prefix. Source and destination types may differ:
//! only the destination's type picks the table.

use super::flex::FlexLpm;
use super::lpm4::Lpm4;
use super::lpm6::Lpm6;
use super::nexthop::NhIndex;
use super::prefix::Prefix;
use crate::wire::newip::{Addr, AddrType};

/// Entry value 0 = no route, else next hop + 1.
pub struct Fib {
    pub v4: Lpm4,
    pub v6: Lpm6,
    a8: Box<[u32; 256]>,
    a16: Box<[u32; 65536]>,
    pub flex: FlexLpm,
}

impl Fib {
    /// Build every table from (prefix, next hop) routes.
    pub fn build(routes: &[(Prefix, NhIndex)]) -> Fib {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut fl = Vec::new();
        let mut a8 = Box::new([0u32; 256]);
        let mut a16: Box<[u32; 65536]> = vec![0u32; 65536].into_boxed_slice().try_into().expect("size");
        for &(p, nh) in routes {
            match p {
                Prefix::V4 { addr, len } => v4.push((addr, len, nh)),
                Prefix::V6 { addr, len } => v6.push((addr, len, nh)),
                Prefix::Bits8(a) => a8[a as usize] = nh + 1,
                Prefix::Bits16(a) => a16[a as usize] = nh + 1,
                Prefix::Flex { bytes, bits } => fl.push((bytes, bits, nh)),
            }
        }
        Fib { v4: Lpm4::build(&v4), v6: Lpm6::build(&v6), a8, a16, flex: FlexLpm::build(&fl) }
    }

    /// Look a New IP destination up in the table of its own type.
    #[inline(always)]
    pub fn lookup_newip(&self, dst: &Addr<'_>) -> Option<NhIndex> {
        match dst.ty {
            AddrType::Ipv4 => dst.ipv4().and_then(|a| self.v4.lookup(u32::from_be_bytes(a))),
            AddrType::Ipv6 => dst.ipv6().and_then(|a| self.v6.lookup(u128::from_be_bytes(a))),
            AddrType::Bits8 => dst.bits8().and_then(|a| self.a8[a as usize].checked_sub(1)),
            AddrType::Bits16 => dst.bits16().and_then(|a| self.a16[a as usize].checked_sub(1)),
            AddrType::Flex => self.flex.lookup(dst.bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_uses_its_own_table() {
        let p = |s: &str| Prefix::parse(s).unwrap();
        let fib = Fib::build(&[(p("10.0.0.0/8"), 1), (p("2001:db8::/32"), 2), (p("8bit:7"), 3), (p("16bit:0x1234"), 4), (p("flex:0a/8"), 5)]);
        let a = |ty, bytes: &'static [u8]| Addr { ty, bytes };
        assert_eq!(fib.lookup_newip(&a(AddrType::Ipv4, &[10, 1, 2, 3])), Some(1));
        assert_eq!(fib.lookup_newip(&a(AddrType::Ipv4, &[11, 1, 2, 3])), None);
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        let v6: &'static [u8] = Box::leak(Box::new(v6));
        assert_eq!(fib.lookup_newip(&a(AddrType::Ipv6, v6)), Some(2));
        assert_eq!(fib.lookup_newip(&a(AddrType::Bits8, &[7])), Some(3));
        assert_eq!(fib.lookup_newip(&a(AddrType::Bits8, &[10])), None, "8-bit 10 is not IPv4 10/8");
        assert_eq!(fib.lookup_newip(&a(AddrType::Bits16, &[0x12, 0x34])), Some(4));
        assert_eq!(fib.lookup_newip(&a(AddrType::Flex, &[0x0a, 0x99, 0x01])), Some(5));
        assert_eq!(fib.lookup_newip(&a(AddrType::Flex, &[0x0b])), None);
    }
}
