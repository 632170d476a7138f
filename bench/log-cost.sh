#!/usr/bin/env bash
# CPU per request of usher's process tree, access log on vs off (`--disable-logging`), for a Node app on
# --http-socket. Usage: bench/log-cost.sh [USHER_ROOT] [RUNS]   (USHER_ROOT defaults to this checkout)
# It sums utime+stime (from /proc) of every process in usher's session around a fixed
# `wrk -t1 -c64 -d5s`, divided by the requests wrk completed. Lines go to a file (logto), as in production.
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
RUNS=${2:-3}
TICK=$(getconf CLK_TCK)
cpu_of_session() {
  local total=0
  for p in $(ps -s "$1" -o pid= 2>/dev/null); do
    if [ -r /proc/$p/stat ]; then
      read -r -a f < <(sed 's/^.*) //' /proc/$p/stat)
      total=$((total + f[11] + f[12]))
    fi
  done
  echo $total
}
one() {  # $1: extra flags; prints µs CPU per request
  local port=$((20000 + RANDOM % 20000)) dir; dir=$(mktemp -d)
  setsid node "$ROOT/bin/usher.js" --http-socket 127.0.0.1:$port --app "$ROOT/bench/apps/hello.mjs" --logto "$dir/usher.log" $1 >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 300); do grep -q 'master: ready' "$dir/usher.log" 2>/dev/null && break; sleep 0.1; done
  wrk -t1 -c64 -d1s http://127.0.0.1:$port/ >/dev/null
  local before; before=$(cpu_of_session $pid)
  local reqs; reqs=$(wrk -t1 -c64 -d5s http://127.0.0.1:$port/ | awk '/requests in/ {print $1}')
  local after; after=$(cpu_of_session $pid)
  kill -TERM $pid; wait $pid 2>/dev/null || true
  rm -rf "$dir"
  awk -v t=$((after - before)) -v r="$reqs" -v hz="$TICK" 'BEGIN { printf "%.1f %d\n", t / hz * 1e6 / r, r }'
}
# on and off alternate, so a busy moment of the machine hits both alike; the median is reported.
out=$(mktemp)
for i in $(seq "$RUNS"); do
  echo "on $(one "")"
  echo "off $(one --disable-logging)"
done | tee "$out" >&2
for mode in on off; do
  vals=$(awk -v m=$mode '$1 == m && $3 > 0 { print $2 }' "$out" | sort -n)
  n=$(echo "$vals" | wc -l)
  median=$(echo "$vals" | awk -v n="$n" 'NR == int((n + 1) / 2) { a = $1 } NR == int(n / 2) + 1 { b = $1 } END { printf "%.1f", (n % 2 ? a : (a + b) / 2) }')
  echo "log $mode: median $median us CPU/request over $n runs ($(echo $vals))"
done
rm -f "$out"
