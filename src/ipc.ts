/**
 * ipc: the master <-> child contract, defined once. Node workers, HTTP routers and Python workers are
 * all held to it: the Python runner's copy (`python/usher_wsgi/contract.py`) is generated from the
 * CONTRACT object below by `scripts/gen-contract.ts` during the build, and a test fails when that
 * file is stale. Messages travel on Node's 'ipc' channel (JSON, one message per line).
 * Every child checks `spec.contract` against its own CONTRACT_VERSION and refuses to run (exit
 * EXIT.CONTRACT) on a mismatch, so a runner from another usher version never half-works.
 * Must not: carry request data (requests go over sockets, never IPC).
 */
import type { AccessLogSpec } from './logging/spec.js';

import type { StaticSpec } from './static/spec.js';

/** Bump when a spec key, a message or an exit code changes meaning. */
export const CONTRACT_VERSION = 3;

/**
 * Reserved exit codes. The master reacts to each by table (master/exits.ts): app-load and boot
 * failures stop usher instead of respawning forever (gunicorn's idea), the others are logged by name.
 * APP_LOAD, BOOT and CONTRACT count only before a child is ready, and usher's own ones sit at 90+, so
 * an app that calls exit(3) or sys.exit(7) mid-request is a crash, not mistaken for one of these.
 */
export const EXIT = Object.freeze({
  /** Exited on request (stop, reload, master gone). */
  OK: 0,
  /** Anything unexpected: an uncaught exception. Respawned with back-off. */
  CRASH: 1,
  /** The app could not be loaded: usher stops (or a reload is abandoned). */
  APP_LOAD: 3,
  /** The child could not start (bad spec, cannot listen, runner broken): usher stops. */
  BOOT: 4,
  /** A request outlived `harakiri`: the worker killed itself; respawned at once. */
  HARAKIRI: 90,
  /** Recycled on purpose (max-requests, lifetime, memory): respawned at once, never backed off. */
  RECYCLE: 91,
  /** The spec's contract version is not the child's: usher stops (mixed installs). */
  CONTRACT: 92,
});
export type ExitCodeName = keyof typeof EXIT;

/** Timing shared by every child and the master. */
export const TIMING = Object.freeze({
  /** How often children send a heartbeat (with their live counters), at most; the spec's
   *  `heartbeatMs` is shorter when `heartbeat-timeout` is short. */
  HEARTBEAT_INTERVAL_MS: 5_000,
  /** After SIGABRT, how long a stuck child gets before SIGKILL. */
  ABORT_GRACE_MS: 5_000,
  /** How long a child may take to wind down after the master's channel closes. */
  ORPHAN_EXIT_MS: 2_000,
});

/** Live counters a child reports with every heartbeat (and when it exits on purpose). */
export interface ChildCounters {
  /** Requests completed since the child started. */
  readonly requests: number;
  /** Requests being served right now. */
  readonly inflight: number;
  /** Start (ms since the epoch) of the oldest request in flight; 0 when idle. */
  readonly oldest: number;
  /** Response body bytes written. */
  readonly tx: number;
  /** Requests that ended in an exception inside the app (500 from usher). */
  readonly exceptions: number;
  /** Sum of response times of completed requests, in microseconds (for avg_rt). */
  readonly rtUs: number;
  /** Requests cut by harakiri while the worker served on (Node workers; a Python worker's harakiri is its exit). */
  readonly harakiri: number;
  /** Completed requests by status class: [1xx, 2xx, 3xx, 4xx, 5xx] (a status outside 100-599 counts in none). */
  readonly codes: readonly number[];
  /**
   * Completed requests by response time, one count per bucket of RT_BUCKETS_US (a request falls in the
   * first bucket whose bound it does not exceed), plus a last one for slower requests: not cumulative,
   * so a request costs one increment; the master sums them into Prometheus' cumulative `le` buckets.
   */
  readonly rtHist: readonly number[];
}

/**
 * Upper bounds (µs) of the response-time histogram: Prometheus' default buckets (5 ms to 10 s), the
 * ones dashboards and alert rules written for client libraries expect.
 */
export const RT_BUCKETS_US = [5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000] as const;
/** How many status classes `codes` has (1xx to 5xx). */
export const STATUS_CLASSES = 5;

