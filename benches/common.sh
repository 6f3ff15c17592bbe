# Shared by the benchmark scripts (sourced, not run).

# dpdk-testpmd macswap on one core over `$1` (a pcap replayed for ever) for
# `$2` seconds, its log in `$3`; prints the last Rx-pps in Mpps.
testpmd_mpps() {
  local input=$1 secs=$2 log=$3 pps
  timeout -s INT "$((secs + 2))" dpdk-testpmd --no-huge -m 1024 --no-pci -l 0-1 --file-prefix "bench-tp-$$" \
    --log-level='*:warning' --vdev="net_pcap0,rx_pcap=$input,infinite_rx=1" -- \
    --forward-mode=macswap --port-topology=loop --nb-cores=1 --total-num-mbufs=16384 \
    --stats-period=2 --auto-start >"$log" 2>&1 || true
  pps=$(grep -Eo 'Rx-pps: +[0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$' || true)
  [ -n "$pps" ] || { echo "$(basename "$0"): no Rx-pps from testpmd:" >&2; tail -20 "$log" >&2; exit 1; }
  awk -v p="$pps" 'BEGIN { printf "%.4f\n", p / 1e6 }'
}

# The median of the numbers on stdin, one a line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
