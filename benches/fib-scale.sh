#!/usr/bin/env bash
# newipd with an Internet-sized FIB, on one lcore, against dpdk-testpmd
# macswap on the same 64-byte input, in one invocation (alternating runs,
# medians). The routes come the way a router gets them: into the kernel of
# newipd's network namespace (`newipd install-routes`: batched netlink
# requests, as FRR's zebra sends them), then over netlink into newipd's FIB
# through its host interface.
#
#   benches/fib-scale.sh [--v4 1000000] [--v6 220000] [--seconds 5] [--repeat 3] [--updates 10000]
#
# Per run: the kernel alone (the same routes into a namespace of their own,
# nobody listening: the floor install_seconds cannot go under on this
# machine now); testpmd on the traffic; then newipd: start, install the whole
# set, forward for --seconds with no route change, then for --seconds while
# --updates route changes a second (adds and deletes of /32s in 10.0.3.0/24,
# which the traffic never goes to) go through the kernel into the FIB.
# Traffic: 64-byte IPv4 UDP frames whose destinations are spread over all
# IPv4 prefixes (newipd gen-routes; 8192 frames, each to another prefix, as
# many as net_pcap can hold in mbufs), replayed for ever by net_pcap. Needs root.
#
# The output ends with, in this order:
#   install_seconds: X    start of the install burst to the last route in newipd's FIB
#   update_rate_ratio: X  forwarding rate during the route changes / without them
#   ratio: X              newipd over the full table / testpmd macswap
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh

v4=1000000
v6=220000
seconds=5
repeat=3
updates=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --v4) v4="$2"; shift 2 ;;
    --v6) v6="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --updates) updates="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "fib-scale.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "fib-scale.sh: needs root (network namespaces, the kernel's routes)" >&2; exit 2; }

[ -x target/release/newipd ] && [ -z "$(find src crates ffi build.rs Cargo.toml -newer target/release/newipd -print -quit)" ] \
  || cargo build --release --quiet
bin=$(pwd)/target/release/newipd
out=$(mktemp -d /tmp/newipd-fib-scale.XXXXXX)
ns="fs-$$"
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -s "$out/newipd.err" ]; then
    echo "fib-scale.sh: failed ($rc); newipd said:" >&2
    tail -15 "$out/newipd.err" >&2
  fi
  pkill -INT -f "file-prefix fs-nd-$$" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip netns del "$ns-k" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

t=$(date +%s.%N)
"$bin" gen-routes --out "$out" --v4 "$v4" --v6 "$v6" --gateways 8 --via4 10.0.2.0/24 --via6 fd00:2::/64 --packets 8192 >/dev/null
echo "route set: $v4 IPv4 + $v6 IPv6 prefixes, traffic to all IPv4 ones ($(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s to generate)"
routes=$(cat "$out/routes4.batch" "$out/routes6.batch" | grep -c '^route add')

run_testpmd() { testpmd_mpps "$out/traffic4.pcap" "$seconds" "$out/testpmd.log"; }

# The gateways' addresses and neighbour entries, on hi0 in namespace $1.
gateways() {
  ip -n "$1" addr add 10.0.2.1/24 dev hi0
  ip -n "$1" addr add 10.0.3.1/24 dev hi0
  ip -n "$1" addr add fd00:2::1/64 dev hi0 nodad
  for g in $(seq 2 9); do
    ip -n "$1" neigh replace "10.0.2.$g" lladdr "02:00:00:00:02:0$g" dev hi0 nud permanent
    ip -n "$1" -6 neigh replace "fd00:2::$g" lladdr "02:00:00:00:02:0$g" dev hi0 nud permanent
  done
}

# Objects in a slab cache (0 where the kernel does not show it).
slab_objects() { awk '{ print $1 }' "/sys/kernel/slab/$1/objects" 2>/dev/null || echo 0; }
fib4_base=$(slab_objects ip_fib_alias) fib6_base=$(slab_objects fib6_node)

# Waits until the kernel has freed the routes of a namespace that went away
# (a worker does it after `ip netns del`, RCU callbacks after a link's
# removal), so that the freeing does not run into what is measured next.
routes_freed() {
  for _ in $(seq 1200); do
    [ "$(slab_objects ip_fib_alias)" -le $((fib4_base + 1000)) ] && [ "$(slab_objects fib6_node)" -le $((fib6_base + 1000)) ] && return
    sleep 0.05
  done
  echo "fib-scale.sh: the kernel still holds the routes of a removed namespace after 60 s; going on" >&2
}

