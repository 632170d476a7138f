/**
 * master/arbiter: the master process's supervisor (gunicorn's arbiter, uWSGI's master). It spawns the
 * HTTP routers and the workers on the sockets bound by master/sockets, watches their heartbeats,
 * replaces the ones that die, reloads gracefully on SIGHUP and stops gracefully on SIGTERM/SIGINT.
 * Signal handlers only enqueue; one drain step dispatches them from a table.
 * Must not: bind sockets, parse requests, or load app code.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { flushSync } from '../log.js';
import { CONTRACT_VERSION, EXIT, TIMING, isChildMessage, type RouterSpec, type WorkerSpec } from '../ipc.js';

const HEARTBEAT_TIMEOUT_MS = 60_000;
import { FIRST_SOCKET_FD, spawnRouter, spawnWorker, type AppRuntime } from './spawn.js';

export type Role = 'worker' | 'router';

interface Child {
  readonly role: Role;
  readonly id: number;
  readonly generation: number;
  readonly proc: ChildProcess;
  readonly pid: number;
  state: 'starting' | 'ready' | 'stopping';
  lastBeat: number;
  readonly startedAt: number;
  killTimer?: NodeJS.Timeout;
}

export interface ArbiterPlan {
  readonly processes: number;
  readonly routers: number;
  readonly runtime: AppRuntime;
  /** Worker spec without the per-process fields (id, generation, fds). */
  readonly worker: Omit<WorkerSpec, 'id' | 'generation' | 'fds' | 'contract'>;
  /** Bound fds the workers get, in spec.kinds order. */
  readonly workerFds: readonly number[];
  readonly router: Omit<RouterSpec, 'id' | 'fds' | 'contract'> | undefined;
  readonly routerFds: readonly number[];
  readonly reloadMercyMs: number;
  readonly logFd: number | undefined;
}

type SignalName = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT';

export class Arbiter {
  private readonly children = new Map<number, Child>();
  private readonly queue: SignalName[] = [];
  private generation = 1;
  private state: 'starting' | 'running' | 'reloading' | 'stopping' = 'starting';
  private exitCode = 0;
  private readonly respawnDelay = new Map<string, number>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private resolveDone: ((code: number) => void) | undefined;
  private forceTimer: NodeJS.Timeout | undefined;
  /** A generation whose first worker is loading the app alone; the others start once it is ready. */
  private canaryGeneration: number | undefined;

  constructor(private readonly plan: ArbiterPlan, private readonly log: Logger, private readonly onReady: () => void) {}

