#!/usr/bin/env bash
# What scraping the Prometheus endpoint once a second costs the packet lcore.
# The same load as benches/vs-testpmd.sh (a generated pcap replayed forever by
# net_pcap infinite_rx, one packet lcore, TX dropped by the PMD), run in
# alternating rounds without and with `--metrics` plus a 1 Hz scraper (curl,
# pinned to CPU 0 like newipd's helper threads; the packet lcore is lcore 1),
# the same length each. Prints the median forwarding rate of both, per
# wall-clock second and per CPU second of the packet lcore (robust against
# other processes preempting it), and, last, `cost: X.XX %` (how much lower
# the scraped runs' per-CPU-second rate was; negative = noise).
#
#   benches/metrics-cost.sh [--traffic ipv4|newip-lbf] [--seconds 10] [--rounds 3] [--newipd PATH]
#
# Run it on an otherwise idle machine (see `uptime`): on 2 shared cores other
# work moves the figures by more than the effect being measured.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh

traffic=ipv4
seconds=10
rounds=3
bin=./target/release/newipd
while [ $# -gt 0 ]; do
  case "$1" in
    --traffic) traffic="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --newipd) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "metrics-cost.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$traffic" in
  ipv4) gen_args=(--kind ipv4 --size 60) ;;
  newip-lbf) gen_args=(--kind newip-lbf --size 64) ;;
  *) echo "metrics-cost.sh: --traffic must be one of: ipv4, newip-lbf" >&2; exit 2 ;;
esac
if [ "$bin" = ./target/release/newipd ]; then
  [ -x "$bin" ] && [ -z "$(find src crates ffi build.rs Cargo.toml -newer "$bin" -print -quit)" ] || cargo build --release --quiet
fi
out=$(mktemp -d /tmp/newipd-metrics-cost.XXXXXX)
trap 'rm -rf "$out"' EXIT
"$bin" gen --out "$out/in.pcap" --packets 8192 --flows 4096 --seed 42 "${gen_args[@]}" >/dev/null
cat >"$out/pipeline.toml" <<TOML
[settings]
mbufs = 16383

[lcores]
worker = 1

[[port]]
name = "p0"
device = "net_pcap0"
peer_mac = "02:00:00:00:00:99"

[[route]]
prefix = "10.0.0.0/8"
port = "p0"

[[route]]
prefix = "2001:db8::/32"
port = "p0"
TOML

# One run; $1 = plain|scraped. Prints the forwarded Mpps.
run() {
  local mode=$1 log="$out/$1.log" extra=()
  [ "$mode" = scraped ] && extra=(--metrics 0)
  "$bin" run --pipeline "$out/pipeline.toml" --duration "$seconds" --live off "${extra[@]}" \
    --port "p0=net_pcap0,rx_pcap=$out/in.pcap,infinite_rx=1" --report-json "$out/report.json" -- \
    --no-huge -m 1024 --no-pci -l 0-1 --no-shconf --file-prefix "mc-$$" --log-level='*:warning' >"$log" 2>&1 &
  local pid=$! scrapes=0
  if [ "$mode" = scraped ]; then
    local addr=""
    for _ in $(seq 100); do
      addr=$(grep -Eo 'metrics on http://[0-9.:]+' "$log" | sed 's|.*http://||' || true)
      [ -n "$addr" ] && break
      sleep 0.1
    done
    [ -n "$addr" ] || { echo "metrics-cost.sh: no metrics address:" >&2; cat "$log" >&2; exit 1; }
    while kill -0 "$pid" 2>/dev/null; do
      taskset -c 0 curl -sf "http://$addr/metrics" >/dev/null && scrapes=$((scrapes + 1)) || true
      sleep 1
    done
  fi
  wait "$pid" || { echo "metrics-cost.sh: newipd failed:" >&2; tail -20 "$log" >&2; exit 1; }
  [ "$mode" = plain ] || echo "  ($scrapes scrapes)" >&2
  local wall tx cpu
  wall=$(grep -Eo '"tx_mpps": *[0-9.]+' "$out/report.json" | grep -Eo '[0-9.]+$')
  tx=$(grep -E '^  "tx": ' "$out/report.json" | grep -Eo '[0-9]+')
  cpu=$(grep -Eo '"packet_lcore_cpu_s": *[0-9.e-]+' "$out/report.json" | grep -Eo '[0-9.e-]+$')
  awk -v w="$wall" -v t="$tx" -v c="$cpu" 'BEGIN { printf "%.3f %.3f\n", w, t / c / 1e6 }'
}


echo "load: $(uptime | sed 's/.*load average: //') (1, 5, 15 min)"
pw=() pc=() sw=() sc=()
for r in $(seq "$rounds"); do
  read -r a b <<<"$(run plain)"; read -r c d <<<"$(run scraped)"
  echo "round $r: plain $a Mpps ($b per CPU s), scraped $c Mpps ($d per CPU s)"
  pw+=("$a"); pc+=("$b"); sw+=("$c"); sc+=("$d")
done
med() { printf '%s\n' "$@" | median; }
awk -v pw="$(med "${pw[@]}")" -v pc="$(med "${pc[@]}")" -v sw="$(med "${sw[@]}")" -v sc="$(med "${sc[@]}")" -v tr="$traffic" 'BEGIN {
  printf "newipd %s, no scraper:   %.3f Mpps, %.3f Mpps per packet-lcore CPU second (medians)\n", tr, pw, pc
  printf "newipd %s, 1 Hz scraper: %.3f Mpps, %.3f Mpps per packet-lcore CPU second (medians)\n", tr, sw, sc
  printf "cost (wall clock): %.2f %%\n", (pw - sw) / pw * 100
  printf "cost: %.2f %%\n", (pc - sc) / pc * 100
}'