# Seconds the kernel alone takes for the burst: the routes into a namespace
# of their own (a veth pair for hi0), nobody listening.
kernel_alone() {
  local kns="$ns-k" t0 t1
  ip netns add "$kns"
  ip -n "$kns" link add hi0 type veth peer name hp0
  ip -n "$kns" link set hi0 up
  ip -n "$kns" link set hp0 up
  gateways "$kns"
  t0=$(date +%s.%N)
  ip netns exec "$kns" "$bin" install-routes "$out/routes4.batch" "$out/routes6.batch" >/dev/null
  t1=$(date +%s.%N)
  ip netns del "$kns"
  routes_freed
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

# The counters newipd prints on SIGUSR1: "<tx> <kernel routes in the FIB>".
# Asked again each second without an answer: now and then (about one
# SIGUSR1 in 150, in the seconds after a full table's burst) the count of
# reports read before a signal came out one too high, so the loop waited
# for a report that had already come (newipd answered every signal; see
# docs/bench-log.md), which added seconds to install_seconds.
snapshot() {
  local before
  before=$(grep -c "routes in the FIB" "$out/newipd.out" || true)
  for i in $(seq 500); do
    [ $((i % 100)) = 1 ] && pkill -USR1 -f "file-prefix fs-nd-$$"
    [ "$(grep -c "routes in the FIB" "$out/newipd.out" || true)" -gt "$before" ] && break
    sleep 0.01
  done
  { tac "$out/newipd.out" || true; } | sed '/SIGUSR1/q' | awk '/total: rx/ { tx = $5 } /routes in the FIB/ { for (i = 1; i <= NF; i++) if ($i == "kernel,") k = $(i - 1) } END { print tx + 0, k + 0 }'
}

# Forwarded packets a second over `seconds`, from two snapshots.
rate() {
  local a b ta tb
  ta=$(date +%s.%N); a=$(snapshot | cut -d' ' -f1)
  sleep "$seconds"
  tb=$(date +%s.%N); b=$(snapshot | cut -d' ' -f1)
  awk -v a="$a" -v b="$b" -v ta="$ta" -v tb="$tb" 'BEGIN { printf "%.2f\n", (b - a) / (tb - ta) / 1e6 }'
}

# Route changes at `updates` a second for `seconds`, into `ip -batch -`.
churn() {
  python3 - "$updates" "$seconds" <<'PY' | ip netns exec "$ns" ip -force -batch - >/dev/null 2>&1
import sys, time
rate, secs = int(sys.argv[1]), float(sys.argv[2])
n, t0, i = 0, time.monotonic(), 0
while time.monotonic() - t0 < secs:
    lines = []
    for _ in range(max(1, rate // 100)):
        host = 128 + (i // 2) % 127
        lines.append(("route add 10.0.3.%d/32 via 10.0.2.%d\n" if i % 2 == 0 else "route del 10.0.3.%d/32\n%s") % ((host, 2 + i % 8) if i % 2 == 0 else (host, "")))
        i += 1
    sys.stdout.write("".join(lines)); sys.stdout.flush()
    n += len(lines)
    d = t0 + n / rate - time.monotonic()
    if d > 0:
        time.sleep(d)
PY
}


tp_all=() nd_all=() up_all=() inst_all=() alone_all=()
for i in $(seq 1 "$repeat"); do
  alone=$(kernel_alone)
  tp=$(run_testpmd)
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  cat >"$out/pipeline.toml" <<TOML
[settings]
mbufs = 16383
fib_memory_at_start = true

[lcores]
worker = 1

[[port]]
name = "p0"
device = "net_pcap0"
host_interface = "hi0"
punt_rate_pps = 1000
TOML
  : >"$out/newipd.out"
  ip netns exec "$ns" "$bin" run --pipeline "$out/pipeline.toml" --duration 3600 \
    --port "p0=net_pcap0,rx_pcap=$out/traffic4.pcap,infinite_rx=1" -- \
    --no-huge -m 1024 --no-pci -l 0-1 --no-shconf --file-prefix "fs-nd-$$" --log-level='*:warning' >"$out/newipd.out" 2>"$out/newipd.err" &
  for _ in $(seq 300); do grep -q "newipd: ready" "$out/newipd.out" && break; sleep 0.1; done
  grep -q "newipd: ready" "$out/newipd.out" || { echo "fib-scale.sh: newipd did not start:" >&2; tail -20 "$out/newipd.err" >&2; exit 1; }
  gateways "$ns"
  base=$(snapshot | cut -d' ' -f2)
  t0=$(date +%s.%N)
  ip netns exec "$ns" "$bin" install-routes "$out/routes4.batch" "$out/routes6.batch" >/dev/null
  t1=$(date +%s.%N)
  want=$((base + routes))
  for _ in $(seq 600); do
    k=$(snapshot | cut -d' ' -f2)
    [ "$k" -ge "$want" ] && break
    sleep 0.05
  done
  t2=$(date +%s.%N)
  [ "$k" -ge "$want" ] || { echo "fib-scale.sh: newipd's FIB holds $k kernel routes, not $want, 30 s after the burst" >&2; exit 1; }
  inst=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
  kern=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  nd=$(rate)
  churn &
  cpid=$!
  up=$(rate)
  wait "$cpid" || true
  pkill -INT -f "file-prefix fs-nd-$$"
  wait || true
  ip netns del "$ns"
  routes_freed
  tp_all+=("$tp") nd_all+=("$nd") up_all+=("$up") inst_all+=("$inst") alone_all+=("$alone")
  awk -v i="$i" -v tp="$tp" -v nd="$nd" -v up="$up" -v inst="$inst" -v kern="$kern" -v alone="$alone" 'BEGIN {
    printf "run %d: testpmd %.2f Mpps; newipd over the full table %.2f Mpps (ratio %.2f), during route changes %.2f Mpps (%.2f); install %.2f s (the kernel took %.2f s; alone, %.2f s)\n", i, tp, nd, nd / tp, up, up / nd, inst, kern, alone
  }'
done

tp=$(printf '%s\n' "${tp_all[@]}" | median)
nd=$(printf '%s\n' "${nd_all[@]}" | median)
up=$(printf '%s\n' "${up_all[@]}" | median)
inst=$(printf '%s\n' "${inst_all[@]}" | median)
alone=$(printf '%s\n' "${alone_all[@]}" | median)
awk -v tp="$tp" -v nd="$nd" -v up="$up" -v inst="$inst" -v alone="$alone" -v n="$repeat" -v r="$routes" -v u="$updates" 'BEGIN {
  printf "testpmd macswap: %.2f Mpps; newipd: %.2f Mpps over %d routes, %.2f Mpps during %d route changes a second (medians of %d)\n", tp, nd, r, up, u, n
  printf "the kernel alone: %.2f s for the routes, nobody listening (median of %d)\n", alone, n
  printf "install_seconds: %.2f\n", inst
  printf "update_rate_ratio: %.2f\n", up / nd
  printf "ratio: %.2f\n", nd / tp
}'
