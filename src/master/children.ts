/**
 * master/children: the master's table of live child processes (workers and HTTP routers): starting
 * one with its spec, what the master knows of each (state, heartbeat, counters, why it is leaving),
 * copies of that for stats, and the per-child clocks (respawn back-off, kill timers, the heartbeat
 * watch). The arbiter decides what happens; this keeps the books and the timers.
 * Must not: decide when to spawn, kill or respawn (the arbiter's).
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { CONTRACT_VERSION, TIMING, type ChildCounters, type ExitReason, type RouterSpec, type WorkerSpec } from '../ipc.js';
import { FIRST_SOCKET_FD, spawnRouter, spawnWorker, type AppRuntime, type ForkRequest } from './spawn.js';
import { ForkServers } from './forkserver.js';
import type { ChildRole } from './events.js';

/** What the arbiter uses of a child process: a spawned ChildProcess, or a forked worker's RemoteChild. */
export interface ChildHandle {
  readonly pid?: number | undefined;
  readonly connected: boolean;
  kill(signal?: NodeJS.Signals): boolean;
  send(msg: object): boolean;
  on(event: 'message', listener: (m: unknown) => void): unknown;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
}

export type ChildState = 'starting' | 'ready' | 'stopping';

const ZERO: ChildCounters = Object.freeze({ requests: 0, inflight: 0, oldest: 0, tx: 0, exceptions: 0, rtUs: 0, harakiri: 0, codes: [], rtHist: [] });

export interface Child {
  readonly role: ChildRole;
  readonly id: number;
  readonly generation: number;
  readonly proc: ChildHandle;
  readonly pid: number;
  state: ChildState;
  lastBeat: number;
  readonly startedAt: number;
  counters: ChildCounters;
  /** The reason it gave in an `exiting` message. */
  announced: ExitReason | undefined;
  unresponsive: boolean;
  appError: string | undefined;
  /** The pid of the child this one was started to replace (recycling, chain reload). */
  replaces: number | undefined;
  /** A replacement for this child is starting: it keeps serving until that one is ready. */
  replacedBy: number | undefined;
  killTimer?: NodeJS.Timeout;
}

/** A child as stats and metrics see it (a copy). */
export interface ChildView {
  readonly role: ChildRole;
  readonly id: number;
  readonly pid: number;
  readonly generation: number;
  readonly state: ChildState;
  readonly startedAt: number;
  readonly lastBeat: number;
  readonly counters: ChildCounters;
  /** How many times this slot (role + id) was respawned. */
  readonly respawns: number;
}

export interface SpawnPlan {
  readonly runtime: AppRuntime;
  /** Worker spec without the per-process fields. */
  readonly worker: Omit<WorkerSpec, 'id' | 'generation' | 'fds' | 'contract' | 'heartbeatMs' | 'logFile'>;
  /** Bound fds the workers get, in spec.kinds order. */
  readonly workerFds: readonly number[];
  /** Their handles (BoundSocket.handle), for a fork-server started early. */
  readonly workerHandles?: readonly (object | undefined)[];
  /** A Python fork-server the CLI started before the master bound (spawn.ts spawnEarlyForkServer). */
  readonly earlyForkServer?: ChildProcess;
  readonly router: Omit<RouterSpec, 'id' | 'fds' | 'contract' | 'heartbeatMs'> | undefined;
  readonly routerFds: readonly number[];
  readonly logFd: number | undefined;
  /** The log file Node workers append to themselves, as it is open now (src/logging/writer.ts directFile); null = the pipe. */
  readonly directLog?: () => { fd: number; path: string } | null;
  /** `max-requests-delta`: worker N recycles after max-requests + (N - 1) * delta, so they never all go at once. */
  readonly maxRequestsDelta: number;
  /** A fork-server loads the app once and forks the workers (spawn.ts hasForkServer); false: `lazy-apps`, each Python worker loads it itself. */
  readonly forkServer: boolean;
}

/** A child that dies this soon after starting, abnormally, is respawned with growing delays. */
const EARLY_DEATH_MS = 2000;

export class ChildTable {
  private readonly byPid = new Map<number, Child>();
  private readonly respawns = new Map<string, number>();
  private readonly respawnDelay = new Map<string, number>();

  /** The fork-servers (Python apps without `lazy-apps`). */
  readonly forkServers: ForkServers | undefined;

  constructor(private readonly plan: SpawnPlan, private readonly heartbeatMs: number, log: Logger) {
    const rt = plan.runtime;
    this.forkServers = rt.kind === 'python' && plan.forkServer
      ? new ForkServers({ interpreter: rt.interpreter, spec: this.workerSpec(0, 0), fds: plan.workerFds, handles: plan.workerHandles ?? [], logFd: plan.logFd, early: plan.earlyForkServer }, log)
      : undefined;
  }

  private workerSpec(id: number, generation: number): WorkerSpec {
    const fds = this.plan.workerFds.map((_, i) => FIRST_SOCKET_FD + i);
    const maxRequests = this.plan.worker.maxRequests > 0 && id > 0 ? this.plan.worker.maxRequests + (id - 1) * this.plan.maxRequestsDelta : this.plan.worker.maxRequests;
    return { ...this.plan.worker, maxRequests, contract: CONTRACT_VERSION, heartbeatMs: this.heartbeatMs, id, generation, fds, logFile: null };
  }

