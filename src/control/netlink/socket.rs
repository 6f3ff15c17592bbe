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
use nix::errno::Errno;
use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders};
use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// The receive buffer asked for by default: 256 MiB. The kernel doubles
/// the number for its bookkeeping and counts every queued notification's
/// whole buffer against it (about 1 KiB for a 100-byte route notification),
/// so this holds about half a million notifications while the mirror is
/// behind (a full table arriving at the kernel's pace); past that the socket
/// overruns and the mirror resyncs, which costs a full dump. Memory is only
/// taken while notifications wait.
pub const DEFAULT_RCVBUF: usize = 256 << 20;

/// What one read brought.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// This many datagrams, in [`NlSocket::datagrams`].
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
/// own cap); a notification is smaller. Each read slot starts with that.
const START_BUF: usize = 32 << 10;

/// Datagrams one read takes at most (one system call: a burst of route
/// notifications comes one datagram each).
const BATCH: usize = 64;

pub struct NlSocket {
    sock: Socket,
    port: u32,
    /// One buffer per datagram of a read, all of the same size.
    slots: Vec<Vec<u8>>,
    /// The length of each datagram the last read brought.
    lens: Vec<usize>,
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
        Ok(NlSocket {
            sock,
            port: addr.port_number(),
            slots: vec![vec![0; START_BUF]; BATCH],
            lens: Vec::with_capacity(BATCH),
            seq: 0,
            rcvbuf,
        })
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

    /// Reads the datagrams waiting, up to [`BATCH`] in one system call
    /// (blocking up to the receive timeout for the first).
    pub fn read(&mut self) -> io::Result<Read> {
        self.lens.clear();
        let slot = self.slots[0].len();
        // Made per read (two small allocations a system call): the headers
        // hold raw pointers, so they may not move to the mirror's thread.
        let mut headers = MultiHeaders::<()>::preallocate(BATCH, None);
        let mut iovs: Vec<[IoSliceMut; 1]> = self.slots.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        // MSG_TRUNC: netlink then gives each datagram's whole length, so a
        // cut one shows; MSG_WAITFORONE: wait for the first only.
        let flags = MsgFlags::MSG_TRUNC | MsgFlags::MSG_WAITFORONE;
        match recvmmsg(self.sock.as_raw_fd(), &mut headers, iovs.iter_mut(), flags, None) {
            Ok(got) => self.lens.extend(got.map(|m| m.bytes)),
            Err(Errno::ENOBUFS) => return Ok(Read::Overrun),
            Err(Errno::EAGAIN | Errno::EINTR) => return Ok(Read::Timeout),
            Err(e) => return Err(e.into()),
        }
        if let Some(&n) = self.lens.iter().find(|&&n| n > slot) {
            // Cut: that message is lost. Make room for the next one.
            let grown = n.next_power_of_two();
            self.slots.iter_mut().for_each(|b| b.resize(grown, 0));
            self.lens.clear();
            return Ok(Read::Overrun);
        }
        Ok(Read::Data(self.lens.len()))
    }

    /// The datagrams of the last [`Read::Data`], in order.
    pub fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        self.slots.iter().zip(&self.lens).map(|(b, &n)| &b[..n])
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
