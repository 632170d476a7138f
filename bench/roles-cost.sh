#!/usr/bin/env bash
# CPU per request of each kind of usher process (master, router, workers, Python fork-server) for two
# usher checkouts (or the same one twice), alternated rounds of a fixed `wrk -t1 -c64 -d5s` on the Node
# hello app (or, with -W, the WSGI hello app). Where bench/ab.sh sums the whole tree, this splits it by
# role, so a cost that moved between the router and the workers shows (the router is one process and the
# usual limit of `http-router`).
#
# Usage: bench/roles-cost.sh [-r RUNS] [-p PAUSE_MS] [-W] NAME_A ROOT_A NAME_B ROOT_B ['FLAGS' ['FLAGS_B']]
#   FLAGS_B (B's flags) defaults to FLAGS, so one checkout with two flag sets is an A/B too;
#   flags default to: --http 127.0.0.1:{PORT} --http-router --processes 2 --disable-logging
#   -W: each ROOT's bench/apps/hello_wsgi.py instead of hello.mjs, run as `npm run bench` runs it
#      (`--chdir ROOT/bench/apps --wsgi-file hello_wsgi.py --python /usr/bin/python3`); flags then
#      default to: --http 127.0.0.1:{PORT} --processes 4 --threads 2 --disable-logging (the bench's
#      "WSGI hello world, direct HTTP" row with the access log off). A flag set without
#      --disable-logging logs every request to the round's log file.
#   -p PAUSE_MS: each of wrk's 64 connections waits PAUSE_MS between requests (wrk's delay() hook), so
#      both sides serve about the same rate below saturation. At saturation (the default) CPU per request
#      falls as the rate rises (more events per wake-up), so on a busy machine a side that happened to
#      get more CPU looks cheaper; a paced load compares the two at one rate.
# Example: bench/roles-cost.sh old /work/wt/old-2edfa1d new "$PWD"
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
RUNS=5
PAUSE=''
WSGI=''
while getopts 'r:p:W' o; do case $o in r) RUNS=$OPTARG ;; p) PAUSE=$OPTARG ;; W) WSGI=1 ;; *) exit 2 ;; esac; done
shift $((OPTIND - 1))
[ $# -ge 4 ] || { echo "usage: $0 [-r RUNS] [-p PAUSE_MS] [-W] NAME_A ROOT_A NAME_B ROOT_B ['FLAGS' ['FLAGS_B']]" >&2; exit 2; }
if [ -n "$WSGI" ]; then
  FLAGS=${5:-'--http 127.0.0.1:{PORT} --processes 4 --threads 2 --disable-logging'}
else
  FLAGS=${5:-'--http 127.0.0.1:{PORT} --http-router --processes 2 --disable-logging'}
fi
FLAGS_A=$FLAGS
FLAGS_B=${6:-$FLAGS}
TICK=$(getconf CLK_TCK)
WRK_SCRIPT=()
if [ -n "$PAUSE" ]; then
  script=$(mktemp --suffix=.lua)
  echo "function delay() return $PAUSE end" >"$script"
  WRK_SCRIPT=(-s "$script")
fi

cpu_by_role() {  # "master router worker forkserver" (ticks) for session $1
  local m=0 r=0 w=0 s=0 p t
  for p in $(ps -s "$1" -o pid= 2>/dev/null); do
    [ -r "/proc/$p/stat" ] || continue
    read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat")
    t=$((f[11] + f[12]))
    case $(role_of "$p") in router) r=$((r + t)) ;; worker) w=$((w + t)) ;; forkserver) s=$((s + t)) ;; *) m=$((m + t)) ;; esac
  done
  echo "$m $r $w $s"
}

one() {  # $1 "A|B root"; prints "master_us router_us worker_us requests rps forkserver_us"
  local dir
  dir=$(mktemp -d)
  start_usher "$1" "$dir" "${WSGI:+wsgi}" --logto "$dir/usher.log"
  local pid=$PID port=$PORT
  for _ in $(seq 300); do grep -q 'master: ready' "$dir/usher.log" 2>/dev/null && break; sleep 0.1; done
  wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null
  local before after out reqs rps
  read -r -a before < <(cpu_by_role $pid)
  out=$(wrk -t1 -c64 -d5s "${WRK_SCRIPT[@]}" "http://127.0.0.1:$port/")
  read -r -a after < <(cpu_by_role $pid)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  stop_server $pid "$dir"
  awk -v m=$((after[0] - before[0])) -v r=$((after[1] - before[1])) -v w=$((after[2] - before[2])) \
    -v s=$((after[3] - before[3])) -v n="$reqs" -v hz="$TICK" -v rps="$rps" \
    'BEGIN { k = 1e6 / hz / n; printf "%.1f %.1f %.1f %d %.0f %.1f\n", m * k, r * k, w * k, n, rps, s * k }'
}

out=$(mktemp)
trap 'rm -f "$out" ${script:+"$script"}' EXIT
summarise "$out" "$RUNS" "$1" "A $2" "$3" "B $4" "name master_us router_us workers_us requests rps forkserver_us" '
  $1 == n && $5 > 0 { m[++k] = $2; r[k] = $3; w[k] = $4; q[k] = $6; s[k] = $7; t[k] = $2 + $3 + $4 + $7 }
  END { printf "%s: median us CPU/request: total %.1f: router %.1f, workers %.1f, master %.1f, fork-server %.1f; %.0f requests/s (%d runs)\n", n, med(t, k), med(r, k), med(w, k), med(m, k), med(s, k), med(q, k), k }'
