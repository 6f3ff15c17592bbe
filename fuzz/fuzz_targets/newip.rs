#![no_main]
//! The New IP parser, contract walk, setters, address swap, packet wash and
//! IPv6 Hop-by-Hop finder on one Ethernet frame; see `src/check.rs` for the
//! input layout and the invariants.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    newipd_fuzz::check::check_frame(data);
});
