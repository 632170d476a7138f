/**
 * ipc: the master <-> child mini-protocol, one discriminated union each way. Carried on Node's 'ipc'
 * channel (JSON, one message per line), which the Python runner speaks too, so Node workers, Python
 * workers and HTTP routers are supervised alike. Unknown messages are ignored on both sides.
 * Must not: carry request data (requests go over sockets, never IPC).
 */

export type ChildMessage =
  | { readonly type: 'ready'; readonly pid: number }
  | { readonly type: 'heartbeat' }
  | { readonly type: 'app-error'; readonly message: string };

export type MasterMessage =
  | { readonly type: 'stop' };

export function isChildMessage(m: unknown): m is ChildMessage {
  if (typeof m !== 'object' || m === null) return false;
  const t = (m as { type?: unknown }).type;
  return t === 'ready' || t === 'heartbeat' || t === 'app-error';
}

/** Reserved exit codes: the master stops usher instead of respawning forever (gunicorn's idea). */
export const EXIT_APP_LOAD = 3;
export const EXIT_BOOT = 4;

/** How often children say they are alive, and how long the master waits before calling one stuck. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
export const HEARTBEAT_TIMEOUT_MS = 60_000;

/** What a worker process is told at spawn, in the USHER_WORKER env var (JSON). */
export interface WorkerSpec {
  readonly id: number;
  readonly generation: number;
  /** Inherited, bound sockets: the worker listen()s on them with `listen` as backlog. */
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
  readonly disableLogging: boolean;
  readonly chdir: string | null;
  // Node apps
  readonly app: string | null;
  // Python apps
  readonly wsgiFile: string | null;
  readonly module: string | null;
  readonly callable: string;
  readonly pythonpath: readonly string[];
}

/** What an HTTP router process is told, in USHER_ROUTER (JSON). */
export interface RouterSpec {
  readonly id: number;
  readonly fds: readonly number[];
  readonly listen: number;
  /** The internal unix socket the workers accept uwsgi requests on. */
  readonly upstream: string;
  readonly bufferSize: number;
}
