//! The NETLINK_ROUTE socket: joined to the groups the mirror follows, with a
//! bounded receive buffer and a receive timeout (so its thread can be told
//! to stop), asking for dumps and handing over what it reads.
//!
//! Everything here is netlink-sys's and nix's safe API.

use super::model::Kind;
use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::neighbour::NeighbourMessage;
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
use std::time::Duration;

/// The receive buffer asked for by default: 4 MiB. The kernel doubles the
/// number for its bookkeeping and counts every queued notification's whole
/// buffer against it (about 1 KiB for a 100-byte route notification), so
/// this holds a few thousand notifications while the mirror is busy; past
/// that the socket overruns and the mirror resyncs.
pub const DEFAULT_RCVBUF: usize = 4 << 20;

/// What one read brought.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// This many bytes of messages, in [`NlSocket::data`].
    Data(usize),
    /// Nothing within the receive timeout.
    Timeout,
    /// The kernel dropped notifications (ENOBUFS), or a message was larger
    /// than the buffer and was cut (the buffer has grown for the next one).
    Overrun,
}

/// The groups the mirror joins: links, IPv4 and IPv6 addresses and routes,
/// neighbours (ARP and NDP both come through RTNLGRP_NEIGH).
const GROUPS: [u32; 6] = [
    libc::RTNLGRP_LINK,
    libc::RTNLGRP_IPV4_IFADDR,
    libc::RTNLGRP_IPV6_IFADDR,
    libc::RTNLGRP_IPV4_ROUTE,
    libc::RTNLGRP_IPV6_ROUTE,
    libc::RTNLGRP_NEIGH,
];

/// A dump's largest part is one page-sized skb up to 32 KiB (the kernel's
/// own cap); a notification is smaller. Start with twice that.
const START_BUF: usize = 64 << 10;

pub struct NlSocket {
    sock: Socket,
    port: u32,
    buf: Vec<u8>,
    seq: u32,
    rcvbuf: usize,
}

impl NlSocket {
    /// Opens the socket, sets its receive buffer to `rcvbuf` bytes
    /// (SO_RCVBUFFORCE where allowed, so net.core.rmem_max does not cap it;
    /// SO_RCVBUF otherwise) and joins the groups. Join before the first
    /// dump: a change made during the dump then comes as a notification.
    pub fn open(rcvbuf: usize, timeout: Duration) -> io::Result<NlSocket> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        let addr = sock.bind_auto()?;
        if nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::RcvBufForce, &rcvbuf).is_err() {
            sock.set_rx_buf_sz(rcvbuf)?;
        }
        let rcvbuf = sock.get_rx_buf_sz()?;
        let tv = nix::sys::time::TimeVal::new(timeout.as_secs() as i64, timeout.subsec_micros() as i64);
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReceiveTimeout, &tv).map_err(io::Error::from)?;
        for g in GROUPS {
            sock.add_membership(g)?;
        }
        Ok(NlSocket { sock, port: addr.port_number(), buf: Vec::with_capacity(START_BUF), seq: 0, rcvbuf })
    }

    /// The receive buffer the kernel granted (already doubled).
    pub fn rcvbuf(&self) -> usize {
        self.rcvbuf
    }

    /// The socket's netlink port: dump replies are addressed to it.
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Asks for a dump of `kind`; returns the sequence number its parts carry.
    pub fn request_dump(&mut self, kind: Kind) -> io::Result<u32> {
        let msg = match kind {
            Kind::Links => RouteNetlinkMessage::GetLink(LinkMessage::default()),
            Kind::Addresses => RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            Kind::Routes4 | Kind::Routes6 => {
                let mut m = RouteMessage::default();
                m.header.address_family = if kind == Kind::Routes6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
                RouteNetlinkMessage::GetRoute(m)
            }
            Kind::Neighbours4 | Kind::Neighbours6 => {
                let mut m = NeighbourMessage::default();
                m.header.family = if kind == Kind::Neighbours6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
                RouteNetlinkMessage::GetNeighbour(m)
            }
        };
        self.seq = self.seq.wrapping_add(1).max(1);
        let mut req = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(msg));
        req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.header.sequence_number = self.seq;
        req.finalize();
        let mut bytes = vec![0; req.buffer_len()];
        req.serialize(&mut bytes);
        self.sock.send_to(&bytes, &SocketAddr::new(0, 0), 0)?;
        Ok(self.seq)
    }

    /// Reads one datagram (blocking up to the receive timeout).
    pub fn read(&mut self) -> io::Result<Read> {
        self.buf.clear();
        match self.sock.recv(&mut self.buf, libc::MSG_TRUNC) {
            Ok(n) if n > self.buf.capacity() => {
                // Cut: that message is lost. Make room for the next one.
                self.buf.clear();
                self.buf.reserve(n.next_power_of_two());
                Ok(Read::Overrun)
            }
            Ok(n) => Ok(Read::Data(n)),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => Ok(Read::Overrun),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => Ok(Read::Timeout),
            Err(e) => Err(e),
        }
    }

    /// The bytes of the last [`Read::Data`].
    pub fn data(&self) -> &[u8] {
        &self.buf
    }
}

/// The netlink messages in a datagram, each as its own byte slice (a
/// malformed length ends the walk).
pub fn messages(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut off = 0;
    std::iter::from_fn(move || {
        let rest = data.get(off..)?;
        let len = u32::from_ne_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        if len < 16 || len > rest.len() {
            return None;
        }
        off += (len + 3) & !3;
        Some(&rest[..len])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_walk_aligned_lengths_and_stop_at_garbage() {
        let mut d = Vec::new();
        for len in [16u32, 18, 20] {
            let mut m = vec![0u8; len as usize];
            m[..4].copy_from_slice(&len.to_ne_bytes());
            d.extend(&m);
            while d.len() % 4 != 0 {
                d.push(0);
            }
        }
        d.extend(&[3, 0, 0, 0]);
        let lens: Vec<usize> = messages(&d).map(|m| m.len()).collect();
        assert_eq!(lens, vec![16, 18, 20]);
        assert_eq!(messages(&[]).count(), 0);
        assert_eq!(messages(&[200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).count(), 0, "a length past the end");
    }
}
