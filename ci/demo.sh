#!/usr/bin/env bash
# The showcase: installs what is missing, builds, and runs `newipd demo`, which
# generates traffic, routes it through net_pcap ports (no NIC, no hugepages)
# and prints the report. Extra arguments go to `newipd demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
./ci/setup.sh
cargo build --release --locked --quiet
exec ./target/release/newipd demo "$@"
