#!/usr/bin/env bash
# The showcase: installs what is missing, builds, then runs a generated mix
# (deadline flows of several budgets, a delivery window, an on-time flow, a
# qualitative payload, legacy voice, best effort, a few malformed packets)
# from `newipd gen --live` through newipd to `newipd sink`, over net_memif
# (no NIC, no hugepages), into a 4 Mb/s bottleneck at 150 % load: first with
# the earliest-deadline-first scheduler, then with FIFO on the same traffic.
# The router's live view shows while it runs; the last lines compare deadline
# hit rates. Arguments go to pipelines/demo/showcase.sh (--seconds, --rate-bps).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
./ci/setup.sh
cargo build --release --locked --quiet
exec pipelines/demo/showcase.sh "$@"
