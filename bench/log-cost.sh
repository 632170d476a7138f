#!/usr/bin/env bash
# CPU per request of usher's process tree with the default access log on vs off (`--disable-logging`),
# for the Node hello app on --http-socket, lines going to a file (logto) as in production.
# Usage: bench/log-cost.sh [USHER_ROOT] [RUNS]   (USHER_ROOT defaults to this checkout). See bench/ab.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/ab.sh" -R "${1:-$(cd "$HERE/.." && pwd)}" -r "${2:-5}" log-on '' log-off '--disable-logging'
