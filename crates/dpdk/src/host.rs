//! What a vdev needs from the host, checked before `rte_eal_init`:
//!
//! * `net_tap`/`net_tun` with `iface=NAME`: a network interface of that name
//!   held open by another process is refused (two processes on one tap share
//!   it, and the one that stops first leaves it down);
//! * `net_memif` servers with a socket file (`socket-abstract=no`): a stale
//!   socket file (nothing listening: a killed server's) is removed, one a
//!   process listens on is refused; the server's own socket file is removed
//!   again when the process exits.

use super::{sys, DpdkError};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// One `--vdev` argument: the device name and its `key=value` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vdev {
    pub name: String,
    pub args: BTreeMap<String, String>,
}

impl Vdev {
    fn parse(devargs: &str) -> Vdev {
        let mut it = devargs.split(',');
        let name = it.next().unwrap_or("").trim().to_string();
        let args = it.filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
        Vdev { name, args }
    }

    fn driver_is(&self, prefix: &str) -> bool {
        self.name.starts_with(prefix)
    }

    /// A memif server's socket file: the path when it is a file in the
    /// file system (`socket-abstract=no`), not an abstract socket.
    pub fn memif_server_file(&self) -> Option<PathBuf> {
        if !self.driver_is("net_memif") || self.args.get("role").map(String::as_str) != Some("server") {
            return None;
        }
        if self.args.get("socket-abstract").map(String::as_str) != Some("no") {
            return None;
        }
        Some(PathBuf::from(self.args.get("socket").map(String::as_str).unwrap_or("/run/memif.sock")))
    }
}

/// The socket a memif *client* device (`net_memif...,role=client`)
/// connects to (DPDK's default `/run/memif.sock` when it names none);
/// `None` for any other device.
pub fn memif_client_socket(devargs: &str) -> Option<String> {
    let v = Vdev::parse(devargs);
    if !v.driver_is("net_memif") || v.args.get("role").map(String::as_str) != Some("client") {
        return None;
    }
    Some(v.args.get("socket").cloned().unwrap_or_else(|| "/run/memif.sock".to_string()))
}

/// The `--vdev` devices in EAL arguments (`--vdev X` and `--vdev=X`).
pub fn vdevs(args: &[String]) -> Vec<Vdev> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--vdev" {
            if let Some(v) = it.next() {
                out.push(Vdev::parse(v));
            }
        } else if let Some(v) = a.strip_prefix("--vdev=") {
            out.push(Vdev::parse(v));
        }
    }
    out
}

/// Check the host for every vdev in `args`, before the EAL starts.
pub(crate) fn before_init(args: &[String]) -> Result<(), DpdkError> {
    for v in vdevs(args) {
        if v.driver_is("net_tap") || v.driver_is("net_tun") {
            if let Some(iface) = v.args.get("iface") {
                check_iface_free(&v.name, iface)?;
            }
        }
        if let Some(path) = v.memif_server_file() {
            clear_stale_socket(&v.name, &path)?;
        }
    }
    Ok(())
}

/// Processes holding a tun/tap file descriptor attached to `iface` (from
/// /proc/PID/fdinfo, whose `iff:` line names it), as (pid, command).
pub fn tap_holders(iface: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return out };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        let held = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|t| t == Path::new("/dev/net/tun"))
                && std::fs::read_to_string(p.path().join("fdinfo").join(fd.file_name()))
                    .is_ok_and(|info| info.lines().any(|l| l.strip_prefix("iff:").is_some_and(|n| n.trim() == iface)))
        });
        if held {
            let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default().trim().to_string();
            out.push((pid, comm));
        }
    }
    out
}

/// `iface` must not be a network interface another process holds (or one
/// that is not a tap at all); a persistent tap nobody holds may be taken.
fn check_iface_free(dev: &str, iface: &str) -> Result<(), DpdkError> {
    let sys_net = Path::new("/sys/class/net").join(iface);
    if !sys_net.exists() {
        return Ok(());
    }
    let holders = tap_holders(iface);
    let persistent = std::fs::read_to_string(sys_net.join("tun_flags"))
        .ok()
        .and_then(|t| u32::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok())
        .map(|f| f & 0x0800 != 0); // IFF_PERSIST
    let shared = "two processes on one tap would share it, and the first to stop would leave it down; stop the other process, or give this port another iface=";
    let msg = match (holders.as_slice(), persistent) {
        ([], Some(true)) => return Ok(()),
        ([], None) => format!("{dev}: a network interface named '{iface}' already exists and is not a tap ({}): give this port another iface=", sys_net.display()),
        ([], Some(false)) => format!("{dev}: the tap '{iface}' already exists and is in use by a process newipd cannot see: {shared}"),
        (h, _) => {
            let who: Vec<String> = h.iter().map(|(pid, comm)| format!("process {pid} ({comm})")).collect();
            format!("{dev}: the tap '{iface}' is already in use by {}: {shared}", who.join(", "))
        }
    };
    Err(DpdkError::Busy(msg))
}

