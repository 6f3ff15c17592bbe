//! Kernel TAP interfaces for host interfaces: created by newipd in its own
//! network namespace (gone when newipd closes them), with a port's MAC and
//! MTU, up, their carrier following the port's link. Frames are whole
//! Ethernet frames (`IFF_NO_PI`, no virtio-net header), read and written
//! without blocking; [`wait_readable`] sleeps until one of several has a
//! frame or a timeout passes. Only control threads call these: every call
//! is a system call.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A TAP interface newipd holds open.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
    ifindex: u32,
}

/// An `ifreq` naming `name` (at most 15 bytes), the rest zero.
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("'{name}' is not an interface name (1 to 15 bytes)")));
    }
    // SAFETY: ifreq is plain old data (a name array and a union of PODs); all zero is valid.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in r.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(r)
}

/// `ioctl(fd, req, ifr)`, its error with the request's name.
fn ioctl_ifr(fd: RawFd, req: libc::Ioctl, what: &str, ifr: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: ifr points to a valid, writable ifreq for the duration of the call.
    if unsafe { libc::ioctl(fd, req, ifr as *mut libc::ifreq) } < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

/// A datagram socket to configure interfaces with (SIOCSIF*).
fn config_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: s is a fresh fd nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(s) })
}

impl Tap {
    /// Create TAP `name` with `mac` and `mtu`, and set it up. Fails if the
    /// name is taken by another kind of interface or another process holds
    /// the TAP (`EBUSY`), without `CAP_NET_ADMIN` (`EPERM`), or with no
    /// `/dev/net/tun`.
    pub fn create(name: &str, mac: [u8; 6], mtu: u32) -> io::Result<Tap> {
        let path = CString::new("/dev/net/tun").expect("no NUL");
        // SAFETY: path is a valid C string; the fd is owned right away.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("open /dev/net/tun: {e}")));
        }
        // SAFETY: fd is a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut r = ifreq(name)?;
        r.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
        ioctl_ifr(fd.as_raw_fd(), libc::TUNSETIFF, "TUNSETIFF (create the TAP)", &mut r)?;
        let tap = Tap { fd, name: name.to_string(), ifindex: 0 };
        let s = config_socket()?;
        let mut r = ifreq(name)?;
        // SAFETY: writing the sockaddr member of a zeroed union.
        unsafe {
            r.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
            for (d, b) in r.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac) {
                *d = b as libc::c_char;
            }
        }
        ioctl_ifr(s.as_raw_fd(), libc::SIOCSIFHWADDR, "SIOCSIFHWADDR (set the MAC)", &mut r)?;
        let mut r = ifreq(name)?;
        r.ifr_ifru.ifru_mtu = mtu as libc::c_int;
        ioctl_ifr(s.as_raw_fd(), libc::SIOCSIFMTU, "SIOCSIFMTU (set the MTU)", &mut r)?;
        let mut r = ifreq(name)?;
        ioctl_ifr(s.as_raw_fd(), libc::SIOCGIFFLAGS, "SIOCGIFFLAGS", &mut r)?;
        // SAFETY: SIOCGIFFLAGS filled the flags member.
        unsafe { r.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        ioctl_ifr(s.as_raw_fd(), libc::SIOCSIFFLAGS, "SIOCSIFFLAGS (set it up)", &mut r)?;
        let cname = CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))?;
        // SAFETY: cname is a valid C string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Tap { ifindex, ..tap })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kernel's index of the interface.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Carrier on or off (the kernel's `LOWER_UP`), as the port's link is.
    pub fn set_carrier(&self, on: bool) -> io::Result<()> {
        let v: libc::c_int = on as libc::c_int;
        // SAFETY: TUNSETCARRIER reads one int through the pointer.
        if unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TUNSETCARRIER, &v as *const libc::c_int) } < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("TUNSETCARRIER: {e}")));
        }
        Ok(())
    }

    /// One frame the kernel sent, if there is one (`None`: nothing waiting).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: buf is valid for writes of buf.len() bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(n as usize))
    }

    /// Hand one frame to the kernel. `Ok(false)`: its queue is full (or
    /// the interface is down) and the frame was not taken.
    pub fn write(&self, frame: &[u8]) -> io::Result<bool> {
        // SAFETY: frame is valid for reads of frame.len() bytes.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) | Some(libc::EIO) => Ok(false),
                _ => Err(e),
            };
        }
        Ok(true)
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Sleep until one of `taps` has a frame to read or `timeout_ms` passed;
/// returns how many are readable (0: the timeout).
pub fn wait_readable(taps: &[&Tap], timeout_ms: i32) -> io::Result<usize> {
    let mut fds: Vec<libc::pollfd> = taps.iter().map(|t| libc::pollfd { fd: t.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    // SAFETY: fds is a valid array of fds.len() pollfd entries.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(0) } else { Err(e) };
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn ip(args: &[&str]) -> String {
        let o = Command::new("ip").args(args).output().expect("ip (iproute2)");
        assert!(o.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// In a network namespace of its own (this thread's, so nothing leaks
    /// into the host's): the TAP exists with the MAC and MTU asked, the
    /// carrier follows `set_carrier`, and the kernel answers an ARP request
    /// written into it with a reply read out of it.
    #[test]
    fn a_tap_carries_frames_both_ways_with_the_kernel() {
        std::thread::spawn(|| {
            // SAFETY: unshare(2) of this thread's network namespace; the
            // thread ends with the test and its namespace goes with it.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare: {}", io::Error::last_os_error());
            let mac = [0x02, 0x6e, 0x69, 0x70, 0x64, 0x01];
            let tap = Tap::create("niptest0", mac, 1400).expect("create TAP");
            let shown = ip(&["-o", "link", "show", "dev", "niptest0"]);
            assert!(shown.contains("02:6e:69:70:64:01") && shown.contains("mtu 1400"), "{shown}");
            tap.set_carrier(false).unwrap();
            assert!(ip(&["-o", "link", "show", "dev", "niptest0"]).contains("NO-CARRIER"));
            tap.set_carrier(true).unwrap();
            assert!(!ip(&["-o", "link", "show", "dev", "niptest0"]).contains("NO-CARRIER"));
            ip(&["addr", "add", "192.0.2.1/24", "dev", "niptest0"]);
            // Who has 192.0.2.1? tell 192.0.2.2 (at 02:00:00:00:00:02).
            let peer = [2, 0, 0, 0, 0, 2];
            let mut f = vec![0xff; 6];
            f.extend_from_slice(&peer);
            f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
            f.extend_from_slice(&peer);
            f.extend_from_slice(&[192, 0, 2, 2]);
            f.extend_from_slice(&[0; 6]);
            f.extend_from_slice(&[192, 0, 2, 1]);
            f.resize(60, 0);
            assert!(tap.write(&f).unwrap(), "the kernel took the request");
            let mut buf = [0u8; 2048];
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            let reply = loop {
                assert!(std::time::Instant::now() < deadline, "no ARP reply from the kernel");
                wait_readable(&[&tap], 100).unwrap();
                if let Some(n) = tap.read(&mut buf).unwrap() {
                    let r = &buf[..n];
                    // Skip the kernel's own traffic (IPv6 router solicitations, ...).
                    if r.len() >= 42 && r[12..14] == [0x08, 0x06] && r[20..22] == [0, 2] {
                        break r.to_vec();
                    }
                }
            };
            assert_eq!(&reply[0..6], &peer, "to the asker");
            assert_eq!(&reply[6..12], &mac, "from the TAP's MAC");
            assert_eq!(&reply[22..28], &mac, "sender hardware address");
            assert_eq!(&reply[28..32], &[192, 0, 2, 1]);
            assert!(Tap::create("niptest0", mac, 1400).is_err(), "a TAP held open by newipd cannot be taken twice");
        })
        .join()
        .unwrap();
    }
}
