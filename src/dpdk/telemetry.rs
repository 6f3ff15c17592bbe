//! newipd's DPDK telemetry commands (`/newipd/stats`, `/newipd/ports`, ...),
//! answered from the latest snapshot of the stats thread, readable with
//! `dpdk-telemetry.py` on the socket under the EAL runtime directory.

use super::{strerror, sys, DpdkError};
use crate::stats::exporter::Latest;
use crate::stats::snapshot::Snapshot;
use crate::stats::telemetry::{answer, TelValue, COMMANDS};
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::{Arc, OnceLock};

static SOURCE: OnceLock<Arc<Latest>> = OnceLock::new();

/// Register every command once per process; they answer from `latest`.
pub fn register(latest: Arc<Latest>) -> Result<(), DpdkError> {
    if SOURCE.set(latest).is_err() {
        return Ok(()); // already registered
    }
    for (cmd, help) in COMMANDS {
        let c = CString::new(cmd).expect("command names have no NUL");
        let h = CString::new(help).expect("help texts have no NUL");
        // SAFETY: both strings are valid C strings (DPDK copies them); callback has the telemetry_cb signature.
        let rc = unsafe { sys::rte_telemetry_register_cmd(c.as_ptr(), Some(callback), h.as_ptr()) };
        if rc != 0 {
            return Err(DpdkError::Call { call: "rte_telemetry_register_cmd", what: cmd.to_string(), reason: strerror(rc) });
        }
    }
    Ok(())
}

/// Called by DPDK's telemetry thread for one of our commands.
extern "C" fn callback(cmd: *const c_char, _params: *const c_char, d: *mut sys::rte_tel_data) -> c_int {
    if cmd.is_null() || d.is_null() {
        return -1;
    }
    // SAFETY: DPDK passes the NUL-terminated command string it matched.
    let cmd = unsafe { CStr::from_ptr(cmd) }.to_string_lossy();
    let snap = SOURCE.get().and_then(|l| l.get()).unwrap_or_else(|| Arc::new(Snapshot::default()));
    match answer(&cmd, &snap) {
        Some(top) => fill(d, &top),
        None => -1,
    }
}

/// Write a dictionary (one level of nested dictionaries) into `d`.
fn fill(d: *mut sys::rte_tel_data, entries: &[(String, TelValue)]) -> c_int {
    // SAFETY: d is the live data structure DPDK handed to the callback (or a container we allocated).
    if unsafe { sys::rte_tel_data_start_dict(d) } != 0 {
        return -1;
    }
    for (k, v) in entries {
        let Ok(name) = CString::new(k.as_str()) else { continue };
        match v {
            // SAFETY: d is a started dict; name is a valid C string DPDK copies.
            TelValue::U64(n) => unsafe {
                sys::rte_tel_data_add_dict_u64(d, name.as_ptr(), *n);
            },
            TelValue::Int(n) => {
                let v = (*n).clamp(c_int::MIN as i64, c_int::MAX as i64) as c_int;
                // SAFETY: d is a started dict; name is a valid C string DPDK copies.
                unsafe { sys::rte_tel_data_add_dict_int(d, name.as_ptr(), v) };
            }
            TelValue::Str(s) => {
                let Ok(val) = CString::new(s.as_str()) else { continue };
                // SAFETY: as above; DPDK copies the value.
                unsafe { sys::rte_tel_data_add_dict_string(d, name.as_ptr(), val.as_ptr()) };
            }
            TelValue::Dict(inner) => {
                // SAFETY: plain allocation of a container; NULL on failure.
                let c = unsafe { sys::rte_tel_data_alloc() };
                if c.is_null() {
                    continue;
                }
                let inner_ok = fill(c, inner) == 0;
                // SAFETY: c is a filled dict container; keep = 0 hands it to DPDK, which frees it.
                if !inner_ok || unsafe { sys::rte_tel_data_add_dict_container(d, name.as_ptr(), c, 0) } != 0 {
                    // SAFETY: DPDK did not take c: free it here.
                    unsafe { sys::rte_tel_data_free(c) };
                }
            }
        }
    }
    0
}
