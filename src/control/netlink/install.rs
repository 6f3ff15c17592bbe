//! `newipd install-routes`: put route files (the `ip -batch` files `newipd
//! gen-routes` writes) into the kernel of this network namespace over
//! rtnetlink, many requests to a send, as FRR's zebra batches its dataplane
//! updates. `ip -batch` sends one request and waits for its answer before
//! the next: on this project's 2-CPU VM that costs 8 s for a full table
//! (1 M IPv4 + 220 k IPv6 routes) against about 3 s here.
//!
//! Each batch (up to [`BATCH_BYTES`]) asks for an acknowledgement of its
//! last request only; the kernel answers every failed request anyway, in
//! order, so reading up to that acknowledgement gives every error of the
//! batch (mapped back to its file and line) and keeps at most one batch in
//! flight.

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::collections::HashMap;
use std::io::{self, BufRead};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Requests per send, at most this many bytes (the kernel refuses a send
/// larger than the socket's send buffer, which is set above it).
pub const BATCH_BYTES: usize = 192 << 10;
/// Errors printed in full; the rest are counted.
const SHOWN_ERRORS: usize = 10;

/// What a line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Del,
}

/// One route request: `route add|replace|del PREFIX [via GATEWAY] [dev NAME] [metric N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub op: Op,
    pub dst: IpAddr,
    pub len: u8,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
}

/// Reads one line of a route file: `None` for blank lines and comments.
pub fn parse_line(line: &str) -> Result<Option<Request>, String> {
    let line = line.split('#').next().unwrap_or("").trim();
    if line.is_empty() {
        return Ok(None);
    }
    let mut w = line.split_whitespace();
    let mut word = w.next();
    if word == Some("-6") || word == Some("-4") {
        word = w.next();
    }
    if word != Some("route") {
        return Err(format!("'{line}': only `route add|replace|del PREFIX [via GATEWAY] [dev NAME] [metric N]` lines are read (write the route set without --nexthop-dev)"));
    }
    let op = match w.next() {
        Some("add") => Op::Add,
        Some("replace") => Op::Replace,
        Some("del") | Some("delete") => Op::Del,
        other => return Err(format!("'{line}': want add, replace or del after `route`, not {other:?}")),
    };
    let pfx = w.next().ok_or_else(|| format!("'{line}': no prefix"))?;
    let (a, l) = pfx.split_once('/').unwrap_or((pfx, ""));
    let dst: IpAddr = a.parse().map_err(|_| format!("'{line}': '{a}' is not an IP address"))?;
    let max = if dst.is_ipv4() { 32 } else { 128 };
    let len = if l.is_empty() { max } else { l.parse::<u8>().ok().filter(|&n| n <= max).ok_or_else(|| format!("'{line}': bad prefix length '{l}'"))? };
    let mut r = Request { op, dst, len, via: None, dev: None, metric: None };
    while let Some(k) = w.next() {
        let v = w.next().ok_or_else(|| format!("'{line}': '{k}' needs a value"))?;
        match k {
            "via" => {
                let g: IpAddr = v.parse().map_err(|_| format!("'{line}': gateway '{v}' is not an IP address"))?;
                if g.is_ipv4() != dst.is_ipv4() {
                    return Err(format!("'{line}': gateway {g} is not of the prefix's family"));
                }
                r.via = Some(g);
            }
            "dev" => r.dev = Some(v.to_string()),
            "metric" | "preference" | "priority" => r.metric = Some(v.parse().map_err(|_| format!("'{line}': bad metric '{v}'"))?),
            _ => return Err(format!("'{line}': unknown keyword '{k}' (read: via, dev, metric)")),
        }
    }
    Ok(Some(r))
}

