//! The hybrid FIB: one table per destination address type. IPv4 and IPv6
//! prefixes serve legacy traffic and New IP addresses of those types alike;
//! 8- and 16-bit New IP addresses are exact-match arrays; flexible addresses
//! match by longest bit prefix. Source and destination types may differ:
//! only the destination's type picks the table. Every table, and the
//! next-hop table the routes point into, changes in place while lcores look
//! it up; one grace-period state ([`Qsbr`]) serves them all, so an lcore
//! reports one quiescent point per poll round for the whole FIB.

use super::error::FibError;
use super::exact::Exact;
use super::flex::{self, FlexLpm};
use super::lpm4::{self, Lpm4};
use super::lpm6::{self, Lpm6};
use super::nexthop::{NextHop, NhIndex};
use super::nhtable::{Link, Member, NextHopTable, NhKey, DEFAULT_NEXT_HOPS};
use super::prefix::Prefix;
use crate::rcu::{Qsbr, QsbrReader, DEFAULT_READERS};
use crate::wire::newip::{Addr, AddrType};
use std::sync::Arc;

/// Capacities, fixed when the FIB is made (pipeline settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FibConfig {
    /// IPv4 second-level groups (1 KiB each).
    pub v4_groups: usize,
    /// IPv6 groups (1 KiB each).
    pub v6_groups: usize,
    /// Flexible-address groups (1028 bytes each).
    pub flex_groups: usize,
    /// Next-hop entries (16 bytes each).
    pub next_hops: usize,
    /// Lcores that may register as readers.
    pub readers: usize,
}

impl Default for FibConfig {
    fn default() -> Self {
        FibConfig {
            v4_groups: lpm4::DEFAULT_GROUPS,
            v6_groups: lpm6::DEFAULT_GROUPS,
            flex_groups: flex::DEFAULT_GROUPS,
            next_hops: DEFAULT_NEXT_HOPS,
            readers: DEFAULT_READERS,
        }
    }
}

pub struct Fib {
    pub v4: Lpm4,
    pub v6: Lpm6,
    a8: Exact<256>,
    a16: Exact<65536>,
    pub flex: FlexLpm,
    /// What routes point at.
    pub next_hops: NextHopTable,
    qsbr: Arc<Qsbr>,
}

impl Fib {
    /// Empty tables of these capacities.
    pub fn new(cfg: &FibConfig) -> Fib {
        let q = Arc::new(Qsbr::new(cfg.readers));
        let next_hops = NextHopTable::new(cfg.next_hops, Arc::clone(&q));
        Fib::assemble(cfg, q, next_hops)
    }

    fn assemble(cfg: &FibConfig, q: Arc<Qsbr>, next_hops: NextHopTable) -> Fib {
        Fib {
            v4: Lpm4::with_capacity(cfg.v4_groups, Arc::clone(&q)),
            v6: Lpm6::with_capacity(cfg.v6_groups, Arc::clone(&q)),
            a8: Exact::default(),
            a16: Exact::default(),
            flex: FlexLpm::with_capacity(cfg.flex_groups, Arc::clone(&q)),
            next_hops,
            qsbr: q,
        }
    }

    /// Build every table from (prefix, next hop) routes (no next-hop
    /// entries: see [`build_with`](Self::build_with)).
    pub fn build(routes: &[(Prefix, NhIndex)]) -> Fib {
        Fib::build_with(routes, &[], &FibConfig::default()).unwrap_or_else(|e| panic!("Fib::build: {e}"))
    }