/// A memif server's socket file left by a server that is gone (nothing
/// listening: connecting is refused) is removed; one a process listens on is refused.
fn clear_stale_socket(dev: &str, path: &Path) -> Result<(), DpdkError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return Ok(()) };
    if !meta.file_type().is_socket() {
        return Ok(()); // not ours to remove: the driver says what it makes of it
    }
    // memif listens on a SOCK_SEQPACKET socket: a stream connection to a live
    // one fails with EPROTOTYPE, to a file nobody is bound to with ECONNREFUSED.
    let live = match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => true,
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => true,
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => false,
        Err(_) => return Ok(()), // cannot tell (permissions, ...): left to the driver
    };
    if live {
        return Err(DpdkError::Busy(format!(
            "{dev}: memif socket {} is in use: a process is listening on it (another memif server on the same socket=?); stop it, or give this port another socket=",
            path.display()
        )));
    }
    std::fs::remove_file(path).map_err(|e| DpdkError::Busy(format!("{dev}: stale memif socket {}: cannot remove it: {e}", path.display())))?;
    eprintln!("newipd: {dev}: removed the stale memif socket {} (nothing was listening on it)", path.display());
    Ok(())
}

/// The socket files this process's memif servers made: (path, device, inode).
static OWN_SOCKETS: Mutex<Vec<(PathBuf, u64, u64)>> = Mutex::new(Vec::new());

/// After `rte_eal_init`: the socket files of memif servers that came up are
/// this process's; remove them when it exits.
pub(crate) fn after_init(args: &[String]) {
    let mut own = OWN_SOCKETS.lock().unwrap_or_else(|e| e.into_inner());
    for v in vdevs(args) {
        let Some(path) = v.memif_server_file() else { continue };
        let Ok(name) = CString::new(v.name.as_str()) else { continue };
        let mut id = 0u16;
        // SAFETY: a valid C string and out-pointer.
        if unsafe { sys::rte_eth_dev_get_port_by_name(name.as_ptr(), &mut id) } != 0 {
            continue; // it did not come up: the file, if any, is not ours
        }
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if m.file_type().is_socket() && !own.iter().any(|(p, _, _)| *p == path) {
                own.push((path, m.dev(), m.ino()));
            }
        }
    }
    if !own.is_empty() {
        static AT_EXIT: Once = Once::new();
        // SAFETY: registers a function without arguments that only removes files.
        AT_EXIT.call_once(|| unsafe {
            libc::atexit(remove_own_sockets);
        });
    }
}

/// At exit: remove our memif socket files (if they are still the ones we made).
extern "C" fn remove_own_sockets() {
    let own = OWN_SOCKETS.lock().unwrap_or_else(|e| e.into_inner());
    for (path, dev, ino) in own.iter() {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.dev() == *dev && m.ino() == *ino) {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn finds_vdevs_in_both_spellings() {
        let v = vdevs(&s(&["newipd", "-l", "0", "--vdev", "net_tap0,iface=a", "--vdev=net_memif1,role=server,socket=/t/s,socket-abstract=no", "--vdev"]));
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].name, "net_tap0");
        assert_eq!(v[0].args["iface"], "a");
        assert_eq!(v[1].memif_server_file(), Some(PathBuf::from("/t/s")));
    }

    #[test]
    fn only_memif_servers_with_a_socket_file_have_one() {
        let file = |d: &str| Vdev::parse(d).memif_server_file();
        assert_eq!(file("net_memif0,role=client,socket=/t/s,socket-abstract=no"), None);
        assert_eq!(memif_client_socket("net_memif0,role=client,socket=/t/s,socket-abstract=no").as_deref(), Some("/t/s"));
        assert_eq!(memif_client_socket("net_memif3,role=client").as_deref(), Some("/run/memif.sock"));
        assert_eq!(memif_client_socket("net_memif0,role=server,socket=/t/s"), None);
        assert_eq!(memif_client_socket("net_memif0,socket=/t/s"), None, "server is memif's default role");
        assert_eq!(memif_client_socket("net_pcap0,role=client,socket=/t/s"), None);
        assert_eq!(file("net_memif0,role=server,socket=/t/s"), None, "abstract by default");
        assert_eq!(file("net_memif0,role=server,socket-abstract=no"), Some(PathBuf::from("/run/memif.sock")));
        assert_eq!(file("net_pcap0,role=server,socket=/t/s,socket-abstract=no"), None);
    }

    #[test]
    fn a_stale_socket_goes_a_live_one_stays() {
        let dir = std::env::temp_dir().join(format!("newipd-host-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let stale = dir.join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        assert!(stale.exists());
        clear_stale_socket("net_memif0", &stale).unwrap();
        assert!(!stale.exists(), "nothing listened: removed");

        let live = dir.join("live.sock");
        let _l = std::os::unix::net::UnixListener::bind(&live).unwrap();
        let e = clear_stale_socket("net_memif0", &live).unwrap_err().to_string();
        assert!(e.contains("is in use") && e.contains("live.sock"), "{e}");
        assert!(live.exists(), "a live socket stays");

        let plain = dir.join("plain");
        std::fs::write(&plain, "x").unwrap();
        clear_stale_socket("net_memif0", &plain).unwrap();
        assert!(plain.exists(), "not a socket: left alone");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_interface_that_is_not_a_tap_is_refused() {
        assert!(check_iface_free("net_tap0", "nonexistent-if-x").is_ok());
        let e = check_iface_free("net_tap0", "lo").unwrap_err().to_string();
        assert!(e.contains("'lo' already exists and is not a tap"), "{e}");
    }
}