/// The rtnetlink request for `r` (interface names already resolved).
fn message(r: &Request, oif: Option<u32>, seq: u32, ack: bool) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = RouteMessage::default();
    m.header = RouteHeader {
        address_family: if r.dst.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 },
        destination_prefix_length: r.len,
        table: RouteHeader::RT_TABLE_MAIN,
        protocol: RouteProtocol::Boot,
        scope: if r.via.is_none() && r.op != Op::Del { RouteScope::Link } else { RouteScope::Universe },
        kind: RouteType::Unicast,
        ..m.header
    };
    m.attributes.push(RouteAttribute::Destination(RouteAddress::from(r.dst)));
    if let Some(g) = r.via {
        m.attributes.push(RouteAttribute::Gateway(RouteAddress::from(g)));
    }
    if let Some(i) = oif {
        m.attributes.push(RouteAttribute::Oif(i));
    }
    if let Some(p) = r.metric {
        m.attributes.push(RouteAttribute::Priority(p));
    }
    let (payload, flags) = match r.op {
        Op::Add => (RouteNetlinkMessage::NewRoute(m), NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL),
        Op::Replace => (RouteNetlinkMessage::NewRoute(m), NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE),
        Op::Del => (RouteNetlinkMessage::DelRoute(m), NLM_F_REQUEST),
    };
    let mut msg = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(payload));
    msg.header.flags = flags | if ack { NLM_F_ACK } else { 0 };
    msg.header.sequence_number = seq;
    msg.finalize();
    msg
}

/// The index of interface `name` in this namespace.
fn ifindex(name: &str, cache: &mut HashMap<String, u32>) -> Result<u32, String> {
    if let Some(&i) = cache.get(name) {
        return Ok(i);
    }
    let p = Path::new("/sys/class/net").join(name).join("ifindex");
    let i = std::fs::read_to_string(&p)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("no interface named '{name}' in this network namespace"))?;
    cache.insert(name.to_string(), i);
    Ok(i)
}

/// What an install did.
#[derive(Debug, Default)]
pub struct Installed {
    pub requests: u64,
    pub failed: u64,
    pub seconds: f64,
    /// The first failures: "FILE:LINE: request: error".
    pub errors: Vec<String>,
}

/// Where a request came from.
struct Origin {
    file: usize,
    line: u32,
}

/// Install the route files, in order.
pub fn install(files: &[PathBuf]) -> Result<Installed, String> {
    let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| format!("netlink socket: {e}"))?;
    sock.bind_auto().map_err(|e| format!("netlink bind: {e}"))?;
    let sndbuf = BATCH_BYTES * 2;
    if nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::SndBufForce, &sndbuf).is_err() {
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::SndBuf, &sndbuf).map_err(|e| format!("netlink send buffer: {e}"))?;
    }
    sock.set_rx_buf_sz(4 << 20).map_err(|e| format!("netlink receive buffer: {e}"))?;
    let t = Instant::now();
    let mut done = Installed::default();
    let mut names = HashMap::new();
    let mut batch: Vec<u8> = Vec::with_capacity(BATCH_BYTES + 4096);
    let mut origins: Vec<Origin> = Vec::new();
    let mut pending: Option<Request> = None;
    let mut first_seq = 1u32;
    let mut seq = 0u32;
    let mut reply = Vec::with_capacity(1 << 16);
    for (fi, f) in files.iter().enumerate() {
        let file = std::fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let mut lines = io::BufReader::with_capacity(1 << 20, file).lines();
        let mut n = 0u32;
        loop {
            let next = match lines.next() {
                Some(l) => {
                    n += 1;
                    let l = l.map_err(|e| format!("{}: {e}", f.display()))?;
                    match parse_line(&l).map_err(|e| format!("{}:{n}: {e}", f.display()))? {
                        Some(r) => Some(r),
                        None => continue,
                    }
                }
                None => None,
            };
            // One request behind: the last of a batch carries the ack flag.
            if let Some(r) = pending.take() {
                let oif = r.dev.as_deref().map(|d| ifindex(d, &mut names)).transpose().map_err(|e| format!("{}:{}: {e}", f.display(), origins.last().map_or(0, |o| o.line)))?;
                seq = seq.wrapping_add(1);
                let size_next = batch.len() + 128;
                let last = next.is_none() || size_next >= BATCH_BYTES;
                let m = message(&r, oif, seq, last);
                let at = batch.len();
                batch.resize(at + m.buffer_len(), 0);
                m.serialize(&mut batch[at..]);
                done.requests += 1;
                if last {
                    flush(&mut sock, &mut batch, &origins, first_seq, seq, files, &mut reply, &mut done)?;
                    origins.clear();
                    first_seq = seq.wrapping_add(1);
                }
            }
            match next {
                Some(r) => {
                    origins.push(Origin { file: fi, line: n });
                    pending = Some(r);
                }
                None => break,
            }
        }
    }
    done.seconds = t.elapsed().as_secs_f64();
    Ok(done)
}