export const COUNTER_KEYS = ['requests', 'inflight', 'oldest', 'tx', 'exceptions', 'rtUs', 'harakiri', 'codes', 'rtHist'] as const satisfies readonly (keyof ChildCounters)[];

/** Why a child is exiting on purpose: said before it exits, so the master logs it by name. */
export type ExitReason = 'max-requests' | 'harakiri' | 'lifetime' | 'rss' | 'stop';

export type ChildMessage =
  | { readonly type: 'ready'; readonly pid: number; readonly contract: number }
  | { readonly type: 'heartbeat'; readonly counters: ChildCounters }
  | { readonly type: 'app-error'; readonly message: string }
  | { readonly type: 'exiting'; readonly reason: ExitReason; readonly detail: string; readonly counters: ChildCounters };

export type MasterMessage =
  | { readonly type: 'stop'; readonly reason: string }
  /** Draining before a stop: the readiness path answers 503, every other request is served as usual. */
  | { readonly type: 'drain' }
  | { readonly type: 'reopen-logs' }
  | { readonly type: 'logging'; readonly enabled: boolean };

export const CHILD_MESSAGE_TYPES = ['ready', 'heartbeat', 'app-error', 'exiting'] as const satisfies readonly ChildMessage['type'][];
export const MASTER_MESSAGE_TYPES = ['stop', 'drain', 'reopen-logs', 'logging'] as const satisfies readonly MasterMessage['type'][];

export function isChildMessage(m: unknown): m is ChildMessage {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  return (CHILD_MESSAGE_TYPES as readonly unknown[]).includes(t);
}

export function isMasterMessage(m: unknown): m is MasterMessage {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  return (MASTER_MESSAGE_TYPES as readonly unknown[]).includes(t);
}

/** What a worker process is told at spawn, in the USHER_WORKER env var (JSON). Every key is required. */
export interface WorkerSpec {
  readonly contract: number;
  readonly id: number;
  readonly generation: number;
  /** Inherited, bound and listening sockets. */
  readonly fds: readonly number[];
  readonly kinds: readonly ('http' | 'uwsgi')[];
  readonly listen: number;
  readonly threads: number;
  readonly processes: number;
  readonly bufferSize: number;
  readonly harakiri: number;
  /** Seconds to wait on a uwsgi peer mid-request (`socket-timeout`). */
  readonly socketTimeout: number;
  readonly maxRequests: number;
  /** `post-buffering`: bytes of request body read before the app runs, for a seekable wsgi.input (0 = stream). */
  readonly postBuffering: number;
  readonly disableLogging: boolean;
  /** How to render and filter access lines (log-format, log-style, log-4xx, ...): src/logging/spec.ts. */
  readonly accessLog: AccessLogSpec;
  /**
   * The log file a Node worker writes its lines to itself, open (O_APPEND) at `fd`, reopened by `path`
   * on `reopen-logs`; null = write to the master's pipe (stderr), as Python workers always do.
   */
  readonly logFile: { readonly fd: number; readonly path: string } | null;
  /** How often to send a heartbeat (the master derives it from `heartbeat-timeout`). */
  readonly heartbeatMs: number;
  /** `static-map` and friends, resolved (src/static/spec.ts); null when no static file is served. */
  readonly static: StaticSpec | null;
  /** `ready-path`: the path answered 200 while serving, 503 while draining; null = none. */
  readonly readyPath: string | null;
  /** `limit-post`: the largest request body, in bytes (0 = no limit). */
  readonly limitPost: number;
  /** `limit-as`: the address-space limit (RLIMIT_AS) in bytes a Python worker sets on itself (0 = none). */
  readonly limitAs: number;
  /** `harakiri-graceful-timeout` (s) and `-signal`: a Python worker past harakiri signals itself, stops
   *  accepting and lets its other requests finish for this long before it exits (0 = exit at once). */
  readonly harakiriGracefulTimeout: number;
  readonly harakiriGracefulSignal: number;
  readonly chdir: string | null;
  // Node apps
  readonly app: string | null;
  // Python apps
  readonly wsgiFile: string | null;
  readonly module: string | null;
  readonly callable: string;
  readonly pythonpath: readonly string[];
}

