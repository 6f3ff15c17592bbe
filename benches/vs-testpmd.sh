#!/usr/bin/env bash
# Side by side on this machine, in one invocation: dpdk-testpmd (macswap, the
# ceiling for "touch every packet") and newipd on the same input: a pcap of
# 64-byte frames with many flows, replayed forever by net_pcap (infinite_rx=1),
# one forwarding core, TX dropped by the PMD. Prints both rates and, last,
# `ratio: X.XX` (newipd on one lcore / testpmd on one core).
#
#   benches/vs-testpmd.sh [--traffic ipv4|newip-lbf|mix] [--seconds 10] [--flows 4096] [--lcores 1|2] [--repeat 3] [--host-interface]
#
# --repeat N: run testpmd and newipd alternately N times and divide the
#   median rates (each pair's own ratio is printed too). On a shared VM one
#   run of either can be 10 % off its neighbours; alternating and taking
#   medians keeps a slow spell from landing on one side only.
#
# ipv4: 60-byte UDP/IPv4 frames (64 on the wire), routed by longest prefix.
# newip-lbf: New IP frames of the same size with IPv4-type addresses and a
#   type-2 LBF contract, many destinations: parse, hybrid FIB, budget, and the
#   contract rewrite at transmit.
# mix: pipelines/mixes/bench-mix.toml: legacy IPv4, New IP with LBF, New IP
#   best effort and New IP with a delivery window (held, then sent by the
#   deadline queue): the full pipeline.
# --lcores 2: also run newipd pipelined (an RX lcore handing over a ring to a
#   TX lcore, one CPU each) and print its rate against the one-lcore run
#   (`pipelined_vs_one_lcore:`) before the ratio.
# --host-interface: also run newipd with a host interface (a TAP, the netlink
#   mirror, the punt and inject rings) on its port, idle, after each plain
#   run and another testpmd run, and print its own ratio
#   (`host_interface_ratio:`) and the difference from the plain one
#   (`host_interface_delta:`), both against the median of all testpmd runs.
#   Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh

traffic=ipv4
seconds=10
flows=4096
lcores=1
repeat=3
host=0
while [ $# -gt 0 ]; do
  case "$1" in
    --traffic) traffic="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --flows) flows="$2"; shift 2 ;;
    --lcores) lcores="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --host-interface) host=1; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "vs-testpmd.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$traffic" in
  ipv4) gen_args=(--kind ipv4 --size 60) ;;
  newip-lbf) gen_args=(--kind newip-lbf --size 64) ;;
  mix) gen_args=(--mix pipelines/mixes/bench-mix.toml) ;;
  *) echo "vs-testpmd.sh: --traffic must be one of: ipv4, newip-lbf, mix" >&2; exit 2 ;;
esac
case "$repeat" in
  ''|*[!0-9]*|0) echo "vs-testpmd.sh: --repeat must be a whole number of runs, at least 1" >&2; exit 2 ;;
esac
case "$lcores" in
  1|2) ;;
  *) echo "vs-testpmd.sh: --lcores must be 1 or 2" >&2; exit 2 ;;
esac
command -v dpdk-testpmd >/dev/null || { echo "vs-testpmd.sh: dpdk-testpmd missing (ci/setup.sh installs dpdk-dev)" >&2; exit 1; }

[ -x target/release/newipd ] && [ -z "$(find src crates ffi build.rs Cargo.toml -newer target/release/newipd -print -quit)" ] \
  || cargo build --release --quiet
out=$(mktemp -d /tmp/newipd-vs-testpmd.XXXXXX)
trap 'rm -rf "$out"' EXIT
./target/release/newipd gen --out "$out/in.pcap" --packets 8192 --flows "$flows" --seed 42 "${gen_args[@]}" >/dev/null

# testpmd: stop it with SIGINT after $seconds, read its last Rx-pps line. Prints Mpps.
run_testpmd() { testpmd_mpps "$out/in.pcap" "$seconds" "$out/testpmd.log"; }

