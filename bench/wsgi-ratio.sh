#!/usr/bin/env bash
# The bench table's "WSGI hello world, direct HTTP" pair (usher `http` -> Python workers, and uWSGI's
# `http` router with http-keepalive, the reference), each with its access log on and off, in alternated
# rounds (the order rotates each round) of a fixed `wrk -t1 -c64 -d5s`: median requests/s, median CPU
# time per request of the server's whole tree (utime + stime from /proc, every process of its session),
# and each side's requests/s ratio to uWSGI with the same logging. Servers run as bench/servers.ts runs
# them (4 processes x 2 threads, logs to /dev/null), each in its own session.
#
# Usage: bench/wsgi-ratio.sh [-r RUNS] [-p PAUSE_MS] [-R USHER_ROOT] [-O OLD_ROOT]
#   -p PAUSE_MS: each connection waits PAUSE_MS between requests (a paced load, the same rate for all).
#   -R: the usher checkout to run (default: this one), e.g. a worktree of an older commit.
#   -O: a second usher checkout, run with its log off as the side `old-nolog` in the same rounds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
USHER_ROOT=$ROOT
OLD_ROOT=''
RUNS=5
WRK_SCRIPT=()
while getopts 'r:p:R:O:' o; do
  case $o in
    r) RUNS=$OPTARG ;; R) USHER_ROOT=$OPTARG ;; O) OLD_ROOT=$OPTARG ;;
    p) lua=$(mktemp --suffix=.lua); echo "function delay() return $OPTARG end" >"$lua"; WRK_SCRIPT=(-s "$lua") ;;
    *) exit 2 ;;
  esac
done
command -v uwsgi >/dev/null || { echo "$0: uwsgi is not installed (apt-get install uwsgi uwsgi-plugin-python3)" >&2; exit 1; }
TICK=$(getconf CLK_TCK)
APPS=$ROOT/bench/apps
SIDES=(usher-log usher-nolog uwsgi-log uwsgi-nolog)
[ -n "$OLD_ROOT" ] && SIDES+=(old-nolog)

one() {  # $1: side; prints "µs-CPU/request requests requests/s"
  local port=$((20000 + RANDOM % 20000)) pid sig=TERM nolog=()
  [[ $1 == *nolog ]] && nolog=(--disable-logging)
  local root=$USHER_ROOT
  [[ $1 == old* ]] && root=$OLD_ROOT
  case $1 in
    usher* | old*)
      setsid node "$root/bin/usher.js" --processes 4 --threads 2 --logto /dev/null --http "127.0.0.1:$port" \
        --chdir "$root/bench/apps" --wsgi-file hello_wsgi.py --python /usr/bin/python3 "${nolog[@]}" >/dev/null 2>&1 &
      pid=$! ;;
    uwsgi*)
      setsid sh -c 'cd "$0" && exec uwsgi "$@"' "$APPS" --master --processes 4 --threads 2 --logto /dev/null --die-on-term \
        --plugins http,python3 --http "127.0.0.1:$port" --http-keepalive --wsgi-file hello_wsgi.py "${nolog[@]}" >/dev/null 2>&1 &
      pid=$!; sig=INT ;;
  esac
  guard_server $pid $sig
  for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null
  local before after out reqs rps
  before=$(cpu_of_session $pid)
  out=$(wrk -t1 -c64 -d5s "${WRK_SCRIPT[@]}" "http://127.0.0.1:$port/")
  after=$(cpu_of_session $pid)
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  kill -"$sig" $pid; timeout 15 tail --pid=$pid -f /dev/null || kill -KILL -- -$pid 2>/dev/null || true
  unguard_server
  awk -v t=$((after - before)) -v r="$reqs" -v hz="$TICK" -v rps="$rps" 'BEGIN { printf "%.1f %d %.0f\n", t / hz * 1e6 / r, r, rps }'
}

out=$(mktemp)
trap 'rm -f "$out" ${lua:+"$lua"}' EXIT
for i in $(seq "$RUNS"); do
  n=${#SIDES[@]}
  for k in $(seq 0 $((n - 1))); do
    side=${SIDES[$(((k + i) % n))]}
    echo "$side $(one "$side")"
  done
done | tee /dev/stderr >"$out"
awk "$AWK_MED"'
  $4 > 0 { n = ++k[$1]; c[$1, n] = $2; q[$1, n] = $4 }
  END {
    ns = split("usher-log usher-nolog uwsgi-log uwsgi-nolog old-nolog", s, " ")
    if (!k["old-nolog"]) ns = 4
    for (i = 1; i <= ns; i++) { m = k[s[i]]; for (j = 1; j <= m; j++) { x[j] = c[s[i], j]; y[j] = q[s[i], j] }
      cpu[s[i]] = med(x, m); rps[s[i]] = med(y, m) }
    for (i = 1; i <= ns; i++) printf "%s: median %.1f us CPU/request, %.0f requests/s (%d runs)\n", s[i], cpu[s[i]], rps[s[i]], k[s[i]]
    printf "usher/uWSGI requests/s, logging on: %.2fx; off: %.2fx. CPU/request, on: %.2fx; off: %.2fx\n",
      rps["usher-log"] / rps["uwsgi-log"], rps["usher-nolog"] / rps["uwsgi-nolog"], cpu["usher-log"] / cpu["uwsgi-log"], cpu["usher-nolog"] / cpu["uwsgi-nolog"]
    if (ns == 5) printf "old (log off)/uWSGI (log off) requests/s: %.2fx, CPU/request: %.2fx\n", rps["old-nolog"] / rps["uwsgi-nolog"], cpu["old-nolog"] / cpu["uwsgi-nolog"]
  }' "$out"
