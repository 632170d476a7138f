# Shared by bench/ab.sh, bench/roles-cost.sh and bench/wsgi-ratio.sh (sourced): the alternated rounds,
# the median and the CPU time of a session.

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