# newipd: the same input, routes covering every flow. $1: the [lcores]
# table; $2: the EAL lcore arguments; $3: a tag; $4: more lines for the
# port. Prints forwarded Mpps.
run_newipd() {
  cat >"$out/pipeline-$3.toml" <<TOML
[settings]
mbufs = 16383

[lcores]
$1

[[port]]
name = "p0"
device = "net_pcap0"
peer_mac = "02:00:00:00:00:99"
${4:-}

[[route]]
prefix = "10.0.0.0/8"
port = "p0"

[[route]]
prefix = "2001:db8::/32"
port = "p0"
TOML
  ./target/release/newipd run --pipeline "$out/pipeline-$3.toml" --duration "$seconds" \
    --port "p0=net_pcap0,rx_pcap=$out/in.pcap,infinite_rx=1" --report-json "$out/report-$3.json" -- \
    --no-huge -m 1024 --no-pci $2 --no-shconf --file-prefix "vs-nd-$3-$$" --log-level='*:warning' >"$out/newipd-$3.log" 2>&1 \
    || { echo "vs-testpmd.sh: newipd ($3) failed:" >&2; tail -20 "$out/newipd-$3.log" >&2; exit 1; }
  grep -Eo '"tx_mpps": *[0-9.]+' "$out/report-$3.json" | grep -Eo '[0-9.]+$'
}


# One packet lcore (lcore 1 on CPU 1; the main lcore on CPU 0 only waits),
# alternating with testpmd.
tp_all=() nd_all=() hi_all=() drops=0
for i in $(seq 1 "$repeat"); do
  tp=$(run_testpmd)
  nd=$(run_newipd "worker = 1" "-l 0-1" one)
  d=$(grep -Eo '"dropped": *[0-9]+' "$out/report-one.json" | head -1 | grep -Eo '[0-9]+$')
  drops=$((drops + d))
  tp_all+=("$tp") nd_all+=("$nd")
  awk -v i="$i" -v tp="$tp" -v nd="$nd" 'BEGIN { printf "run %d: testpmd %.2f Mpps, newipd %.2f Mpps, ratio %.2f\n", i, tp, nd, nd / tp }'
  if [ "$host" = 1 ]; then
    # Each newipd run right after a testpmd run: a newipd run straight after
    # another one is about 0.03 slower (measured with two identical runs).
    tp2=$(run_testpmd)
    tp_all+=("$tp2")
    hi=$(run_newipd "worker = 1" "-l 0-1" hostif "host_interface = \"nipbench$$\"")
    hi_all+=("$hi")
    awk -v i="$i" -v tp="$tp2" -v hi="$hi" 'BEGIN { printf "run %d: testpmd %.2f Mpps, newipd with an idle host interface %.2f Mpps, ratio %.2f\n", i, tp, hi, hi / tp }'
  fi
done
tp_mpps=$(printf '%s\n' "${tp_all[@]}" | median)
nd_mpps=$(printf '%s\n' "${nd_all[@]}" | median)
if [ "$lcores" = 2 ]; then
  # RX lcore 1 on CPU 0 (beside the sleeping main lcore), TX lcore 2 on CPU 1.
  pl_mpps=$(run_newipd $'rx = [1]\ntx = [2]' "--lcores=0@0,1@0,2@1" two)
  awk -v one="$nd_mpps" -v two="$pl_mpps" 'BEGIN {
    printf "newipd pipelined, 2 lcores: %.2f Mpps\n", two
    printf "pipelined_vs_one_lcore: %.2f\n", two / one
  }'
fi

if [ "$host" = 1 ]; then
  hi_mpps=$(printf '%s\n' "${hi_all[@]}" | median)
  awk -v tp="$tp_mpps" -v nd="$nd_mpps" -v hi="$hi_mpps" -v n="$repeat" 'BEGIN {
    printf "newipd with an idle host interface: %.2f Mpps (median of %d)\n", hi, n
    printf "host_interface_ratio: %.2f\n", hi / tp
    printf "host_interface_delta: %.2f\n", hi / tp - nd / tp
  }'
fi
awk -v tp="$tp_mpps" -v nd="$nd_mpps" -v tr="$traffic" -v dr="$drops" -v n="$repeat" 'BEGIN {
  printf "testpmd macswap: %.2f Mpps (median of %d)\n", tp, n
  printf "newipd %s, 1 lcore: %.2f Mpps (median of %d; forwarded; %d dropped in all runs)\n", tr, nd, n, dr
  printf "ratio: %.2f\n", nd / tp
}'
