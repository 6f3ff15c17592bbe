#![no_main]
//! One arbitrary Ethernet frame through the whole forwarding stage of a fixed
//! test router (`newipd_core::path::harness::fuzz_one`), which must not panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    newipd_core::path::harness::fuzz_one(data);
});