    /// Build from routes whose next hops are indices into `next_hops`
    /// (entry `i` of the table is `next_hops[i]`, resolved, counted once per
    /// route using it); pools at least `cfg`'s, or what the routes take and
    /// a quarter more.
    /// Duplicate prefixes: the last wins.
    pub fn build_with(routes: &[(Prefix, NhIndex)], next_hops: &[NextHop], cfg: &FibConfig) -> Result<Fib, FibError> {
        let (mut v4, mut v6, mut fl) = (Vec::new(), Vec::new(), Vec::new());
        for &(p, nh) in routes {
            match p {
                Prefix::V4 { addr, len } => v4.push((addr.to_be_bytes(), len as u16, nh)),
                Prefix::V6 { addr, len } => v6.push((addr.to_be_bytes(), len as u16, nh)),
                Prefix::Flex { bytes, bits } => fl.push((bytes, bits.min((flex::MAX_BYTES * 8) as u16), nh)),
                Prefix::Bits8(_) | Prefix::Bits16(_) => {}
            }
        }
        use super::trie::Trie;
        // What the routes take, and a quarter more for updates.
        let room = |n: usize| n + n / 4;
        let cfg = FibConfig {
            v4_groups: cfg.v4_groups.max(room(Trie::<4, { 1 << 24 }>::groups_needed(v4.iter().map(|r| (r.0, r.1))))),
            v6_groups: cfg.v6_groups.max(room(Trie::<16, { 1 << 24 }>::groups_needed(v6.iter().map(|r| (r.0, r.1))))),
            flex_groups: cfg.flex_groups.max(room(Trie::<{ flex::MAX_BYTES }, 256>::groups_needed(fl.iter().map(|r| (r.0, r.1))))),
            ..*cfg
        };
        let q = Arc::new(Qsbr::new(cfg.readers));
        let f = Fib::assemble(&cfg, Arc::clone(&q), NextHopTable::from_list(next_hops, cfg.next_hops, q)?);
        for &(p, nh) in routes {
            // Count each route's reference (indices beyond the list route
            // nowhere, as they always did).
            let _ = f.next_hops.retain(nh);
            f.table_add(p, nh)?;
        }
        Ok(f)
    }

    /// Look a New IP destination up in the table of its own type.
    #[inline(always)]
    pub fn lookup_newip(&self, dst: &Addr<'_>) -> Option<NhIndex> {
        match dst.ty {
            AddrType::Ipv4 => dst.ipv4().and_then(|a| self.v4.lookup(u32::from_be_bytes(a))),
            AddrType::Ipv6 => dst.ipv6().and_then(|a| self.v6.lookup(u128::from_be_bytes(a))),
            AddrType::Bits8 => dst.bits8().and_then(|a| self.a8.lookup(a as usize)),
            AddrType::Bits16 => dst.bits16().and_then(|a| self.a16.lookup(a as usize)),
            AddrType::Flex => self.flex.lookup(dst.bytes),
        }
    }

    /// The grace-period state of every table.
    pub fn qsbr(&self) -> &Arc<Qsbr> {
        &self.qsbr
    }

    /// Register an lcore as a reader (`None` if every slot is taken). It
    /// must call [`QsbrReader::quiescent`] once per poll round.
    pub fn register_reader(&self) -> Option<QsbrReader> {
        self.qsbr.register()
    }

    // ---- the control thread's side ---------------------------------------

    /// Point `p` at next hop `nh` in the table of its type; returns the
    /// next hop replaced. (No next-hop reference counting: see
    /// [`add_route`](Self::add_route).)
    pub fn table_add(&self, p: Prefix, nh: NhIndex) -> Result<Option<NhIndex>, FibError> {
        match p {
            Prefix::V4 { addr, len } => self.v4.add(addr, len, nh),
            Prefix::V6 { addr, len } => self.v6.add(addr, len, nh),
            Prefix::Bits8(a) => self.a8.set(a as usize, nh),
            Prefix::Bits16(a) => self.a16.set(a as usize, nh),
            Prefix::Flex { bytes, bits } => self.flex.add(&bytes, bits, nh),
        }
    }

    /// Remove `p` from the table of its type; returns its next hop.
    pub fn table_delete(&self, p: Prefix) -> Result<NhIndex, FibError> {
        match p {
            Prefix::V4 { addr, len } => self.v4.delete(addr, len),
            Prefix::V6 { addr, len } => self.v6.delete(addr, len),
            Prefix::Bits8(a) => self.a8.clear(a as usize),
            Prefix::Bits16(a) => self.a16.clear(a as usize),
            Prefix::Flex { bytes, bits } => self.flex.delete(&bytes, bits),
        }
    }

    /// The next hop of exactly prefix `p`, if it is a route.
    pub fn route(&self, p: Prefix) -> Option<NhIndex> {
        match p {
            Prefix::V4 { addr, len } => self.v4.get(addr, len),
            Prefix::V6 { addr, len } => self.v6.get(addr, len),
            Prefix::Bits8(a) => self.a8.lookup(a as usize),
            Prefix::Bits16(a) => self.a16.lookup(a as usize),
            Prefix::Flex { bytes, bits } => self.flex.get(&bytes, bits),
        }
    }

