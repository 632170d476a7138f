#!/usr/bin/env bash
# Throughput and CPU per request of usher's process tree with the stats server on (`--stats` with
# `--stats-http`, fetched once a second as a monitoring agent would) vs off, for the Node hello app on
# --http-socket with the default access log. Usage: bench/stats-cost.sh [RUNS] [PROCESSES] [PAUSE_MS]
# (PAUSE_MS: a paced load, the same rate on both sides; see ab.sh -p). See bench/ab.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
P="--processes ${2:-1}"
PACE=()
[ -n "${3:-}" ] && PACE=(-p "$3")
exec "$HERE/ab.sh" -r "${1:-5}" "${PACE[@]}" -w /metrics stats-on "$P --stats 127.0.0.1:{PORT2} --stats-http" stats-off "$P"
