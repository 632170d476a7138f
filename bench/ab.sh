#!/usr/bin/env bash
# A/B cost of one usher setting: alternated rounds of the same Node hello app on --http-socket with two
# sets of flags, each round a fixed `wrk -t1 -c64 -d5s`, reporting for each side the median requests/s
# and the median CPU time per request of usher's whole process tree (utime + stime from /proc, summed
# over every process in usher's session, which is its own: usher starts under setsid, as a systemd unit
# would). CPU per request is the steady figure on a shared machine; requests/s is what users see.
#
# Usage: bench/ab.sh [-r RUNS] [-R USHER_ROOT] [-w PATH] [-p PAUSE_MS] [-W] NAME_A 'FLAGS_A' NAME_B 'FLAGS_B'
#   -W: USHER_ROOT's bench/apps/hello_wsgi.py on `--http` (router -> Python workers), as `npm run bench`
#            runs it, instead of hello.mjs on --http-socket; give the bench's `--processes 4 --threads 2`
#            in the flags.
#   {DIR} in flags is the round's temp folder, {PORT2} a second free port (e.g. for --stats).
#   -w PATH: while wrk runs, a monitoring agent (bench/poll.mjs: one long-lived process, one kept-alive
#            connection, as Prometheus scrapes) fetches http://127.0.0.1:{PORT2}PATH once a second
#            (only on sides whose flags use {PORT2}).
#   -p PAUSE_MS: each of wrk's 64 connections waits PAUSE_MS between requests (wrk's delay() hook), so
#            both sides serve about the same rate below saturation. At saturation CPU per request falls
#            as the rate rises (more events per wake-up), so on a busy machine the side that happened to
#            get more CPU looks cheaper; a paced load compares a fixed cost at one rate.
# Examples: bench/log-cost.sh (log on vs off); bench/stats-cost.sh (stats on vs off).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/bench
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
RUNS=5
WATCH=''
WSGI=''
WRK_SCRIPT=()
while getopts 'r:R:w:p:W' o; do
  case $o in
    r) RUNS=$OPTARG ;; R) ROOT=$OPTARG ;; w) WATCH=$OPTARG ;; W) WSGI=1 ;;
    p) lua=$(mktemp --suffix=.lua); echo "function delay() return $OPTARG end" >"$lua"; WRK_SCRIPT=(-s "$lua") ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 4 ] || { echo "usage: $0 [-r RUNS] [-R USHER_ROOT] [-w PATH] [-p PAUSE_MS] [-W] NAME_A 'FLAGS_A' NAME_B 'FLAGS_B'" >&2; exit 2; }
command -v wrk >/dev/null || { echo "$0: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
TICK=$(getconf CLK_TCK)

one() {  # $1: flags; prints "µs-CPU/request requests requests/s"
  local port=$((20000 + RANDOM % 20000)) port2=$((40000 + RANDOM % 20000)) dir flags poller='' app
  dir=$(mktemp -d)
  flags=${1//\{DIR\}/$dir}
  flags=${flags//\{PORT2\}/$port2}
  app=(--http-socket "127.0.0.1:$port" --app "$ROOT/bench/apps/hello.mjs")
  [ -n "$WSGI" ] && app=(--http "127.0.0.1:$port" --chdir "$ROOT/bench/apps" --wsgi-file hello_wsgi.py --python /usr/bin/python3)
  # shellcheck disable=SC2086  # flags are words on purpose
  setsid node "$ROOT/bin/usher.js" "${app[@]}" --logto "$dir/usher.log" $flags >/dev/null 2>&1 &
  local pid=$!
  guard_server $pid
  for _ in $(seq 300); do grep -q 'master: ready' "$dir/usher.log" 2>/dev/null && break; sleep 0.1; done
  if [ -n "$WATCH" ] && [[ $1 == *'{PORT2}'* ]]; then
    # Started before the warm-up, so its own start-up is over when the measured run begins.
    node "$HERE/poll.mjs" "http://127.0.0.1:$port2$WATCH" 8 >/dev/null 2>&1 &
    poller=$!
  fi
  wrk -t1 -c64 -d1s "http://127.0.0.1:$port/" >/dev/null
  local before after out reqs rps
  before=$(cpu_of_session $pid)
  out=$(wrk -t1 -c64 -d5s "${WRK_SCRIPT[@]}" "http://127.0.0.1:$port/")
  after=$(cpu_of_session $pid)
  [ -n "$poller" ] && kill "$poller" 2>/dev/null || true
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  stop_server $pid "$dir"
  awk -v t=$((after - before)) -v r="$reqs" -v hz="$TICK" -v rps="$rps" 'BEGIN { printf "%.1f %d %.0f\n", t / hz * 1e6 / r, r, rps }'
}

median() { awk "$AWK_MED"' { v[NR] = $1 } END { printf "%.1f", med(v, NR) }'; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
alternate "$RUNS" "$1" "$2" "$3" "$4" >"$out"
for name in "$1" "$3"; do
  cpu=$(awk -v m="$name" '$1 == m && $3 > 0 { print $2 }' "$out" | median)
  rps=$(awk -v m="$name" '$1 == m && $3 > 0 { print $4 }' "$out" | median)
  echo "$name: median $cpu us CPU/request, $rps requests/s over $RUNS runs"
done
awk -v a="$1" -v b="$3" "$AWK_MED"'
  $3 > 0 && $1 == a { ca[++na] = $2; ra[na] = $4 } $3 > 0 && $1 == b { cb[++nb] = $2; rb[nb] = $4 }
  END { printf "%s vs %s: CPU/request %+.1f %%, requests/s %+.1f %%\n", a, b, (med(ca, na) / med(cb, nb) - 1) * 100, (med(ra, na) / med(rb, nb) - 1) * 100 }' "$out"
# The same, round by round: each round runs A and B back to back, so the ratio within a round cancels
# the machine's slower drifts (other jobs on a shared machine move both sides' figures by tens of %).
awk -v a="$1" -v b="$3" "$AWK_MED"'
  { r = int((NR + 1) / 2) } $3 > 0 && $1 == a { ca[r] = $2; ra[r] = $4 } $3 > 0 && $1 == b { cb[r] = $2; rb[r] = $4 }
  END { for (i = 1; i <= r; i++) if ((i in ca) && (i in cb)) { n++; pc[n] = ca[i] / cb[i]; pr[n] = ra[i] / rb[i] }
    if (n) printf "%s vs %s, median of per-round ratios: CPU/request %+.1f %%, requests/s %+.1f %% (%d rounds)\n", a, b, (med(pc, n) - 1) * 100, (med(pr, n) - 1) * 100, n }' "$out"
