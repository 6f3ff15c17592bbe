#!/usr/bin/env bash
# The showcase (ci/demo.sh runs it): gen -> newipd -> sink, three processes
# linked by net_memif, no NIC. A mix of deadline flows (10 ms, 50 ms, a
# 3..40 ms window), an on-time flow, a qualitative payload, legacy voice,
# best effort and a few malformed packets is offered at 6 Mb/s to a router
# whose egress is shaped to 4 Mb/s. The same traffic runs twice: with the
# earliest-deadline-first scheduler, then with FIFO. The router's live view
# shows while it runs; at the end a table puts the on-time shares side by side.
#
#   pipelines/demo/showcase.sh [--seconds 5] [--rate-bps 6000000] [--dir DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${NEWIPD:-./target/release/newipd}
SECONDS_RUN=5 RATE=6000000 DIR=/tmp/newipd-demo-$$
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --rate-bps) RATE=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "showcase.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || cargo build --release --locked --quiet
mkdir -p "$DIR"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Each process: its own file prefix; one lcore that may run on either core.
eal() { echo "--no-huge -m 256 --no-shconf --no-pci --log-level=*:warning --file-prefix=demo-$1-$$ --lcores=0@(0-1)"; }
wait_for() { # a memif server's socket file, or give up
  for _ in $(seq 400); do [ -S "$1" ] && return 0; sleep 0.05; done
  echo "showcase.sh: timed out waiting for $1" >&2; exit 1
}

one_run() { # $1 = edf | fifo
  local s=$1 d=$DIR/$1
  mkdir -p "$d"; rm -f "$d"/*.sock
  sed -e "s#/tmp/newipd-demo#$d#g" -e "s#^scheduler = \"edf\"#scheduler = \"$s\"#" pipelines/demo/router.toml > "$d/router.toml"
  "$BIN" sink --port "net_memif0,role=server,socket=$d/out.sock,socket-abstract=no" \
    --until-idle --idle-ms 1000 --duration $((SECONDS_RUN + 60)) --idle-sleep-us 20 --report-json "$d/sink.json" \
    -- $(eal sink-$s) > "$d/sink.out" 2>&1 &
  local sink=$!
  PIDS+=($sink)
  wait_for "$d/out.sock"
  # The generator starts once the router listens; the router runs in the
  # foreground (its live view on this terminal) and stops after the traffic.
  ( wait_for "$d/in.sock"
    exec "$BIN" gen --live --mix pipelines/demo/mix.toml --port "net_memif0,role=client,socket=$d/in.sock,socket-abstract=no" \
      --rate-bps "$RATE" --duration "$SECONDS_RUN" --idle-sleep-us 20 --report-json "$d/gen.json" -- $(eal gen-$s) ) > "$d/gen.out" 2>&1 &
  PIDS+=($!)
  echo "== newipd, scheduler $s: live view (one refresh a second)"
  "$BIN" run --pipeline "$d/router.toml" --wait-links 60 --duration $((SECONDS_RUN + 3)) --live on \
    --report-json "$d/router.json" -- $(eal router-$s) 2> >(grep -v "memif_probe\|TELEMETRY" >&2)
  wait "$sink" || true
  PIDS=()
}

one_run edf
one_run fifo

python3 - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
names = ["deadline 10 ms", "deadline 50 ms", "window 3..40 ms", "on-time damper 2 ms",
         "qualitative, 30 ms", "legacy voice (DSCP 46)", "best effort"]
def load(s, f):
    return json.load(open(f"{d}/{s}/{f}"))
runs = {s: (load(s, "sink.json"), load(s, "router.json"), load(s, "gen.json")) for s in ("edf", "fifo")}
def share(c, gen):
    sent = next((g["sent"] for g in gen["classes"] if g["class"] == c["class"]), 0)
    w = c.get("window") or {}
    ok = c["in_window"] if w.get("min_ns") or w.get("max_ns") else c["unique"]
    return ok / sent if sent else 0.0
print()
print("== deadline hit rates: the same traffic through a 4 Mb/s bottleneck at 150 % load")
print(f"{'class':<26}{'edf on time':>12}{'fifo on time':>14}{'edf p99 ms':>12}{'fifo p99 ms':>13}")
for i, n in enumerate(names):
    row = [next((c for c in runs[s][0]["classes"] if c["class"] == i), None) for s in ("edf", "fifo")]
    if None in row:
        continue
    p99 = [c["latency_ns"]["p99"] / 1e6 for c in row]
    hit = [share(c, runs[s][2]) for c, s in zip(row, ("edf", "fifo"))]
    label = {5: " (late ones are dropped by the router)", 6: " (delivered at all)"}.get(i, "")
    print(f"{n:<26}{hit[0]:>12.4f}{hit[1]:>14.4f}{p99[0]:>12.2f}{p99[1]:>13.2f}{label}")
for s in ("edf", "fifo"):
    r = runs[s][1]
    out = next(p for p in r["ports"] if p["name"] == "out")
    drops = ", ".join(f"{k} {v}" for k, v in sorted(r["drops"].items())) or "none"
    ev = out.get("events", {})
    print(f"{s}: router rx {r['rx']} tx {r['tx']} dropped {r['dropped']} ({drops}); "
          f"washed {ev.get('washed-packets', 0)} packets / {ev.get('washed-bytes', 0)} bytes; identity holds: {r['identity_holds']}")
print("(on time: share of the packets the generator sent that reached the sink inside their contract window)")
PY