    /// Add a route (or give its prefix a new next hop): the next hop `key`
    /// names is shared with other routes to it, or made with `link`.
    /// Returns the route's next-hop index. A refused route changes nothing.
    pub fn add_route(&self, p: Prefix, key: NhKey, link: Link) -> Result<NhIndex, FibError> {
        let nh = self.next_hops.acquire(key, link)?;
        self.point(p, nh)
    }

    /// Add a route over several next hops (ECMP, [`NextHopTable::acquire_group`]):
    /// packets are spread over them by flow, by weight. One next hop is
    /// [`add_route`](Self::add_route). A refused route changes nothing.
    pub fn add_route_multi(&self, p: Prefix, members: &[Member]) -> Result<NhIndex, FibError> {
        let nh = self.next_hops.acquire_group(members)?;
        self.point(p, nh)
    }

    /// Make `p` point at `nh` (acquired for it), releasing what it pointed
    /// at; a refused route releases `nh` and changes nothing.
    fn point(&self, p: Prefix, nh: NhIndex) -> Result<NhIndex, FibError> {
        match self.table_add(p, nh) {
            Ok(old) => {
                if let Some(old) = old {
                    let _ = self.next_hops.release(old);
                }
                Ok(nh)
            }
            Err(e) => {
                let _ = self.next_hops.release(nh);
                Err(e)
            }
        }
    }

    /// Delete a route; its next hop goes when no route uses it.
    pub fn delete_route(&self, p: Prefix) -> Result<(), FibError> {
        let nh = self.table_delete(p)?;
        let _ = self.next_hops.release(nh);
        Ok(())
    }

