#!/usr/bin/env bash
# Installs the system packages newipd builds, tests and demos with (Debian 12),
# and checks the Rust toolchain. Idempotent: does nothing when all is present.
set -euo pipefail

# libdpdk-dev dpdk-dev: DPDK 22.11 headers, libraries, PMD plugins, dpdk-testpmd,
#   dpdk-telemetry.py; pkg-config clang libclang-dev: build.rs (pkg-config, bindgen);
# libpcap-dev: net_pcap; tshark: dissector test and tap captures;
# iproute2 procps: ip, kill, sysctl for the tap test; python3: dpdk-telemetry.py;
# curl: the 1 Hz scraper of benches/metrics-cost.sh; traceroute: tests/traceroute.rs;
# frr iperf3 iputils-ping: the namespace harness (tests/common/netns.rs) and
#   tests/frr_harness.rs: FRR 8.4's zebra, bgpd, ospfd and vtysh, traffic, ping;
# ethtool: tests/router.rs turns veth offloads off (newipd sees whole frames).
PKGS=(libdpdk-dev dpdk-dev pkg-config clang libclang-dev libpcap-dev tshark iproute2 procps python3 curl traceroute ethtool
      frr iperf3 iputils-ping)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "ci/setup.sh: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture, iperf3 whether to run a
  # server at boot; answer for them.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  echo "iperf3 iperf3/start_daemon boolean false" | $SUDO debconf-set-selections
  # No service may start during the install: frr's would run a system-wide
  # zebra in this machine's own namespace (tests start private ones).
  # Maintainer scripts start services through invoke-rc.d (deb-systemd-invoke
  # under systemd), which obeys policy-rc.d: one that refuses everything
  # (exit 101), for the install only, unless there is one already
  # (containers often have it).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! pkg-config --atleast-version=22.11 libdpdk; then
  echo "ci/setup.sh: DPDK >= 22.11 not found by pkg-config after install" >&2
  exit 1
fi
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    echo "ci/setup.sh: cargo is in ~/.cargo/bin: add it to PATH (. ~/.cargo/env)" >&2
  else
    echo "ci/setup.sh: no Rust toolchain: install stable Rust with rustup (https://rustup.rs)" >&2
  fi
  exit 1
fi
