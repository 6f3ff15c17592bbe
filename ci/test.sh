#!/usr/bin/env bash
# Every test: installs what is missing, builds, runs unit, property and
# integration tests (real DPDK vdevs, no hugepages), the pure crate and the
# traffic engine without DPDK, and checks that the fuzz targets, benchmarks
# and the release binary build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
./ci/setup.sh

export CARGO_TERM_COLOR=never
echo "== build (release binary, benchmarks)"
cargo build --release --locked
cargo bench --workspace --locked --no-run
bash -n benches/*.sh ci/*.sh

echo "== without DPDK: the pure crate (it has no DPDK dependency) and the traffic engine"
cargo test --locked -p newipd-core
cargo test --locked -p newipd-tools --no-default-features --lib

echo "== all the rest (unit, property, integration with DPDK vdevs)"
cargo test --workspace --exclude newipd-core --locked --no-fail-fast
