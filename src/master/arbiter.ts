/**
 * master/arbiter: the master process's supervisor (gunicorn's arbiter, uWSGI's master). It spawns the
 * HTTP routers and the workers on the sockets bound by master/sockets, watches their heartbeats
 * (SIGABRT, then SIGKILL, for a child that goes silent), reacts to every exit by table
 * (master/exits.ts), reloads gracefully on SIGHUP and stops gracefully on SIGTERM/SIGINT.
 * Signal handlers only enqueue; one drain step dispatches them from a table. Everything that happens
 * is published on master/events for sd_notify, stats and metrics to subscribe to.
 * Must not: bind sockets, parse requests, or load app code.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { flushSync } from '../log.js';
import { CONTRACT_VERSION, TIMING, isChildMessage, type ChildCounters, type ChildMessage, type ExitReason, type RouterSpec, type WorkerSpec } from '../ipc.js';
import { FIRST_SOCKET_FD, spawnRouter, spawnWorker, type AppRuntime } from './spawn.js';
import { publish, type ChildRole } from './events.js';
import { classifyExit } from './exits.js';

export type Role = ChildRole;

const ZERO: ChildCounters = Object.freeze({ requests: 0, inflight: 0, oldest: 0, tx: 0, exceptions: 0, rtUs: 0 });

/** A child as the master sees it; `snapshot()` hands copies to stats. */
export interface ChildView {
  readonly role: Role;
  readonly id: number;
  readonly pid: number;
  readonly generation: number;
  readonly state: 'starting' | 'ready' | 'stopping';
  readonly startedAt: number;
  readonly lastBeat: number;
  readonly counters: ChildCounters;
  /** How many times this slot (role + id) was respawned. */
  readonly respawns: number;
}

interface Child {
  readonly role: Role;
  readonly id: number;
  readonly generation: number;
  readonly proc: ChildProcess;
  readonly pid: number;
  state: 'starting' | 'ready' | 'stopping';
  lastBeat: number;
  readonly startedAt: number;
  counters: ChildCounters;
  announced: ExitReason | undefined;
  unresponsive: boolean;
  appError: string | undefined;
  killTimer?: NodeJS.Timeout;
}

export interface ArbiterPlan {
  readonly processes: number;
  readonly routers: number;
  readonly runtime: AppRuntime;
  /** Worker spec without the per-process fields. */
  readonly worker: Omit<WorkerSpec, 'id' | 'generation' | 'fds' | 'contract' | 'heartbeatMs'>;
  /** Bound fds the workers get, in spec.kinds order. */
  readonly workerFds: readonly number[];
  readonly router: Omit<RouterSpec, 'id' | 'fds' | 'contract' | 'heartbeatMs'> | undefined;
  readonly routerFds: readonly number[];
  readonly reloadMercyMs: number;
  /** A child silent for this long gets SIGABRT, then SIGKILL (`heartbeat-timeout`). */
  readonly heartbeatTimeoutMs: number;
  /** How often children beat at most (stats want fresher counters than the 5 s default). */
  readonly heartbeatMaxMs?: number;
  readonly logFd: number | undefined;
}

type SignalName = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT';

/** A child that dies this soon after starting, abnormally, is respawned with growing delays. */
const EARLY_DEATH_MS = 2000;

export class Arbiter {
  private readonly children = new Map<number, Child>();
  private readonly queue: SignalName[] = [];
  private generation = 1;
  private state: 'starting' | 'running' | 'reloading' | 'stopping' = 'starting';
  private exitCode = 0;
  private readonly respawnDelay = new Map<string, number>();
  private readonly respawns = new Map<string, number>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private resolveDone: ((code: number) => void) | undefined;
  private forceTimer: NodeJS.Timeout | undefined;
  /** A generation whose first worker is loading the app alone; the others start once it is ready. */
  private canaryGeneration: number | undefined;
  readonly startedAt = Date.now();
  /** Children beat (and the master checks) a few times per heartbeat-timeout, at most every 5 s. */
  private readonly heartbeatMs: number;

  constructor(private readonly plan: ArbiterPlan, private readonly log: Logger, private readonly onReady: () => void) {
    this.heartbeatMs = Math.min(plan.heartbeatMaxMs ?? TIMING.HEARTBEAT_INTERVAL_MS, Math.max(200, Math.floor(plan.heartbeatTimeoutMs / 4)));
  }

