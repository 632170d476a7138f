#!/usr/bin/env bash
# Memory of each kind of usher process after a fixed load, for one or two usher checkouts (or one
# checkout with two flag sets): the bench's "WSGI hello world, direct HTTP" row split by role, so the
# router's share of the tree's anonymous PSS shows. Each round starts usher in its own session, warms it
# (wrk -t1 -c64 -d1s), loads it (wrk -t1 -c64 -dSECONDS), waits IDLE seconds, and reads /proc/PID/smaps_rollup
# of every process: anonymous = Pss_Anon + Pss_Shmem, as bench/procs.ts's treePss counts it.
#
# Usage: bench/router-mem.sh [-r RUNS] [-d SECONDS] [-i IDLE] [-N] NAME_A ROOT_A [NAME_B ROOT_B] ['FLAGS' ['FLAGS_B']]
#   flags default to: --http 127.0.0.1:{PORT} --processes 4 --threads 2 --logto /dev/null (the bench's row,
#   access log on); -N: bench/apps/hello.mjs (a Node app) instead of hello_wsgi.py; -d defaults to 10;
#   -i IDLE: seconds between the load's end and the reading (default 1; `npm run bench` reads a server's
#   memory after the other servers' rounds, ~40 s after its own last one).
#   USHER_NODE_OPTIONS, if set, is passed as NODE_OPTIONS to the server (every Node process of the tree).
# Prints per round "NAME router_MiB workers_MiB master_MiB forkserver_MiB tree_MiB router_rss_MiB rps",
# then the medians.
# Example: flock -o /tmp/usher-bench.lock bench/router-mem.sh -r 3 old /work/wt/old new "$PWD"
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
RUNS=3
SECONDS_LOAD=10
IDLE=1
NODE_APP=''
while getopts 'r:d:i:N' o; do case $o in r) RUNS=$OPTARG ;; d) SECONDS_LOAD=$OPTARG ;; i) IDLE=$OPTARG ;; N) NODE_APP=1 ;; *) exit 2 ;; esac; done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { echo "usage: $0 [-r RUNS] [-d SECONDS] [-i IDLE] [-N] NAME_A ROOT_A [NAME_B ROOT_B] ['FLAGS' ['FLAGS_B']]" >&2; exit 2; }
NAME_A=$1 ROOT_A=$2
shift 2
if [ $# -ge 2 ] && [ -d "$2" ]; then NAME_B=$1 ROOT_B=$2; shift 2; else NAME_B=$NAME_A-b ROOT_B=$ROOT_A; fi
FLAGS_A=${1:-'--http 127.0.0.1:{PORT} --processes 4 --threads 2 --logto /dev/null'}
FLAGS_B=${2:-$FLAGS_A}
KIND=wsgi
[ -n "$NODE_APP" ] && KIND=node

mem_by_role() {  # "router workers master forkserver tree router_rss" in KiB for session $1
  local p kb rss
  declare -A sum=([router]=0 [worker]=0 [master]=0 [forkserver]=0)
  local tree=0 rrss=0
  for p in $(ps -s "$1" -o pid= 2>/dev/null); do
    [ -r "/proc/$p/smaps_rollup" ] || continue
    read -r kb rss < <(awk '/^Pss_Anon:|^Pss_Shmem:/ { a += $2 } /^Rss:/ { r = $2 } END { print a + 0, r + 0 }' "/proc/$p/smaps_rollup")
    local role
    role=$(role_of "$p")
    sum[$role]=$((sum[$role] + kb))
    tree=$((tree + kb))
    [ "$role" = router ] && rrss=$((rrss + rss))
  done
  echo "${sum[router]} ${sum[worker]} ${sum[master]} ${sum[forkserver]} $tree $rrss"
}

one() {  # $1 "A|B root"; prints the MiB figures and the rate
  local dir
  dir=$(mktemp -d)
  start_usher "$1" "$dir" "$KIND"
  local pid=$PID port=$PORT
  for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null
  local out rps m
  out=$(wrk -t1 -c64 -d"${SECONDS_LOAD}s" "http://127.0.0.1:$port/")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  sleep "$IDLE"
  read -r -a m < <(mem_by_role $pid)
  stop_server $pid "$dir"
  awk -v r="${m[0]}" -v w="${m[1]}" -v ma="${m[2]}" -v f="${m[3]}" -v t="${m[4]}" -v rr="${m[5]}" -v rps="$rps" \
    'BEGIN { printf "%.1f %.1f %.1f %.1f %.1f %.1f %.0f\n", r / 1024, w / 1024, ma / 1024, f / 1024, t / 1024, rr / 1024, rps }'
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
summarise "$out" "$RUNS" "$NAME_A" "A $ROOT_A" "$NAME_B" "B $ROOT_B" "name router_anon workers_anon master_anon forkserver_anon tree_anon router_rss rps (MiB)" '
  $1 == n { r[++k] = $2; w[k] = $3; m[k] = $4; f[k] = $5; t[k] = $6; s[k] = $7; q[k] = $8 }
  END { if (k) printf "%s: median anonymous PSS MiB: tree %.1f: router %.1f (RSS %.1f), workers %.1f, master %.1f, fork-server %.1f; %.0f requests/s (%d runs)\n", n, med(t, k), med(r, k), med(s, k), med(w, k), med(m, k), med(f, k), med(q, k), k }'
