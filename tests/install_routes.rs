//! `newipd install-routes` against the real kernel, in a namespace of the
//! test's own: every route of a file arrives (both families, gateways,
//! devices, metrics, replace and delete), more routes than one batch holds
//! included; a request the kernel refuses is reported with its file and
//! line and a non-zero exit; a line it cannot read is refused by line
//! number.

mod common;
use common::netns::*;
use common::*;
use std::collections::BTreeSet;

/// The destinations of the main table's routes of one family, with their
/// gateway (or "-") and metric.
fn routes(ns: &Netns, family: &str) -> BTreeSet<(String, String, u64)> {
    ns.ip_json(&format!("{family} route show table main"))
        .iter()
        .filter(|r| r["protocol"] != "kernel")
        .map(|r| (r["dst"].as_str().unwrap_or("?").to_string(), r["gateway"].as_str().unwrap_or("-").to_string(), r["metric"].as_u64().unwrap_or(0)))
        .collect()
}

#[test]
fn route_files_go_into_the_kernel_in_batches_and_failures_name_their_line() {
    let ns = Netns::new("inst");
    veth(&ns, "ia0", &ns, "ib0");
    ns.sh("ip addr add 10.0.2.1/24 dev ia0 && ip addr add fd00:2::1/64 dev ia0 nodad");
    let dir = tmpdir("install-routes");
    // 5000 routes: more than one batch (about 1500 requests of this size).
    let mut text = String::from("# a comment, then a blank line\n\n");
    for i in 0..5000u32 {
        text.push_str(&format!("route add 20.{}.{}.0/24 via 10.0.2.{}\n", i >> 8, i & 0xff, 2 + i % 3));
    }
    text.push_str("route add 2001:db8:1::/48 via fd00:2::5 metric 20\n");
    text.push_str("-6 route add 2001:db8:2::/48 dev ia0\n");
    text.push_str("route replace 20.0.1.0/24 via 10.0.2.9\n");
    text.push_str("route del 20.0.2.0/24\n");
    let f = dir.join("routes.batch");
    std::fs::write(&f, &text).unwrap();
    let out = ns.exec(&[bin(), "install-routes", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("installed 5004 route request(s)"), "{}", show(&out));
    let v4 = routes(&ns, "-4");
    assert_eq!(v4.len(), 4999, "5000 added, one deleted");
    assert!(v4.contains(&("20.0.1.0/24".into(), "10.0.2.9".into(), 0)), "replaced");
    assert!(v4.contains(&("20.19.135.0/24".into(), format!("10.0.2.{}", 2 + (19 * 256 + 135) % 3), 0)));
    assert!(!v4.iter().any(|r| r.0 == "20.0.2.0/24"), "deleted");
    let v6 = routes(&ns, "-6");
    assert!(v6.contains(&("2001:db8:1::/48".into(), "fd00:2::5".into(), 20)), "{v6:?}");
    assert!(v6.contains(&("2001:db8:2::/48".into(), "-".into(), 1024)), "{v6:?}");

    // Refused by the kernel: exit 2, each failure by file and line, the rest installed.
    let g = dir.join("again.batch");
    std::fs::write(&g, "route add 20.0.0.0/24 via 10.0.2.2\nroute add 30.0.0.0/24 via 10.0.2.2\nroute add 30.0.1.0/24 via 10.9.9.9\n").unwrap();
    let out = ns.exec(&[bin(), "install-routes", g.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 route request(s)") && err.contains("2 failed"), "{err}");
    assert!(err.contains(&format!("{}:1: File exists", g.display())), "{err}");
    assert!(err.contains(&format!("{}:3: ", g.display())), "the unreachable gateway: {err}");
    assert!(routes(&ns, "-4").iter().any(|r| r.0 == "30.0.0.0/24"), "the good line went in");

    // A line it cannot read: refused by its number, before anything is sent.
    let h = dir.join("bad.batch");
    std::fs::write(&h, "route add 40.0.0.0/24 via 10.0.2.2\nnexthop add id 1 via 10.0.2.2 dev ia0\n").unwrap();
    let out = ns.exec(&[bin(), "install-routes", h.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{}:2: 'nexthop add id 1", h.display())), "{}", show(&out));
    assert!(!routes(&ns, "-4").iter().any(|r| r.0 == "40.0.0.0/24"), "nothing of a file with a bad line before the bad line's batch");
    let _ = std::fs::remove_dir_all(&dir);
}
