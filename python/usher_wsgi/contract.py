"""The master <-> child contract, generated from src/ipc.ts by scripts/gen-contract.ts: do not edit.

Run `npm run build` after changing src/ipc.ts; test/contract/contract-drift.test.ts fails while this
file is stale.
"""

CONTRACT_VERSION = 3

# Reserved exit codes (the master reacts to each by table).
EXIT_OK = 0
EXIT_CRASH = 1
EXIT_APP_LOAD = 3
EXIT_BOOT = 4
EXIT_HARAKIRI = 90
EXIT_RECYCLE = 91
EXIT_CONTRACT = 92

# Timing shared with the master, in seconds.
HEARTBEAT_INTERVAL_S = 5
ABORT_GRACE_S = 5
ORPHAN_EXIT_S = 2

# Keys every spec must carry; a missing one is a boot error naming it.
WORKER_SPEC_KEYS = ("contract", "id", "generation", "fds", "kinds", "listen", "threads", "processes", "bufferSize", "harakiri", "socketTimeout", "maxRequests", "postBuffering", "disableLogging", "accessLog", "logFile", "heartbeatMs", "static", "readyPath", "limitPost", "limitAs", "harakiriGracefulTimeout", "harakiriGracefulSignal", "chdir", "app", "wsgiFile", "module", "callable", "pythonpath")
ROUTER_SPEC_KEYS = ("contract", "id", "fds", "listen", "upstream", "bufferSize", "disableLogging", "heartbeatMs", "httpTimeout", "static", "readyPath", "limitPost")

# Live counters sent with every heartbeat and with `exiting`.
COUNTER_KEYS = ("requests", "inflight", "oldest", "tx", "exceptions", "rtUs", "harakiri", "codes", "rtHist")
# Upper bounds (microseconds) of the response-time histogram (`rtHist` has one more, for slower requests).
RT_BUCKETS_US = (5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000)
# Status classes counted in `codes` (1xx to 5xx).
STATUS_CLASSES = 5

# Message types each way.
CHILD_MESSAGES = ("ready", "heartbeat", "app-error", "exiting")
MASTER_MESSAGES = ("stop", "drain", "reopen-logs", "logging")

# Environment variables carrying the specs.
WORKER_SPEC_ENV = "USHER_WORKER"
ROUTER_SPEC_ENV = "USHER_ROUTER"
