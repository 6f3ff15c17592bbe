#!/usr/bin/env bash
# Every test: installs what is missing, builds, runs unit, property and
# integration tests (real DPDK vdevs, no hugepages), the pure modules without
# DPDK, and checks that benchmarks and the release binary build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
./ci/setup.sh

export CARGO_TERM_COLOR=never
echo "== build (release binary, benchmarks)"
cargo build --release --locked
cargo bench --locked --no-run
bash -n benches/*.sh ci/*.sh

echo "== pure modules without DPDK"
cargo test --locked --no-default-features --lib

echo "== all tests (unit, property, integration with DPDK vdevs)"
cargo test --locked --no-fail-fast