  /** The fork requests for workers 1..count of a generation, for a fork-server to fork as soon as it loaded. */
  forkRequests(generation: number, count: number): ForkRequest[] {
    const out: ForkRequest[] = [];
    for (let id = 1; id <= count; id++) out.push({ id, generation, maxRequests: this.workerSpec(id, generation).maxRequests });
    return out;
  }

  /** Fork a worker from its generation's fork-server; undefined if there is none ready (the worker is then spawned). */
  private fork(spec: WorkerSpec): ChildHandle | undefined {
    const forks = this.forkServers;
    if (forks === undefined) return undefined;
    if (!forks.ready(spec.generation)) {
      forks.ensure(spec.generation); // chain reload, or a fork-server being replaced: later workers are forked
      return undefined;
    }
    return forks.fork(spec.generation, spec.id, spec.maxRequests);
  }

  close(): void {
    this.forkServers?.close();
  }

  get size(): number {
    return this.byPid.size;
  }

  all(): IterableIterator<Child> {
    return this.byPid.values();
  }

  get(pid: number): Child | undefined {
    return this.byPid.get(pid);
  }

  delete(pid: number): void {
    this.byPid.delete(pid);
  }

  countRespawn(role: ChildRole, id: number): void {
    const key = `${role}:${id}`;
    this.respawns.set(key, (this.respawns.get(key) ?? 0) + 1);
  }

  /** Start a child; undefined when the spawn failed synchronously ('error' follows on `proc`). */
  start(role: ChildRole, id: number, generation: number): { child: Child } | { failed: ChildProcess } | undefined {
    let proc: ChildHandle | ChildProcess;
    if (role === 'worker') {
      const spec = this.workerSpec(id, generation);
      // A Node worker gets the log file as one more fd, after its sockets, and appends to it itself.
      const file = this.plan.runtime.kind === 'node' ? this.plan.directLog?.() ?? null : null;
      proc = file !== null
        ? spawnWorker(this.plan.runtime, { ...spec, logFile: { fd: FIRST_SOCKET_FD + this.plan.workerFds.length, path: file.path } }, [...this.plan.workerFds, file.fd], this.plan.logFd)
        : this.fork(spec) ?? spawnWorker(this.plan.runtime, spec, this.plan.workerFds, this.plan.logFd);
    } else {
      const router = this.plan.router;
      if (router === undefined) return undefined;
      const fds = this.plan.routerFds.map((_, i) => FIRST_SOCKET_FD + i);
      proc = spawnRouter({ ...router, contract: CONTRACT_VERSION, heartbeatMs: this.heartbeatMs, id, fds }, this.plan.routerFds, this.plan.logFd);
    }
    const pid = proc.pid;
    if (pid === undefined) return { failed: proc as ChildProcess };
    const now = Date.now();
    const child: Child = {
      role, id, generation, proc, pid, state: 'starting', lastBeat: now, startedAt: now, counters: ZERO,
      announced: undefined, unresponsive: false, appError: undefined, replaces: undefined, replacedBy: undefined,
    };
    this.byPid.set(pid, child);
    return { child };
  }

  /** Growing delays for a slot whose children die abnormally right after starting; none otherwise. */
  backoff(child: Child, log: Logger): number {
    const key = `${child.role}:${child.id}`;
    if (Date.now() - child.startedAt >= EARLY_DEATH_MS) {
      this.respawnDelay.delete(key);
      return 0;
    }
    const delay = Math.min((this.respawnDelay.get(key) ?? 250) * 2, 10_000);
    this.respawnDelay.set(key, delay);
    log.warn(`${child.role} is dying right after start; delaying respawn`, { id: child.id, delay_ms: delay });
    return delay;
  }

  clearBackoff(child: Child): void {
    this.respawnDelay.delete(`${child.role}:${child.id}`);
  }

  /** SIGKILL a child after `ms` unless it exits first (`before` says why, in the log). */
  killAfter(c: Child, ms: number, before: () => void): void {
    if (c.killTimer) clearTimeout(c.killTimer);
    c.killTimer = setTimeout(() => { before(); c.proc.kill('SIGKILL'); }, ms);
    c.killTimer.unref();
  }

  /** A child silent past heartbeat-timeout gets SIGABRT (a core dump or a stack, where enabled), then SIGKILL. */
  abortSilent(timeoutMs: number, log: Logger): void {
    const now = Date.now();
    for (const c of this.byPid.values()) {
      if (c.unresponsive || now - c.lastBeat <= timeoutMs) continue;
      if (c.state === 'stopping' && c.killTimer !== undefined) continue; // reload-mercy already bounds it
      c.unresponsive = true;
      log.error(`${c.role} unresponsive (no heartbeat); sending SIGABRT`, { id: c.id, pid: c.pid, silent_s: Math.round((now - c.lastBeat) / 1000), grace_s: TIMING.ABORT_GRACE_MS / 1000 });
      c.proc.kill('SIGABRT');
      this.killAfter(c, TIMING.ABORT_GRACE_MS, () => log.error(`${c.role} still there after SIGABRT; killing it`, { id: c.id, pid: c.pid }));
    }
  }

  snapshot(): ChildView[] {
    return [...this.byPid.values()].map((c) => ({
      role: c.role, id: c.id, pid: c.pid, generation: c.generation, state: c.state, startedAt: c.startedAt,
      lastBeat: c.lastBeat, counters: c.counters, respawns: this.respawns.get(`${c.role}:${c.id}`) ?? 0,
    }));
  }
}