  /** Runs until usher stops; resolves with the process exit code. */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => { this.resolveDone = resolve; });
    for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
      process.on(sig, () => this.enqueue(sig));
    }
    for (let id = 1; id <= this.plan.routers; id++) this.spawn('router', id, this.generation);
    this.startGeneration(this.generation);
    this.heartbeatTimer = setInterval(() => this.checkHeartbeats(), this.heartbeatMs);
    return done;
  }

  /** Ask for what a signal would do (the master fifo uses this too). */
  enqueue(sig: SignalName): void {
    this.queue.push(sig);
    setImmediate(() => this.drain());
  }

  /** Every live child, copied, for stats and metrics. */
  snapshot(): ChildView[] {
    return [...this.children.values()].map((c) => ({
      role: c.role, id: c.id, pid: c.pid, generation: c.generation, state: c.state, startedAt: c.startedAt,
      lastBeat: c.lastBeat, counters: c.counters, respawns: this.respawns.get(`${c.role}:${c.id}`) ?? 0,
    }));
  }

  /** Send a message to every live child (reopen logs, switch request logging). */
  broadcast(msg: { type: 'reopen-logs' } | { type: 'logging'; enabled: boolean }): void {
    for (const c of this.children.values()) if (c.proc.connected) c.proc.send(msg);
  }

  private readonly handlers: Record<SignalName, () => void> = {
    SIGHUP: () => this.handleHup(),
    SIGTERM: () => this.handleTerm('SIGTERM'),
    SIGINT: () => this.handleTerm('SIGINT'),
    SIGQUIT: () => this.handleQuit(),
  };

  private drain(): void {
    for (let sig = this.queue.shift(); sig !== undefined; sig = this.queue.shift()) this.handlers[sig]();
  }

  private spawn(role: Role, id: number, generation: number): void {
    let proc: ChildProcess;
    if (role === 'worker') {
      const fds = this.plan.workerFds.map((_, i) => FIRST_SOCKET_FD + i);
      const spec: WorkerSpec = { ...this.plan.worker, contract: CONTRACT_VERSION, heartbeatMs: this.heartbeatMs, id, generation, fds };
      proc = spawnWorker(this.plan.runtime, spec, this.plan.workerFds, this.plan.logFd);
    } else {
      const router = this.plan.router;
      if (router === undefined) return;
      const fds = this.plan.routerFds.map((_, i) => FIRST_SOCKET_FD + i);
      proc = spawnRouter({ ...router, contract: CONTRACT_VERSION, heartbeatMs: this.heartbeatMs, id, fds }, this.plan.routerFds, this.plan.logFd);
    }
    const pid = proc.pid;
    if (pid === undefined) {
      // spawn failed synchronously (interpreter missing): 'error' follows.
      proc.once('error', (err) => this.spawnFailed(role, id, err));
      return;
    }
    const now = Date.now();
    const child: Child = { role, id, generation, proc, pid, state: 'starting', lastBeat: now, startedAt: now, counters: ZERO, announced: undefined, unresponsive: false, appError: undefined };
    this.children.set(pid, child);
    this.log.info(`${role} spawned`, { id, pid, generation });
    publish({ type: 'spawned', role, id, pid, generation });
    proc.on('message', (m: unknown) => { if (isChildMessage(m)) this.onMessage(child, m); });
    proc.once('exit', (code, signal) => this.onExit(child, code, signal));
    proc.once('error', (err) => this.log.error(`${role} process error`, { id, pid, error: err.message }));
  }

  private spawnFailed(role: Role, id: number, err: Error): void {
    const hint = this.plan.runtime.kind === 'python' ? `; check \`python\`/\`home\` (interpreter: ${this.plan.runtime.interpreter})` : '';
    this.log.error(`cannot start ${role}`, { id, code: 'USHER_ERR_WORKER_BOOT', error: `${err.message}${hint}` });
    this.exitCode = 1;
    this.beginStop('a worker could not be started', true);
  }

  private onMessage(child: Child, m: ChildMessage): void {
    child.lastBeat = Date.now();
    switch (m.type) {
      case 'ready':
        if (child.state !== 'starting') return;
        child.state = 'ready';
        publish({ type: 'child-ready', role: child.role, id: child.id, pid: child.pid, generation: child.generation });
        this.afterReady(child);
        return;
      case 'heartbeat':
        if (m.counters !== undefined) child.counters = m.counters;
        publish({ type: 'heartbeat', role: child.role, id: child.id, pid: child.pid, counters: child.counters });
        return;
      case 'app-error':
        child.appError = m.message;
        return;
      case 'exiting':
        this.onExiting(child, m.reason, m.detail, m.counters);
        return;
    }
  }

  /**
   * A child leaving on purpose (max-requests, harakiri, lifetime, memory) is replaced right away, while
   * it finishes what it has in flight: a recycled slot is never empty, and recycling is never taken
   * for a crash loop.
   */
  private onExiting(child: Child, reason: ExitReason, detail: string, counters: ChildCounters | undefined): void {
    child.announced = reason;
    if (counters !== undefined) child.counters = counters;
    if (child.state === 'stopping') return;
    child.state = 'stopping';
    this.log.info(`${child.role} is recycling itself; starting its replacement`, { id: child.id, pid: child.pid, reason, detail });
    if (this.state === 'stopping') return;
    if (child.role === 'worker' && child.generation < this.generation) return; // a reload replaces it anyway
    this.respawnSlot(child, 0);
  }

  /**
   * Worker 1 loads the app alone first (uWSGI loads it once before forking): an app that cannot load
   * fails in one process, with one traceback, instead of in every worker at once.
   */
  private startGeneration(generation: number): void {
    this.canaryGeneration = this.plan.processes > 1 ? generation : undefined;
    this.spawn('worker', 1, generation);
  }

  private allReady(generation: number): boolean {
    let routers = 0;
    let workers = 0;
    for (const c of this.children.values()) {
      if (c.state !== 'ready') continue;
      if (c.role === 'router') routers++;
      else if (c.generation === generation) workers++;
    }
    return routers >= this.plan.routers && workers >= this.plan.processes;
  }

  private afterReady(child: Child): void {
    this.respawnDelay.delete(`${child.role}:${child.id}`);
    if (child.role === 'worker' && child.generation === this.canaryGeneration) {
      this.canaryGeneration = undefined;
      this.log.info('app loaded; starting the other workers', { generation: child.generation, workers: this.plan.processes - 1 });
      for (let id = 2; id <= this.plan.processes; id++) this.spawn('worker', id, child.generation);
    }
    if (this.state === 'starting' && this.allReady(this.generation)) {
      this.state = 'running';
      publish({ type: 'ready', workers: this.plan.processes, generation: this.generation });
      this.onReady();
    } else if (this.state === 'reloading' && child.role === 'worker' && this.allReady(this.generation)) {
      // The new generation serves: retire the old one gracefully.
      const old = [...this.children.values()].filter((c) => c.role === 'worker' && c.generation < this.generation);
      for (const c of old) this.retire(c, 'reload');
      this.state = 'running';
      this.log.info('reload complete', { generation: this.generation, retired: old.length });
      publish({ type: 'reload-finished', generation: this.generation, ok: true });
    }
  }

  /** Ask a child to finish in-flight work and exit; kill it after reload-mercy. */
  private retire(c: Child, reason: string): void {
    if (c.state === 'stopping') return;
    c.state = 'stopping';
    c.proc.kill('SIGTERM');
    this.killAfter(c, this.plan.reloadMercyMs, () => {
      this.log.warn(`${c.role} did not finish within reload-mercy; killing it`, { id: c.id, pid: c.pid, reason, mercy_s: this.plan.reloadMercyMs / 1000 });
    });
  }

  private killAfter(c: Child, ms: number, before: () => void): void {
    if (c.killTimer) clearTimeout(c.killTimer);
    c.killTimer = setTimeout(() => { before(); c.proc.kill('SIGKILL'); }, ms);
    c.killTimer.unref();
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    this.children.delete(child.pid);
    if (child.killTimer) clearTimeout(child.killTimer);
    const fields = { id: child.id, pid: child.pid, exit: code ?? undefined, signal: signal ?? undefined, generation: child.generation };
    if (this.state === 'stopping') {
      this.log.info(`${child.role} exited`, fields);
      publish({ type: 'died', role: child.role, id: child.id, pid: child.pid, reason: 'stopped', code, signal, respawn: false });
      if (this.children.size === 0) this.finish();
      return;
    }
    const verdict = classifyExit(code, signal, {
      retiring: child.state === 'stopping', starting: child.state === 'starting', unresponsive: child.unresponsive, announced: child.announced,
      mustStart: this.state === 'starting' || (this.state === 'reloading' && child.generation === this.generation),
    });
    const stale = child.role === 'worker' && child.generation < this.generation;
    const respawn = stale ? 'none' : verdict.respawn;
    publish({ type: 'died', role: child.role, id: child.id, pid: child.pid, reason: verdict.reason, code, signal, respawn: respawn === 'now' || respawn === 'backoff' });
    if (respawn === 'stop-usher') {
      if (this.state === 'reloading' && child.generation === this.generation) {
        this.log.error(`reload failed: ${verdict.message}; the previous workers keep serving`, { ...fields, reason: verdict.reason });
        this.abandonGeneration(this.generation);
        return;
      }
      const errorCode = verdict.reason === 'app-load' ? 'USHER_ERR_APP_LOAD' : 'USHER_ERR_WORKER_BOOT';
      this.log.error(`${verdict.message}; stopping usher instead of respawning`, { role: child.role, ...fields, reason: verdict.reason, code: errorCode });
      this.exitCode = 1;
      this.beginStop(`${child.role} ${verdict.reason} failure`, true);
      return;
    }
    this.log[verdict.level](`${child.role} ${verdict.message}`, { ...fields, reason: verdict.reason });
    if (respawn === 'now') this.respawnSlot(child, 0);
    else if (respawn === 'backoff') this.respawnSlot(child, this.backoff(child));
  }

  /** Growing delays for a slot whose children die abnormally right after starting; none otherwise. */
  private backoff(child: Child): number {
    const key = `${child.role}:${child.id}`;
    if (Date.now() - child.startedAt >= EARLY_DEATH_MS) {
      this.respawnDelay.delete(key);
      return 0;
    }
    const delay = Math.min((this.respawnDelay.get(key) ?? 250) * 2, 10_000);
    this.respawnDelay.set(key, delay);
    this.log.warn(`${child.role} is dying right after start; delaying respawn`, { id: child.id, delay_ms: delay });
    return delay;
  }

  private respawnSlot(child: Child, delay: number): void {
    const key = `${child.role}:${child.id}`;
    this.respawns.set(key, (this.respawns.get(key) ?? 0) + 1);
    const generation = child.role === 'worker' ? this.generation : child.generation;
    const go = (): void => { if (this.state !== 'stopping') this.spawn(child.role, child.id, generation); };
    if (delay === 0) go();
    else setTimeout(go, delay).unref();
  }

  private abandonGeneration(generation: number): void {
    for (const c of this.children.values()) {
      if (c.role === 'worker' && c.generation === generation) {
        c.state = 'stopping';
        c.proc.kill('SIGKILL');
      }
    }
    this.generation = generation - 1;
    this.canaryGeneration = undefined;
    this.state = 'running';
    publish({ type: 'reload-finished', generation, ok: false });
  }

  /** A child silent past heartbeat-timeout gets SIGABRT (a core dump or a stack, where enabled), then SIGKILL. */
  private checkHeartbeats(): void {
    const now = Date.now();
    for (const c of this.children.values()) {
      if (c.unresponsive || now - c.lastBeat <= this.plan.heartbeatTimeoutMs) continue;
      if (c.state === 'stopping' && c.killTimer !== undefined) continue; // reload-mercy already bounds it
      c.unresponsive = true;
      this.log.error(`${c.role} unresponsive (no heartbeat); sending SIGABRT`, { id: c.id, pid: c.pid, silent_s: Math.round((now - c.lastBeat) / 1000), grace_s: TIMING.ABORT_GRACE_MS / 1000 });
      c.proc.kill('SIGABRT');
      this.killAfter(c, TIMING.ABORT_GRACE_MS, () => this.log.error(`${c.role} still there after SIGABRT; killing it`, { id: c.id, pid: c.pid }));
    }
  }

  private handleHup(): void {
    if (this.state === 'stopping') return;
    if (this.state === 'starting') {
      this.log.warn('SIGHUP ignored: still starting');
      return;
    }
    this.generation++;
    this.state = 'reloading';
    this.log.info('reloading: starting a new generation of workers', { generation: this.generation, workers: this.plan.processes });
    publish({ type: 'reload-started', generation: this.generation });
    this.startGeneration(this.generation);
  }

  private handleTerm(sig: string): void {
    if (this.state === 'stopping') {
      this.log.warn(`second ${sig}: stopping now`);
      this.killAll();
      return;
    }
    this.beginStop(sig, false);
  }

  private handleQuit(): void {
    if (this.state !== 'stopping') this.beginStop('SIGQUIT', true);
    this.killAll();
  }

  private beginStop(reason: string, brutal: boolean): void {
    if (this.state === 'stopping') return;
    this.state = 'stopping';
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.log.info(brutal ? 'stopping' : 'stopping gracefully', { reason, children: this.children.size, mercy_s: this.plan.reloadMercyMs / 1000 });
    publish({ type: 'stopping', reason, graceful: !brutal });
    if (this.children.size === 0) {
      this.finish();
      return;
    }
    for (const c of this.children.values()) {
      c.state = 'stopping';
      if (c.killTimer) clearTimeout(c.killTimer);
      c.proc.kill(brutal ? 'SIGKILL' : 'SIGTERM');
    }
    this.forceTimer = setTimeout(() => {
      this.log.warn('children did not stop within reload-mercy; killing them', { left: this.children.size, mercy_s: this.plan.reloadMercyMs / 1000 });
      this.killAll();
    }, this.plan.reloadMercyMs);
  }

  private killAll(): void {
    for (const c of this.children.values()) c.proc.kill('SIGKILL');
  }

  private finish(): void {
    if (this.forceTimer) clearTimeout(this.forceTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    publish({ type: 'stopped', code: this.exitCode });
    flushSync();
    this.resolveDone?.(this.exitCode);
  }
}