    /// Add many routes: per address type one batch (one grace period each
    /// for the groups they free). Returns how many were added; on a
    /// refusal, how many and why (the others were not added).
    pub fn add_routes(&self, routes: &[(Prefix, NhKey, Link)]) -> Result<usize, (usize, FibError)> {
        let mut nhs = Vec::with_capacity(routes.len());
        for &(_, key, link) in routes {
            match self.next_hops.acquire(key, link) {
                Ok(nh) => nhs.push(nh),
                Err(e) => {
                    for &nh in &nhs {
                        let _ = self.next_hops.release(nh);
                    }
                    return Err((0, e));
                }
            }
        }
        let mut added = vec![false; routes.len()];
        let mut first_err = None;
        let (mut v4, mut v6, mut fl, mut other) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, (&(p, _, _), &nh)) in routes.iter().zip(&nhs).enumerate() {
            match p {
                Prefix::V4 { addr, len } => v4.push((i, (addr, len, nh))),
                Prefix::V6 { addr, len } => v6.push((i, (addr, len, nh))),
                Prefix::Flex { bytes, bits } => fl.push((i, (bytes, bits, nh))),
                Prefix::Bits8(_) | Prefix::Bits16(_) => other.push((i, p, nh)),
            }
        }
        let release = |old: Option<NhIndex>| {
            if let Some(old) = old {
                let _ = self.next_hops.release(old);
            }
        };
        let r4: Vec<_> = v4.iter().map(|x| x.1).collect();
        if let Err((_, e)) = self.v4.add_batch(&r4, |j, old| {
            added[v4[j].0] = true;
            release(old);
        }) {
            first_err.get_or_insert(e);
        }
        let r6: Vec<_> = v6.iter().map(|x| x.1).collect();
        if let Err((_, e)) = self.v6.add_batch(&r6, |j, old| {
            added[v6[j].0] = true;
            release(old);
        }) {
            first_err.get_or_insert(e);
        }
        let rf: Vec<_> = fl.iter().map(|x| x.1).collect();
        if let Err((_, e)) = self.flex.add_batch(&rf, |j, old| {
            added[fl[j].0] = true;
            release(old);
        }) {
            first_err.get_or_insert(e);
        }
        for (i, p, nh) in other {
            match self.table_add(p, nh) {
                Ok(old) => {
                    added[i] = true;
                    release(old);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let n = added.iter().filter(|&&a| a).count();
        match first_err {
            None => Ok(n),
            Some(e) => {
                for (i, &nh) in nhs.iter().enumerate() {
                    if !added[i] {
                        let _ = self.next_hops.release(nh);
                    }
                }
                Err((n, e))
            }
        }
    }

    /// Return what waited for a grace period (groups, next-hop indices) to
    /// use; updates also do it when they run short. Returns how many.
    pub fn reclaim(&self) -> usize {
        self.v4.reclaim() + self.v6.reclaim() + self.flex.reclaim() + self.next_hops.reclaim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::nhtable::NhState;
    use crate::kinds::Reason;

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

    #[test]
    fn routes_share_reference_counted_next_hops() {
        let p = |s: &str| Prefix::parse(s).unwrap();
        let fib = Fib::new(&FibConfig { next_hops: 4, ..FibConfig::default() });
        let gw = NhKey { port: 1, neighbour: 0x0a00_0001, to_hops: 1, to_delay_ns: 0 };
        let unresolved = Link { port: 1, mac: [0; 6], state: NhState::Unresolved };
        let a = fib.add_route(p("10.0.0.0/8"), gw, unresolved).unwrap();
        let b = fib.add_route(p("8bit:7"), gw, unresolved).unwrap();
        let c = fib.add_route(p("flex:0a/8"), gw, unresolved).unwrap();
        assert!(a == b && b == c, "one entry for one neighbour");
        assert_eq!(fib.next_hops.refs(a), 3);
        assert_eq!(fib.next_hops.get(a), Err(Reason::NextHopUnresolved));
        // The neighbour resolves: every route to it forwards at once.
        fib.next_hops.set_port_mac(1, [2, 0, 0, 0, 0, 0xaa]).unwrap();
        assert_eq!(fib.next_hops.neighbour(1, 0x0a00_0001, [2, 0, 0, 0, 0, 1], NhState::Resolved), 1);
        let nh = fib.v4.lookup(0x0a01_0203).map(|i| fib.next_hops.get(i));
        assert_eq!(nh, Some(Ok(NextHop::new(1, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 0xaa]))));
        // A route moved to another next hop releases the old one's reference.
        let other = NhKey { neighbour: 0x0a00_0002, ..gw };
        let d = fib.add_route(p("10.0.0.0/8"), other, Link::resolved(1, [2, 0, 0, 0, 0, 2])).unwrap();
        assert_ne!(d, a);
        assert_eq!((fib.next_hops.refs(a), fib.next_hops.refs(d)), (2, 1));
        fib.delete_route(p("8bit:7")).unwrap();
        fib.delete_route(p("flex:0a/8")).unwrap();
        assert_eq!(fib.next_hops.refs(a), 0, "freed with its last route");
        assert_eq!(fib.delete_route(p("flex:0a/8")), Err(FibError::NoSuchRoute));
        assert_eq!(fib.route(p("10.0.0.0/8")), Some(d));
        assert_eq!(fib.route(p("8bit:7")), None);
    }

    #[test]
    fn batches_install_every_type_and_count_references() {
        let p = |s: &str| Prefix::parse(s).unwrap();
        let fib = Fib::new(&FibConfig { v4_groups: 1, ..FibConfig::default() });
        let gw = NhKey { port: 0, neighbour: 1, to_hops: 1, to_delay_ns: 0 };
        let l = Link::resolved(0, [2, 0, 0, 0, 0, 1]);
        let routes = [(p("10.0.0.0/8"), gw, l), (p("2001:db8::/32"), gw, l), (p("16bit:5"), gw, l), (p("flex:0a0b/16"), gw, l), (p("10.1.1.1/32"), gw, l)];
        assert_eq!(fib.add_routes(&routes), Ok(5));
        let nh = fib.route(p("10.1.1.1/32")).unwrap();
        assert_eq!(fib.next_hops.refs(nh), 5);
        assert_eq!(fib.v4.lookup(0x0a01_0101), Some(nh));
        // The pool has one group: a second /32 elsewhere is refused, and its
        // next-hop reference is given back.
        let more = [(p("10.2.2.2/32"), NhKey { neighbour: 2, ..gw }, l), (p("8bit:1"), gw, l)];
        let r = fib.add_routes(&more);
        assert!(matches!(r, Err((1, FibError::GroupsExhausted { .. }))), "{r:?}");
        assert_eq!(fib.next_hops.refs(nh), 6, "the 8-bit route was added");
        assert_eq!(fib.next_hops.len(), 1, "the refused route's next hop is gone");
        assert_eq!(fib.v4.lookup(0x0a02_0202), Some(nh), "still the /8");
    }
}