/// Send one batch and read the kernel's answers up to the acknowledgement
/// of its last request (`last_seq`).
#[allow(clippy::too_many_arguments)]
fn flush(sock: &mut Socket, batch: &mut Vec<u8>, origins: &[Origin], first_seq: u32, last_seq: u32, files: &[PathBuf], reply: &mut Vec<u8>, done: &mut Installed) -> Result<(), String> {
    sock.send_to(batch, &SocketAddr::new(0, 0), 0).map_err(|e| format!("netlink send: {e}"))?;
    batch.clear();
    loop {
        reply.clear();
        let n = sock.recv(reply, 0).map_err(|e| format!("netlink receive: {e}"))?;
        for m in super::socket::messages(&reply[..n]) {
            let ty = u16::from_ne_bytes([m[4], m[5]]);
            let s = u32::from_ne_bytes([m[8], m[9], m[10], m[11]]);
            // NLMSG_ERROR: an i32 error code (0: the acknowledgement).
            if ty == 2 && m.len() >= 20 {
                let code = i32::from_ne_bytes([m[16], m[17], m[18], m[19]]);
                if code != 0 {
                    done.failed += 1;
                    if done.errors.len() < SHOWN_ERRORS {
                        let o = origins.get(s.wrapping_sub(first_seq) as usize);
                        let at = o.map_or("?".to_string(), |o| format!("{}:{}", files[o.file].display(), o.line));
                        done.errors.push(format!("{at}: {}", io::Error::from_raw_os_error(-code)));
                    }
                }
                if s == last_seq {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_ip_batch_files_are_read_and_others_refused() {
        let r = parse_line("route add 10.1.0.0/16 via 10.0.2.3").unwrap().unwrap();
        assert_eq!((r.op, r.dst, r.len, r.via), (Op::Add, "10.1.0.0".parse().unwrap(), 16, Some("10.0.2.3".parse().unwrap())));
        let r = parse_line("-6 route del 2001:db8::/32 dev hi0 metric 20 # why").unwrap().unwrap();
        assert_eq!((r.op, r.len, r.dev.as_deref(), r.metric), (Op::Del, 32, Some("hi0"), Some(20)));
        assert_eq!(parse_line("route replace 10.0.0.1").unwrap().unwrap().len, 32);
        assert_eq!(parse_line("   # nothing").unwrap(), None);
        for bad in ["nexthop add id 1 via 10.0.2.2 dev x", "route add 10.0.0.0/33", "route add 10.0.0.0/8 via fd00::1", "route add x/8", "route flush", "route add 10.0.0.0/8 via"] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_carry_the_family_prefix_gateway_and_the_ack_only_when_asked() {
        let r = parse_line("route add 10.1.0.0/16 via 10.0.2.3 metric 7").unwrap().unwrap();
        let m = message(&r, Some(4), 9, false);
        assert_eq!(m.header.sequence_number, 9);
        assert_eq!(m.header.flags & NLM_F_ACK, 0);
        assert_ne!(m.header.flags & NLM_F_EXCL, 0);
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(rm)) = &m.payload else { panic!("not a new route") };
        assert_eq!(rm.header.destination_prefix_length, 16);
        assert!(rm.attributes.contains(&RouteAttribute::Gateway(RouteAddress::Inet("10.0.2.3".parse().unwrap()))));
        assert!(rm.attributes.contains(&RouteAttribute::Oif(4)));
        assert!(rm.attributes.contains(&RouteAttribute::Priority(7)));
        let d = parse_line("route del 2001:db8::/32").unwrap().unwrap();
        let m = message(&d, None, 10, true);
        assert_ne!(m.header.flags & NLM_F_ACK, 0);
        assert!(matches!(m.payload, NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(_))));
    }
}
