#!/usr/bin/env bash
# The deadline experiment at 120 % offered load: deadline flows (1, 2, 5 and
# 10 ms per-hop budgets) and best effort through a 100 Mb/s shaped egress
# port, EDF and FIFO on the same seeded traffic, through newipd's router
# stage and port scheduler in virtual time. Prints the table and, last,
# `edf_on_time: X.XXXX fifo_on_time: Y.YYYY`. Extra arguments go to
# `newipd experiment` (e.g. --load 0.9 --load 1.0 --load 1.2 for the full table).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/newipd ] && [ -z "$(find src crates ffi build.rs Cargo.toml -newer target/release/newipd -print -quit)" ] \
  || cargo build --release --quiet
if [ $# -eq 0 ]; then set -- --load 1.2; fi
exec ./target/release/newipd experiment --seconds 2 "$@"
