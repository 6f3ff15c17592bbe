//! DPDK telemetry commands, readable with `dpdk-telemetry.py` on the socket
//! under the EAL runtime directory. The daemon says which commands exist and
//! how to answer them (as plain [`TelValue`] data); this module hands the
//! answers to DPDK.

use super::{strerror, sys, DpdkError};
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::OnceLock;

/// A telemetry value: a number, text, or a dictionary of numbers and text.
#[derive(Debug, Clone, PartialEq)]
pub enum TelValue {
    U64(u64),
    /// A signed number (DPDK 22.11 carries these as C `int`: saturated to its range).
    Int(i64),
    Str(String),
    Dict(Vec<(String, TelValue)>),
}

/// Answers a command with its top-level dictionary (None: unknown command).
pub type Answer = Box<dyn Fn(&str) -> Option<Vec<(String, TelValue)>> + Send + Sync>;

static SOURCE: OnceLock<Answer> = OnceLock::new();

/// Register `commands` (name, help text) once per process; DPDK's telemetry
/// thread gets their answers from `answer`.
pub fn register(commands: &[(&str, &str)], answer: Answer) -> Result<(), DpdkError> {
    if SOURCE.set(answer).is_err() {
        return Ok(()); // already registered
    }
    for &(cmd, help) in commands {
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
    match SOURCE.get().and_then(|answer| answer(&cmd)) {
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
