#!/usr/bin/env bash
# Run the three-router chain by hand:  gen -> r1 -> r2 -> r3 -> sink,
# five newipd processes linked by net_memif (no NIC, no hugepages).
#
#   pipelines/chain/run.sh [--scheduler edf|fifo] [--rate-bps BPS | --rate PPS] [--duration SECS] [--hops 0|1|2|3] [--mix FILE] [--dir DIR]
#
# Defaults: edf on r2's shaped 4 Mb/s egress, 10 Mb/s offered (250 %), 3 s.
# --hops 0, 1 or 2 ends the chain early (the sink after the generator, r1 or r2: per-hop
# latency; the routes' to_hops still count three routers).
# Prints each router's report and the sink's per-class figures; everything
# is also kept in DIR (gen.json, sink.json, r1.json, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${NEWIPD:-./target/release/newipd}
SCHED=edf RATE=(--rate-bps 10000000) DURATION=3 HOPS=3 MIX=pipelines/chain/mix.toml DIR=/tmp/newipd-chain-$$
while [ $# -gt 0 ]; do
  case "$1" in
    --scheduler) SCHED=$2; shift 2 ;;
    --rate-bps) RATE=(--rate-bps "$2"); shift 2 ;;
    --rate) RATE=(--rate "$2"); shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --hops) HOPS=$2; shift 2 ;;
    --mix) MIX=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || cargo build --release --locked --quiet
mkdir -p "$DIR"
rm -f "$DIR"/*.sock
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Each process: its own file prefix, one lcore free to run on either core.
eal() { echo "--no-huge -m 256 --no-shconf --no-pci --log-level=*:warning --file-prefix=chain-$1-$$ --lcores=0@(0-1)"; }
wait_for() { # a memif server's socket file
  for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done
  echo "timed out waiting for $1" >&2; exit 1
}

case "$HOPS" in 0|1|2|3) ;; *) echo "--hops: 0 (gen -> sink), 1, 2 or 3" >&2; exit 2 ;; esac
LAST=$DIR/s$((HOPS + 1)).sock
"$BIN" sink --port "net_memif0,role=server,socket=$LAST,socket-abstract=no" \
  --until-idle --idle-ms 1000 --duration $((DURATION + 60)) --idle-sleep-us 20 --report-json "$DIR/sink.json" \
  -- $(eal sink) > "$DIR/sink.out" 2>&1 &
SINK=$!
wait_for "$LAST"
for ((i = HOPS; i >= 1; i--)); do
  sed -e "s#/tmp/newipd-chain#$DIR#g" -e "s#^scheduler = \"edf\"#scheduler = \"$SCHED\"#" pipelines/chain/r$i.toml > "$DIR/r$i.toml"
  "$BIN" run --pipeline "$DIR/r$i.toml" --wait-links 60 --duration $((DURATION + 90)) --report-json "$DIR/r$i.json" \
    -- $(eal r$i) > "$DIR/r$i.out" 2>&1 &
  PIDS+=($!)
  wait_for "$DIR/s$i.sock"
done
"$BIN" gen --live --mix "$MIX" --port "net_memif0,role=client,socket=$DIR/s1.sock,socket-abstract=no" \
  "${RATE[@]}" --duration "$DURATION" --idle-sleep-us 20 --report-json "$DIR/gen.json" -- $(eal gen)
wait $SINK || true
# Stop upstream first (r1, r2, r3), one at a time: a memif peer that closes
# while its neighbour is closing too can crash the neighbour's interrupt thread.
for ((k = ${#PIDS[@]} - 1; k >= 0; k--)); do kill -TERM "${PIDS[k]}" 2>/dev/null || true; wait "${PIDS[k]}" || true; done
PIDS=()
for ((i = 1; i <= HOPS; i++)); do echo "== r$i"; grep -v '^newipd: \(port\|ready\|every\)' "$DIR/r$i.out" | head -40; done
echo "== sink (scheduler $SCHED on r2)"
grep -v "rte_pmd_memif_probe\|TELEMETRY" "$DIR/sink.out"
