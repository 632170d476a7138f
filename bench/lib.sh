# Shared by bench/ab.sh, bench/roles-cost.sh, bench/router-mem.sh and bench/wsgi-ratio.sh (sourced): the
# alternated rounds, the median, the CPU time of a session, and starting and stopping a round's usher.

cpu_of_session() {  # utime+stime ticks of every process in session $1 (fields after the last ')')
  local total=0 p
  for p in $(ps -s "$1" -o pid= 2>/dev/null); do
    if [ -r "/proc/$p/stat" ]; then
      read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat")
      total=$((total + f[11] + f[12]))
    fi
  done
  echo "$total"
}

role_of() {  # master | router | worker | forkserver, from the process's command line
  local args
  args=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true)
  # process titles (usher router, usher worker N, usher fork-server) or, in older checkouts, the entry
  # script's path (a Python worker of an older checkout runs python/usher_wsgi.py, with no fork-server)
  case $args in
    *router/main.js* | 'usher router'*) echo router ;;
    *worker/main.js* | 'usher worker'* | *usher_wsgi.py*) echo worker ;;
    'usher fork-server'*) echo forkserver ;;
    *) echo master ;;
  esac
}

# alternate RUNS NAME_A ARG_A NAME_B ARG_B: RUNS rounds of the caller's `one ARG`, A and B alternating
# (and which goes first alternating too, so a busy moment of the machine hits both alike); each result
# is one line "NAME <what one printed>", on stdout and stderr.
alternate() {
  local i side order
  for i in $(seq "$1"); do
    if [ $((i % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
    for side in $order; do
      if [ "$side" = A ]; then echo "$2 $(one "$3")"; else echo "$4 $(one "$5")"; fi
    done
  done | tee /dev/stderr
}

# summarise FILE RUNS NAME_A ARG_A NAME_B ARG_B HEADER AWK: the alternated rounds (HEADER on stderr first,
# the rounds' lines kept in FILE, which the caller removes), then the awk program AWK over them once per
# side, with n set to the side's name and med() (AWK_MED) defined.
summarise() {
  local file=$1 name
  echo "$7" >&2
  alternate "$2" "$3" "$4" "$5" "$6" >"$file"
  for name in "$3" "$5"; do awk -v n="$name" "$AWK_MED$8" "$file"; done
}

# An awk function: the median of x[1..n] (sorts x in place).
AWK_MED='function med(x, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
  return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }'

# guard_server PID SIG: the server a round started runs in its own session (setsid), out of reach of a
# Ctrl-C or of a kill sent to the script's process group; should the round (a $(one ...) subshell) be
# interrupted, it stops the server's whole session itself, so no orphan keeps serving, or keeps a
# `flock` on the bench lock held through an inherited descriptor. unguard_server once stopped normally.
guard_server() {
  # shellcheck disable=SC2064  # the pid is fixed now, on purpose
  trap "kill -${2:-TERM} -- -$1 2>/dev/null" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
unguard_server() { trap - EXIT INT TERM; }

# start_usher "A|B ROOT" DIR wsgi|node [ARG...]: ROOT's usher with FLAGS_A or FLAGS_B (the caller's; {PORT}
# filled in) on ROOT's hello app of that kind (as `npm run bench` runs it) and the extra ARGs, in its own
# session, guarded, its output in DIR/out; USHER_NODE_OPTIONS, if set, becomes NODE_OPTIONS. Sets PORT
# and PID (call it in the round's shell, not in a $(...)).
start_usher() {
  local side=${1%% *} root=${1#* } dir=$2 kind=$3 flags app
  shift 3
  PORT=$((20000 + RANDOM % 20000))
  if [ "$side" = A ]; then flags=$FLAGS_A; else flags=$FLAGS_B; fi
  flags=${flags//\{PORT\}/$PORT}
  if [ "$kind" = wsgi ]; then app=(--chdir "$root/bench/apps" --wsgi-file hello_wsgi.py --python /usr/bin/python3); else app=(--app "$root/bench/apps/hello.mjs"); fi
  # shellcheck disable=SC2086  # flags are words on purpose
  NODE_OPTIONS=${USHER_NODE_OPTIONS:-${NODE_OPTIONS:-}} setsid node "$root/bin/usher.js" $flags "${app[@]}" "$@" >"$dir/out" 2>&1 &
  PID=$!
  guard_server $PID
}

# stop_server PID DIR: the round's server stopped (SIGTERM, then waited for), unguarded, DIR removed.
stop_server() {
  kill -TERM "$1"; wait "$1" 2>/dev/null || true
  unguard_server
  rm -rf "$2"
}
