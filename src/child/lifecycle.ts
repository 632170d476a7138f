/**
 * child/lifecycle: the one life of a Node child process (worker or HTTP router), as the contract in
 * src/ipc.ts says: read and check the spec (exit BOOT/CONTRACT naming what is wrong), ignore the
 * master's signals, report `ready`, send a heartbeat with live counters, stop gracefully on SIGTERM or
 * a `stop` message, wind down when the master goes away, and leave with a reserved exit code.
 * The Python runner follows the same contract (python/usher_wsgi/).
 * Must not: serve requests or load apps (the caller's), or decide when to respawn (the master's).
 */
import { createLogger, flushSync, reopenLogFile, type Logger } from '../log.js';
import { InflightList } from './inflight.js';
import { EXIT, RT_BUCKETS_US, STATUS_CLASSES, TIMING, isMasterMessage, parseSpec, type ChildCounters, type ChildMessage, type ExitReason, type MasterMessage } from '../ipc.js';

/** Counters the child updates in place; the heartbeat sends a snapshot. */
export interface Counters {
  requests: number;
  tx: number;
  exceptions: number;
  rtUs: number;
  /** Requests cut by harakiri (Node workers). */
  harakiri: number;
  /** By status class, [1xx … 5xx]. */
  readonly codes: number[];
  /** By response time, one slot per RT_BUCKETS_US bound and one for slower (not cumulative). */
  readonly rtHist: number[];
}

/**
 * Count a completed request's status class and response time: two array increments, the bucket
 * found by a short linear scan (most requests fall in the first buckets).
 */
export function countResponse(c: Counters, status: number, us: number): void {
  const cls = (status / 100) | 0;
  if (cls >= 1 && cls <= STATUS_CLASSES) c.codes[cls - 1]!++;
  let i = 0;
  while (i < RT_BUCKETS_US.length && us > RT_BUCKETS_US[i]!) i++;
  c.rtHist[i]!++;
}

export interface ChildHooks {
  /** Begin a graceful stop: stop accepting, finish in-flight work, then call `exit(EXIT.OK)`. */
  stop(reason: string): void;
  /** Optional: reopen log files (logrotate), or switch request logging. */
  onMasterMessage?(msg: MasterMessage): void;
}

export class ChildLifecycle<S> {
  readonly counters: Counters = {
    requests: 0, tx: 0, exceptions: 0, rtUs: 0, harakiri: 0,
    codes: new Array<number>(STATUS_CLASSES).fill(0), rtHist: new Array<number>(RT_BUCKETS_US.length + 1).fill(0),
  };
  /** Requests in flight; callers add on start and delete on finish. */
  readonly inflight = new InflightList();
  private hooks: ChildHooks | undefined;
  private stopping = false;
  private draining = false;

  private constructor(readonly spec: S, readonly log: Logger) {}

  /**
   * Parse the spec from the environment or exit with a boot error naming what is wrong. `name`
   * turns the spec into the log's process name (`worker 3`, `router`).
   */
  static boot<S>(envName: string, keys: readonly string[], name: (spec: S) => string): ChildLifecycle<S> {
    const parsed = parseSpec<S>(process.env[envName], envName, keys);
    if ('error' in parsed) {
      createLogger('child').error('cannot start', { error: parsed.error, code: 'USHER_ERR_WORKER_BOOT' });
      flushSync();
      process.exit(parsed.exit);
    }
    const life = new ChildLifecycle(parsed.spec, createLogger(name(parsed.spec)));
    life.installProcessHandlers();
    return life;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Not ready for new traffic: draining before a stop, or stopping (the readiness path says 503). */
  get isDraining(): boolean {
    return this.draining || this.stopping;
  }

  snapshot(): ChildCounters {
    let oldest = 0;
    for (const r of this.inflight) if (oldest === 0 || r.started < oldest) oldest = r.started;
    const c = this.counters;
    return { requests: c.requests, inflight: this.inflight.size, oldest, tx: c.tx, exceptions: c.exceptions, rtUs: c.rtUs, harakiri: c.harakiri, codes: c.codes.slice(), rtHist: c.rtHist.slice() };
  }

  send(msg: ChildMessage): void {
    if (process.connected && process.send) process.send(msg);
  }

  /** The child serves: tell the master and start the heartbeat. */
  ready(hooks: ChildHooks): void {
    this.hooks = hooks;
    process.on('SIGTERM', () => this.stop('SIGTERM'));
    const every = (this.spec as { heartbeatMs: number }).heartbeatMs;
    setInterval(() => this.send({ type: 'heartbeat', counters: this.snapshot() }), every).unref();
    this.send({ type: 'ready', pid: process.pid, contract: (this.spec as { contract: number }).contract });
  }

  /** Begin a graceful stop once (later calls are no-ops). */
  stop(reason: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('stopping', { reason, inflight: this.inflight.size });
    if (this.hooks) this.hooks.stop(reason);
    else this.exit(EXIT.OK);
  }

  /** Leave on purpose and say why first, so the master logs the reason by name. */
  recycle(reason: ExitReason, detail: string): void {
    this.send({ type: 'exiting', reason, detail, counters: this.snapshot() });
    this.stop(`${reason}: ${detail}`);
  }

  exit(code: number): never {
    flushSync();
    process.exit(code);
  }

  private installProcessHandlers(): void {
    process.on('SIGINT', () => { /* the master decides */ });
    process.on('SIGHUP', () => { /* the master decides */ });
    process.on('uncaughtException', (err) => {
      this.log.error('uncaught exception; this process exits and the master replaces it', { error: err.stack ?? String(err) });
      this.exit(EXIT.CRASH);
    });
    process.on('unhandledRejection', (reason) => {
      this.log.error('unhandled promise rejection', { error: reason instanceof Error ? reason.stack ?? reason.message : String(reason) });
    });
    process.on('message', (m: unknown) => {
      if (!isMasterMessage(m)) return;
      if (m.type === 'stop') this.stop(m.reason);
      else if (m.type === 'drain') {
        this.draining = true;
        this.log.info('draining: the readiness path answers 503 from now on');
      } else if (m.type === 'reopen-logs') {
        // Here, not in a hook: a worker that writes the log file itself reopens it even before it is ready.
        const r = reopenLogFile();
        if (r === 'reopened') this.log.info('log file reopened');
        else if (r === 'pipe') this.log.warn('cannot reopen the log file; lines go through the master from now on');
        this.hooks?.onMasterMessage?.(m);
      } else this.hooks?.onMasterMessage?.(m);
    });
    process.on('disconnect', () => {
      this.log.warn('master went away; exiting');
      this.stop('master gone');
      setTimeout(() => this.exit(EXIT.OK), TIMING.ORPHAN_EXIT_MS).unref();
    });
  }
}