  /** Runs until usher stops; resolves with the process exit code. */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => { this.resolveDone = resolve; });
    for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
      process.on(sig, () => { this.queue.push(sig); setImmediate(() => this.drain()); });
    }
    for (let id = 1; id <= this.plan.routers; id++) this.spawn('router', id, this.generation);
    this.startGeneration(this.generation);
    this.heartbeatTimer = setInterval(() => this.checkHeartbeats(), TIMING.HEARTBEAT_INTERVAL_MS);
    return done;
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

  private name(c: { role: Role; id: number }): string {
    return c.role === 'router' ? `router ${c.id}` : `worker ${c.id}`;
  }

  private spawn(role: Role, id: number, generation: number): void {
    let proc: ChildProcess;
    if (role === 'worker') {
      const fds = this.plan.workerFds.map((_, i) => FIRST_SOCKET_FD + i);
      const spec: WorkerSpec = { ...this.plan.worker, contract: CONTRACT_VERSION, id, generation, fds };
      proc = spawnWorker(this.plan.runtime, spec, this.plan.workerFds, this.plan.logFd);
    } else {
      const router = this.plan.router;
      if (router === undefined) return;
      const fds = this.plan.routerFds.map((_, i) => FIRST_SOCKET_FD + i);
      proc = spawnRouter({ ...router, contract: CONTRACT_VERSION, id, fds }, this.plan.routerFds, this.plan.logFd);
    }
    const pid = proc.pid;
    if (pid === undefined) {
      // spawn failed synchronously (interpreter missing): 'error' follows.
      proc.once('error', (err) => this.spawnFailed(role, id, err));
      return;
    }
    const child: Child = { role, id, generation, proc, pid, state: 'starting', lastBeat: Date.now(), startedAt: Date.now() };
    this.children.set(pid, child);
    this.log.info(`${role} spawned`, { id, pid, generation });
    proc.on('message', (m: unknown) => this.onMessage(child, m));
    proc.once('exit', (code, signal) => this.onExit(child, code, signal));
    proc.once('error', (err) => this.log.error(`${role} process error`, { id, pid, error: err.message }));
  }

  private spawnFailed(role: Role, id: number, err: Error): void {
    const hint = this.plan.runtime.kind === 'python' ? `; check \`python\`/\`home\` (interpreter: ${this.plan.runtime.interpreter})` : '';
    this.log.error(`cannot start ${role}`, { id, code: 'USHER_ERR_WORKER_BOOT', error: `${err.message}${hint}` });
    this.exitCode = 1;
    this.beginStop('a worker could not be started', true);
  }

  private onMessage(child: Child, m: unknown): void {
    if (!isChildMessage(m)) return;
    child.lastBeat = Date.now();
    if (m.type === 'ready' && child.state === 'starting') {
      child.state = 'ready';
      this.respawnDelay.delete(`${child.role}:${child.id}`);
      this.afterReady(child);
    }
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
    if (child.role === 'worker' && child.generation === this.canaryGeneration) {
      this.canaryGeneration = undefined;
      this.log.info('app loaded; starting the other workers', { generation: child.generation, workers: this.plan.processes - 1 });
      for (let id = 2; id <= this.plan.processes; id++) this.spawn('worker', id, child.generation);
      return;
    }
    if (this.state === 'starting' && this.allReady(this.generation)) {
      this.state = 'running';
      this.onReady();
    } else if (this.state === 'reloading' && child.role === 'worker' && this.allReady(this.generation)) {
      // The new generation serves: retire the old one gracefully.
      const old = [...this.children.values()].filter((c) => c.role === 'worker' && c.generation < this.generation);
      for (const c of old) this.retire(c, 'reload');
      this.state = 'running';
      this.log.info('reload complete', { generation: this.generation, retired: old.length });
    }
  }

  /** Ask a child to finish in-flight work and exit; kill it after reload-mercy. */
  private retire(c: Child, reason: string): void {
    if (c.state === 'stopping') return;
    c.state = 'stopping';
    c.proc.kill('SIGTERM');
    c.killTimer = setTimeout(() => {
      this.log.warn(`${c.role} did not stop within reload-mercy; killing it`, { id: c.id, pid: c.pid, reason });
      c.proc.kill('SIGKILL');
    }, this.plan.reloadMercyMs);
    c.killTimer.unref();
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    this.children.delete(child.pid);
    if (child.killTimer) clearTimeout(child.killTimer);
    const fields = { id: child.id, pid: child.pid, code: code ?? undefined, signal: signal ?? undefined, generation: child.generation };
    if (this.state === 'stopping') {
      this.log.info(`${child.role} exited`, fields);
      if (this.children.size === 0) this.finish();
      return;
    }
    if (child.state === 'stopping') {
      this.log.info(`${child.role} retired`, fields);
      return;
    }
    if (code === EXIT.APP_LOAD && child.state === 'starting') {
      if (this.state === 'reloading' && child.generation === this.generation) {
        this.log.error('reload failed: the app could not be loaded; the previous workers keep serving', fields);
        this.abandonGeneration(this.generation);
        return;
      }
      this.log.error('the app could not be loaded; stopping usher instead of respawning (see the error above)', { ...fields, code: 'USHER_ERR_APP_LOAD' });
      this.exitCode = 1;
      this.beginStop('app load failure', true);
      return;
    }
    if (child.role === 'worker' && child.generation < this.generation) return; // an old one, being replaced anyway
    if (code === 0 && signal === null) this.log.info(`${child.role} exited; respawning`, fields);
    else this.log.warn(`${child.role} died; respawning`, fields);
    this.respawn(child);
  }

  private respawn(child: Child): void {
    const key = `${child.role}:${child.id}`;
    const livedMs = Date.now() - child.startedAt;
    // A child that dies right after starting, again and again, is respawned with growing delays.
    let delay = 0;
    if (livedMs < 2000) {
      delay = Math.min((this.respawnDelay.get(key) ?? 250) * 2, 10_000);
      this.respawnDelay.set(key, delay);
      this.log.warn(`${child.role} is dying right after start; delaying respawn`, { id: child.id, delay_ms: delay });
    }
    const generation = child.role === 'worker' ? this.generation : child.generation;
    setTimeout(() => {
      if (this.state !== 'stopping') this.spawn(child.role, child.id, generation);
    }, delay).unref();
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
  }

  private checkHeartbeats(): void {
    const now = Date.now();
    for (const c of this.children.values()) {
      if (c.state === 'stopping') continue;
      if (now - c.lastBeat > HEARTBEAT_TIMEOUT_MS) {
        this.log.error(`${c.role} unresponsive (no heartbeat); killing it`, { id: c.id, pid: c.pid, silent_s: Math.round((now - c.lastBeat) / 1000) });
        c.lastBeat = now;
        c.proc.kill('SIGKILL');
      }
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
      this.log.warn('children did not stop within reload-mercy; killing them', { left: this.children.size });
      this.killAll();
    }, this.plan.reloadMercyMs);
  }

  private killAll(): void {
    for (const c of this.children.values()) c.proc.kill('SIGKILL');
  }

  private finish(): void {
    if (this.forceTimer) clearTimeout(this.forceTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    flushSync();
    this.resolveDone?.(this.exitCode);
  }
}
