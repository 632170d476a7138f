/**
 * master/children: the master's table of live child processes (workers and HTTP routers): starting
 * one with its spec, what the master knows of each (state, heartbeat, counters, why it is leaving),
 * and copies of that for stats. The arbiter decides; this only keeps the books.
 * Must not: decide when to spawn, kill or respawn (the arbiter's).
 */
import type { ChildProcess } from 'node:child_process';
import { CONTRACT_VERSION, type ChildCounters, type ExitReason, type RouterSpec, type WorkerSpec } from '../ipc.js';
import { FIRST_SOCKET_FD, spawnRouter, spawnWorker, type AppRuntime } from './spawn.js';
import type { ChildRole } from './events.js';

export type ChildState = 'starting' | 'ready' | 'stopping';

const ZERO: ChildCounters = Object.freeze({ requests: 0, inflight: 0, oldest: 0, tx: 0, exceptions: 0, rtUs: 0, harakiri: 0 });

export interface Child {
  readonly role: ChildRole;
  readonly id: number;
  readonly generation: number;
  readonly proc: ChildProcess;
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
  readonly worker: Omit<WorkerSpec, 'id' | 'generation' | 'fds' | 'contract' | 'heartbeatMs'>;
  /** Bound fds the workers get, in spec.kinds order. */
  readonly workerFds: readonly number[];
  readonly router: Omit<RouterSpec, 'id' | 'fds' | 'contract' | 'heartbeatMs'> | undefined;
  readonly routerFds: readonly number[];
  readonly logFd: number | undefined;
  /** `max-requests-delta`: worker N recycles after max-requests + (N - 1) * delta, so they never all go at once. */
  readonly maxRequestsDelta: number;
}

export class ChildTable {
  private readonly byPid = new Map<number, Child>();
  private readonly respawns = new Map<string, number>();

  constructor(private readonly plan: SpawnPlan, private readonly heartbeatMs: number) {}

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
    let proc: ChildProcess;
    if (role === 'worker') {
      const fds = this.plan.workerFds.map((_, i) => FIRST_SOCKET_FD + i);
      const maxRequests = this.plan.worker.maxRequests > 0 ? this.plan.worker.maxRequests + (id - 1) * this.plan.maxRequestsDelta : 0;
      const spec: WorkerSpec = { ...this.plan.worker, maxRequests, contract: CONTRACT_VERSION, heartbeatMs: this.heartbeatMs, id, generation, fds };
      proc = spawnWorker(this.plan.runtime, spec, this.plan.workerFds, this.plan.logFd);
    } else {
      const router = this.plan.router;
      if (router === undefined) return undefined;
      const fds = this.plan.routerFds.map((_, i) => FIRST_SOCKET_FD + i);
      proc = spawnRouter({ ...router, contract: CONTRACT_VERSION, heartbeatMs: this.heartbeatMs, id, fds }, this.plan.routerFds, this.plan.logFd);
    }
    const pid = proc.pid;
    if (pid === undefined) return { failed: proc };
    const now = Date.now();
    const child: Child = {
      role, id, generation, proc, pid, state: 'starting', lastBeat: now, startedAt: now, counters: ZERO,
      announced: undefined, unresponsive: false, appError: undefined, replaces: undefined, replacedBy: undefined,
    };
    this.byPid.set(pid, child);
    return { child };
  }

  snapshot(): ChildView[] {
    return [...this.byPid.values()].map((c) => ({
      role: c.role, id: c.id, pid: c.pid, generation: c.generation, state: c.state, startedAt: c.startedAt,
      lastBeat: c.lastBeat, counters: c.counters, respawns: this.respawns.get(`${c.role}:${c.id}`) ?? 0,
    }));
  }
}
