//! The build script of the DPDK layer (crates/dpdk names it; it sits here,
//! beside ffi/, at the workspace top): finds DPDK through pkg-config,
//! compiles the C shim in ffi/ with exactly the flags pkg-config gives, and
//! generates Rust bindings with bindgen. Only newipd-dpdk runs it, so the
//! pure crate (newipd-core) needs no C at all.

use std::path::PathBuf;
use std::process::Command;

const MIN_DPDK: &str = "22.11";
const INSTALL_HINT: &str = "newipd: DPDK >= 22.11 not found by pkg-config (libdpdk); \
install it with: apt-get install libdpdk-dev dpdk-dev pkg-config clang libclang-dev libpcap-dev";

fn main() {
    // Run from the package that names this script (crates/dpdk): ffi/ and
    // this file are two levels up.
    let top = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("../..");
    let ffi = top.join("ffi");
    println!("cargo:rerun-if-changed={}", top.join("build.rs").display());
    for f in ["newipd_ffi.h", "shim.c"] {
        println!("cargo:rerun-if-changed={}", ffi.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let lib = match pkg_config::Config::new()
        .atleast_version(MIN_DPDK)
        .cargo_metadata(true)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(_) => {
            eprintln!("{INSTALL_HINT}");
            std::process::exit(1);
        }
    };
    // pkg-config's full compile flags (includes, -include rte_config.h, the
    // -march DPDK itself was built for): the shim must see what DPDK saw.
    let cflags = pkg_config_cflags();

    let mut cc = cc::Build::new();
    cc.file(ffi.join("shim.c")).include(&ffi).opt_level(3).warnings(true);
    for f in &cflags {
        cc.flag(f);
    }
    cc.compile("newipd_shim");

    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut b = bindgen::Builder::default()
        .header(ffi.join("newipd_ffi.h").to_string_lossy())
        .clang_args(&cflags)
        .clang_args(lib.include_paths.iter().map(|p| format!("-I{}", p.display())))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .allowlist_function("newipd_.*")
        .allowlist_type("rte_mbuf")
        .allowlist_type("rte_eth_conf")
        .allowlist_type("rte_eth_dev_info")
        .allowlist_type("rte_eth_stats")
        .allowlist_type("rte_eth_link")
        .allowlist_type("rte_ether_addr")
        .allowlist_var("RTE_.*")
        .allowlist_var("RTE_MAX_LCORE")
        .allowlist_var("SOCKET_ID_ANY")
        .allowlist_var("RING_F_.*")
        .opaque_type("rte_mempool")
        .opaque_type("rte_lpm")
        .opaque_type("rte_ring")
        .blocklist_type("max_align_t");
    for f in [
        "rte_eal_init",
        "rte_eal_cleanup",
        "rte_eal_remote_launch",
        "rte_eal_wait_lcore",
        "rte_eal_mp_wait_lcore",
        "rte_lcore_count",
        "rte_get_next_lcore",
        "rte_get_main_lcore",
        "rte_lcore_to_socket_id",
        "rte_socket_id",
        "rte_get_tsc_hz",
        "rte_strerror",
        "rte_openlog_stream",
        "rte_log_get_stream",
        "rte_log_cur_msg_loglevel",
        "rte_pktmbuf_pool_create",
        "rte_mempool_in_use_count",
        "rte_mempool_avail_count",
        "rte_mempool_free",
        "rte_mempool_lookup",
        "rte_eth_dev_count_avail",
        "rte_eth_dev_get_port_by_name",
        "rte_eth_dev_get_name_by_port",
        "rte_eth_dev_info_get",
        "rte_eth_dev_configure",
        "rte_eth_dev_adjust_nb_rx_tx_desc",
        "rte_eth_rx_queue_setup",
        "rte_eth_tx_queue_setup",
        "rte_eth_dev_start",
        "rte_eth_dev_stop",
        "rte_eth_dev_close",
        "rte_eth_dev_socket_id",
        "rte_eth_macaddr_get",
        "rte_eth_link_get_nowait",
        "rte_eth_stats_get",
        "rte_eth_stats_reset",
        "rte_eth_promiscuous_enable",
        "rte_eth_dev_set_link_up",
        "rte_ring_create",
        "rte_ring_create_elem",
        "rte_ring_free",
        "rte_telemetry_register_cmd",
        "rte_tel_data_start_dict",
        "rte_tel_data_add_dict_u64",
        "rte_tel_data_add_dict_int",
        "rte_tel_data_add_dict_string",
        "rte_tel_data_add_dict_container",
        "rte_tel_data_alloc",
        "rte_tel_data_free",
        // The route tables benches/fib_compare.rs measures ours against.
        "rte_fib_create",
        "rte_fib_free",
        "rte_fib_add",
        "rte_fib_delete",
        "rte_fib_lookup_bulk",
        "rte_fib_select_lookup",
        "rte_fib6_create",
        "rte_fib6_free",
        "rte_fib6_add",
        "rte_fib6_delete",
        "rte_fib6_lookup_bulk",
        "rte_fib6_select_lookup",
        "rte_lpm_create",
        "rte_lpm_free",
        "rte_lpm_add",
        "rte_lpm_delete",
        "rte_lpm6_create",
        "rte_lpm6_free",
        "rte_lpm6_add",
        "rte_lpm6_delete",
        "rte_lpm6_lookup_bulk_func",
        "rte_malloc_get_socket_stats",
        "rte_malloc_heap_create",
        "rte_malloc_heap_memory_add",
        "rte_malloc_heap_get_socket",
    ] {
        b = b.allowlist_function(f);
    }
    b.generate()
        .unwrap_or_else(|e| {
            eprintln!("newipd: bindgen failed on ffi/newipd_ffi.h: {e} (is libclang-dev installed?)");
            std::process::exit(1);
        })
        .write_to_file(out.join("dpdk_bindings.rs"))
        .expect("write bindings");
}

/// `pkg-config --cflags libdpdk`, split into arguments.
fn pkg_config_cflags() -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .unwrap_or_else(|_| {
            eprintln!("{INSTALL_HINT}");
            std::process::exit(1);
        });
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}