/** What an HTTP router process is told, in USHER_ROUTER (JSON). Every key is required. */
export interface RouterSpec {
  readonly contract: number;
  readonly id: number;
  readonly fds: readonly number[];
  readonly listen: number;
  /** The internal unix socket the workers accept uwsgi requests on. */
  readonly upstream: string;
  readonly bufferSize: number;
  readonly disableLogging: boolean;
  readonly heartbeatMs: number;
  /** `http-timeout`, seconds: idle client connections and silent workers (uWSGI's; default 60). */
  readonly httpTimeout: number;
  /** Static files the router serves itself, before a request reaches a worker. */
  readonly static: StaticSpec | null;
  readonly readyPath: string | null;
  readonly limitPost: number;
}

/** The keys each spec must carry: children refuse a spec missing one (a boot error naming it). */
export const WORKER_SPEC_KEYS = ['contract', 'id', 'generation', 'fds', 'kinds', 'listen', 'threads', 'processes', 'bufferSize', 'harakiri',
  'socketTimeout', 'maxRequests', 'postBuffering', 'disableLogging', 'accessLog', 'logFile', 'heartbeatMs', 'static', 'readyPath', 'limitPost', 'limitAs', 'harakiriGracefulTimeout', 'harakiriGracefulSignal', 'chdir', 'app', 'wsgiFile', 'module', 'callable', 'pythonpath'] as const satisfies readonly (keyof WorkerSpec)[];
export const ROUTER_SPEC_KEYS = ['contract', 'id', 'fds', 'listen', 'upstream', 'bufferSize', 'disableLogging', 'heartbeatMs', 'httpTimeout', 'static', 'readyPath', 'limitPost'] as const satisfies readonly (keyof RouterSpec)[];

// Compile-time check that the key lists above are complete: adding a spec field without listing it fails the build.
type Missing<T, K extends readonly PropertyKey[]> = Exclude<keyof T, K[number]>;
const workerKeysComplete: Missing<WorkerSpec, typeof WORKER_SPEC_KEYS> extends never ? true : false = true;
const routerKeysComplete: Missing<RouterSpec, typeof ROUTER_SPEC_KEYS> extends never ? true : false = true;
void workerKeysComplete; void routerKeysComplete;

/** The environment variables that carry a spec to a child. */
export const SPEC_ENV = Object.freeze({ worker: 'USHER_WORKER', router: 'USHER_ROUTER' });

/**
 * Read and check a spec in a child: present, JSON, every key there, same contract version.
 * Returns the spec or a message saying what is wrong, and the exit code to leave with.
 */
export function parseSpec<T>(raw: string | undefined, envName: string, keys: readonly string[]): { spec: T } | { error: string; exit: number } {
  if (raw === undefined) return { error: `${envName} is not set; usher's children are started by the usher master, not by hand`, exit: EXIT.BOOT };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { error: `${envName} is not JSON`, exit: EXIT.BOOT };
  }
  if (typeof parsed !== 'object' || parsed === null) return { error: `${envName} is not a JSON object`, exit: EXIT.BOOT };
  const missing = keys.filter((k) => !(k in parsed));
  if (missing.length > 0) return { error: `${envName} lacks required key(s): ${missing.join(', ')}`, exit: EXIT.BOOT };
  const contract = (parsed as { contract?: unknown }).contract;
  if (contract !== CONTRACT_VERSION) {
    return { error: `contract version mismatch: the master speaks ${String(contract)}, this child ${CONTRACT_VERSION}; reinstall usher so every part is the same version`, exit: EXIT.CONTRACT };
  }
  return { spec: parsed as T };
}

/** Everything the generated Python copy needs, as data. */
export const CONTRACT = Object.freeze({
  version: CONTRACT_VERSION,
  exit: EXIT,
  timing: TIMING,
  workerSpecKeys: WORKER_SPEC_KEYS,
  routerSpecKeys: ROUTER_SPEC_KEYS,
  counterKeys: COUNTER_KEYS,
  rtBucketsUs: RT_BUCKETS_US,
  statusClasses: STATUS_CLASSES,
  childMessages: CHILD_MESSAGE_TYPES,
  masterMessages: MASTER_MESSAGE_TYPES,
  specEnv: SPEC_ENV,
});
