#!/usr/bin/env bash
# CPU per request of each kind of usher process (master, router, workers) for two usher checkouts (or
# the same one twice), alternated rounds of a fixed `wrk -t1 -c64 -d5s` on the Node hello app. Where
# bench/ab.sh sums the whole tree, this splits it by role, so a cost that moved between the router and
# the workers shows (the router is one process and the usual limit of `http-router`).
#
# Usage: bench/roles-cost.sh [-r RUNS] [-p PAUSE_MS] NAME_A ROOT_A NAME_B ROOT_B ['USHER FLAGS']
#   flags default to: --http 127.0.0.1:{PORT} --http-router --processes 2 --disable-logging
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
while getopts 'r:p:' o; do case $o in r) RUNS=$OPTARG ;; p) PAUSE=$OPTARG ;; *) exit 2 ;; esac; done
shift $((OPTIND - 1))
[ $# -ge 4 ] || { echo "usage: $0 [-r RUNS] NAME_A ROOT_A NAME_B ROOT_B ['FLAGS']" >&2; exit 2; }
FLAGS=${5:-'--http 127.0.0.1:{PORT} --http-router --processes 2 --disable-logging'}
TICK=$(getconf CLK_TCK)
WRK_SCRIPT=()
if [ -n "$PAUSE" ]; then
  script=$(mktemp --suffix=.lua)
  echo "function delay() return $PAUSE end" >"$script"
  WRK_SCRIPT=(-s "$script")
fi

role_of() {  # master | router | worker, from the process's command line
  local args
  args=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true)
  # process titles (usher router, usher worker N) or, in older checkouts, the entry script's path
  case $args in *router/main.js* | 'usher router'*) echo router ;; *worker/main.js* | 'usher worker'*) echo worker ;; *) echo master ;; esac
}

cpu_by_role() {  # "master=T router=T worker=T" (ticks) for session $1
  local m=0 r=0 w=0 p t
  for p in $(ps -s "$1" -o pid= 2>/dev/null); do
    [ -r "/proc/$p/stat" ] || continue
    read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat")
    t=$((f[11] + f[12]))
    case $(role_of "$p") in router) r=$((r + t)) ;; worker) w=$((w + t)) ;; *) m=$((m + t)) ;; esac
  done
  echo "$m $r $w"
}

one() {  # $1 root; prints "master_us router_us worker_us requests rps"
  local root=$1 port=$((20000 + RANDOM % 20000)) dir flags
  dir=$(mktemp -d)
  flags=${FLAGS//\{PORT\}/$port}
  # shellcheck disable=SC2086  # flags are words on purpose
  setsid node "$root/bin/usher.js" $flags --app "$root/bench/apps/hello.mjs" --logto "$dir/usher.log" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 300); do grep -q 'master: ready' "$dir/usher.log" 2>/dev/null && break; sleep 0.1; done
  wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null
  local before after out reqs rps
  read -r -a before < <(cpu_by_role $pid)
  out=$(wrk -t1 -c64 -d5s "${WRK_SCRIPT[@]}" "http://127.0.0.1:$port/")
  read -r -a after < <(cpu_by_role $pid)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  kill -TERM $pid; wait $pid 2>/dev/null || true
  rm -rf "$dir"
  awk -v m=$((after[0] - before[0])) -v r=$((after[1] - before[1])) -v w=$((after[2] - before[2])) \
    -v n="$reqs" -v hz="$TICK" -v rps="$rps" \
    'BEGIN { k = 1e6 / hz / n; printf "%.1f %.1f %.1f %d %.0f\n", m * k, r * k, w * k, n, rps }'
}

out=$(mktemp)
trap 'rm -f "$out" ${script:+"$script"}' EXIT
echo "name master_us router_us workers_us requests rps" >&2
alternate "$RUNS" "$1" "$2" "$3" "$4" >"$out"
for name in "$1" "$3"; do
  awk -v n="$name" "$AWK_MED"'
    $1 == n && $5 > 0 { m[++k] = $2; r[k] = $3; w[k] = $4; q[k] = $6 }
    END { printf "%s: median us CPU/request: router %.1f, workers %.1f, master %.1f; %.0f requests/s (%d runs)\n", n, med(r, k), med(w, k), med(m, k), med(q, k), k }' "$out"
done
