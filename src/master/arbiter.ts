/**
 * master/arbiter: the master process's supervisor (gunicorn's arbiter, uWSGI's master). It spawns the
 * HTTP routers and the workers on the sockets bound by master/sockets, watches their heartbeats
 * (SIGABRT, then SIGKILL, for a child that goes silent), reacts to every exit by table
 * (master/exits.ts), and reloads gracefully on SIGHUP (a whole new generation, or one worker at a time
 * for a chain reload). Signals come through master/signals (handlers only enqueue). Beside it:
 * master/pool (how many workers run, recycling asked for by the monitor), master/replacer (one at a
 * time replacements), master/shutdown (draining and stopping). Everything that happens is published on
 * master/events.
 * Must not: bind sockets, parse requests, or load app code.
 */
import type { Logger } from '../log.js';
import { TIMING, isChildMessage, type ChildCounters, type ChildMessage, type ExitReason } from '../ipc.js';
import { publish, type ChildRole } from './events.js';
import { classifyExit } from './exits.js';
import { ChildTable, type Child, type ChildView, type SpawnPlan } from './children.js';
import { Replacer } from './replacer.js';
import { SignalQueue, type SignalName } from './signals.js';
import type { LoadFailure } from './forkserver.js';
import { Shutdown } from './shutdown.js';
import { WorkerPool } from './pool.js';

export type { ChildView } from './children.js';
export type { RecycleReason } from './pool.js';

export interface ArbiterPlan extends SpawnPlan {
  /** `processes`: the most workers that run. */
  readonly processes: number;
  /** Workers started at boot (`cheaper-initial`, else `processes`). */
  readonly initialWorkers: number;
  readonly routers: number;
  readonly reloadMercyMs: number;
  /** `drain-time`: how long SIGTERM drains (readiness 503, traffic still served) before the graceful stop. */
  readonly drainMs: number;
  /** A child silent for this long gets SIGABRT, then SIGKILL (`heartbeat-timeout`). */
  readonly heartbeatTimeoutMs: number;
  /** How often children beat at most (stats and cheaper want fresher counters than the 5 s default). */
  readonly heartbeatMaxMs?: number;
}

export class Arbiter {
  private readonly children: ChildTable;
  private readonly signals = new SignalQueue({
    SIGHUP: () => this.handleHup(),
    SIGTERM: () => this.shutdown.term('SIGTERM'),
    SIGINT: () => this.shutdown.term('SIGINT'),
    SIGQUIT: () => this.shutdown.quit(),
  });
  private generation = 1;
  private state: 'starting' | 'running' | 'reloading' | 'stopping' = 'starting';
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Draining, stopping, and the end of run() (master/shutdown). */
  private readonly shutdown: Shutdown;
  /** A generation whose first worker is loading the app alone; the others start once it is ready. */
  private canaryGeneration: number | undefined;
  /** How many worker slots run, and the changes asked for by cheaper, idle and the monitor (master/pool). */
  readonly pool: WorkerPool;
  /** Replacing workers one at a time (recycling, chain reload). */
  private readonly replacer: Replacer;
  readonly startedAt = Date.now();
  /** Children beat (and the master checks) a few times per heartbeat-timeout, at most every 5 s. */
  private readonly heartbeatMs: number;

  constructor(private readonly plan: ArbiterPlan, private readonly log: Logger, private readonly onReady: () => void) {
    this.heartbeatMs = Math.min(plan.heartbeatMaxMs ?? TIMING.HEARTBEAT_INTERVAL_MS, Math.max(200, Math.floor(plan.heartbeatTimeoutMs / 4)));
    this.children = new ChildTable(plan, this.heartbeatMs, log);
    this.shutdown = new Shutdown({
      children: this.children,
      log,
      drainMs: plan.drainMs,
      reloadMercyMs: plan.reloadMercyMs,
      isStopping: () => this.state === 'stopping',
      enterStopping: () => {
        this.state = 'stopping';
        if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
      },
    });
    this.replacer = new Replacer({
      children: this.children,
      log,
      spawnWorker: (id) => this.spawn('worker', id, this.generation),
      retire: (c, reason) => this.retire(c, reason),
      canSpawn: () => this.state !== 'stopping',
      chainDone: (retired) => { if (this.state === 'reloading') this.reloadFinished(retired); },
    });
    this.pool = new WorkerPool({
      children: this.children,
      replacer: this.replacer,
      log,
      processes: plan.processes,
      workerFds: plan.workerFds,
      isRunning: () => this.state === 'running',
      workers: () => this.workers(),
      spawnWorker: (id) => this.spawn('worker', id, this.generation),
      retire: (c, reason) => this.retire(c, reason),
    }, plan.initialWorkers);
  }

  /** Runs until usher stops; resolves with the process exit code. */
  run(): Promise<number> {
    const done = this.shutdown.done();
    this.signals.listen();
    for (let id = 1; id <= this.plan.routers; id++) this.spawn('router', id, this.generation);
    this.startGeneration(this.generation);
    this.heartbeatTimer = setInterval(() => this.children.abortSilent(this.plan.heartbeatTimeoutMs, this.log), this.heartbeatMs);
    return done;
  }

  /** Ask for what a signal would do (the master fifo and touch-reload use this too). */
  enqueue(sig: SignalName): void {
    this.signals.enqueue(sig);
  }

  /** A graceful reload if one can start now (not while starting or reloading): false means ask again later. */
  requestReload(): boolean {
    if (this.state !== 'running') return false;
    this.enqueue('SIGHUP');
    return true;
  }

  /** Every live child, copied, for stats, metrics and the monitor. */
  snapshot(): ChildView[] {
    return this.children.snapshot();
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** Send a message to every live child (reopen logs, switch request logging). */
  broadcast(msg: { type: 'reopen-logs' } | { type: 'logging'; enabled: boolean }): void {
    for (const c of this.children.all()) if (c.proc.connected) c.proc.send(msg);
  }

  /** Chain reload: replace the workers one at a time, each new one ready before the old one stops. */
  chainReload(): void {
    if (this.state !== 'running') {
      this.log.warn('chain reload ignored', { state: this.state });
      return;
    }
    const old = this.workers().filter((c) => c.state === 'ready').sort((a, b) => a.id - b.id);
    this.generation++;
    this.state = 'reloading';
    this.log.info('chain reload: replacing workers one at a time', { generation: this.generation, workers: old.length });
    publish({ type: 'reload-started', generation: this.generation });
    this.replacer.enqueue(old, 'chain reload', true);
  }

  private workers(): Child[] {
    return [...this.children.all()].filter((c) => c.role === 'worker' && c.generation === this.generation);
  }

  private spawn(role: ChildRole, id: number, generation: number): Child | undefined {
    const r = this.children.start(role, id, generation);
    if (r === undefined) return undefined;
    if ('failed' in r) {
      r.failed.once('error', (err) => this.spawnFailed(role, id, err));
      return undefined;
    }
    const child = r.child;
    this.log.info(`${role} spawned`, { id, pid: child.pid, generation });
    publish({ type: 'spawned', role, id, pid: child.pid, generation });
    child.proc.on('message', (m: unknown) => { if (isChildMessage(m)) this.onMessage(child, m); });
    child.proc.once('exit', (code, signal) => this.onExit(child, code, signal));
    child.proc.once('error', (err) => this.log.error(`${role} process error`, { id, pid: child.pid, error: err.message }));
    return child;
  }

  private interpreterHint(): string {
    return this.plan.runtime.kind === 'python' ? `; check \`python\`/\`home\` (interpreter: ${this.plan.runtime.interpreter})` : '';
  }

  private spawnFailed(role: ChildRole, id: number, err: Error): void {
    this.log.error(`cannot start ${role}`, { id, code: 'USHER_ERR_WORKER_BOOT', error: `${err.message}${this.interpreterHint()}` });
    this.shutdown.fail('a worker could not be started');
  }

  private onMessage(child: Child, m: ChildMessage): void {
    child.lastBeat = Date.now();
    switch (m.type) {
      case 'ready':
        if (child.state !== 'starting') return;
        child.state = 'ready';
        this.log.info(`${child.role} ready`, { id: child.id, pid: child.pid, generation: child.generation, boot_ms: Date.now() - child.startedAt });
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
   * A child leaving on purpose (max-requests, harakiri) is replaced right away, while it finishes what
   * it has in flight: a recycled slot is never empty, and recycling is never taken for a crash loop.
   */
  private onExiting(child: Child, reason: ExitReason, detail: string, counters: ChildCounters | undefined): void {
    child.announced = reason;
    if (counters !== undefined) child.counters = counters;
    if (child.state === 'stopping') return;
    child.state = 'stopping';
    this.log.info(`${child.role} is recycling itself; starting its replacement`, { id: child.id, pid: child.pid, reason, detail });
    if (this.state === 'stopping' || child.replacedBy !== undefined) return;
    if (child.role === 'worker' && (child.generation < this.generation || child.id > this.pool.active)) return;
    this.respawnSlot(child, 0);
  }

  /**
   * Worker 1 loads the app alone first (uWSGI loads it once before forking): an app that cannot load
   * fails in one process, with one traceback, instead of in every worker at once.
   */
  private startGeneration(generation: number): void {
    const forks = this.children.forkServers;
    if (forks !== undefined) {
      // The fork-server loads the app once, alone (it is the canary); then every worker is forked from it.
      this.canaryGeneration = undefined;
      forks.load(generation, (failure) => this.generationLoaded(generation, failure), this.children.forkRequests(generation, this.pool.active));
      return;
    }
    this.canaryGeneration = this.pool.active > 1 ? generation : undefined;
    this.spawn('worker', 1, generation);
  }

  private generationLoaded(generation: number, failure: LoadFailure | undefined): void {
    if (this.state === 'stopping' || generation !== this.generation) return;
    if (failure === undefined) {
      for (let id = 1; id <= this.pool.active; id++) this.spawn('worker', id, generation);
      return;
    }
    const verdict = classifyExit(failure.code, failure.signal, { retiring: false, starting: true, unresponsive: false, announced: undefined, mustStart: true });
    // A process that never ran (no interpreter there) printed nothing: its spawn error is the only word.
    const error = verdict.reason !== 'app-load' && failure.message !== undefined ? `${failure.message}${this.interpreterHint()}` : undefined;
    const fields = { role: 'fork-server', exit: failure.code ?? undefined, signal: failure.signal ?? undefined, generation, reason: verdict.reason, error };
    if (this.state === 'reloading') {
      this.log.error(`reload failed: ${verdict.message}; the previous workers keep serving`, fields);
      this.abandonGeneration(generation);
      return;
    }
    const what = error !== undefined ? 'cannot start the fork-server' : verdict.message;
    this.log.error(`${what}; stopping usher instead of respawning`, { ...fields, code: verdict.reason === 'app-load' ? 'USHER_ERR_APP_LOAD' : 'USHER_ERR_WORKER_BOOT' });
    this.shutdown.fail(`fork-server ${verdict.reason} failure`);
  }

  private allReady(generation: number): boolean {
    let routers = 0;
    let workers = 0;
    for (const c of this.children.all()) {
      if (c.state !== 'ready') continue;
      if (c.role === 'router') routers++;
      else if (c.generation === generation) workers++;
    }
    return routers >= this.plan.routers && workers >= this.pool.active;
  }

  private afterReady(child: Child): void {
    this.children.clearBackoff(child);
    if (child.role === 'worker') this.replacer.onReady(child);
    if (child.role === 'worker' && child.generation === this.canaryGeneration) {
      this.canaryGeneration = undefined;
      this.log.info('app loaded; starting the other workers', { generation: child.generation, workers: this.pool.active - 1 });
      for (let id = 2; id <= this.pool.active; id++) this.spawn('worker', id, child.generation);
    }
    if (this.state === 'starting' && this.allReady(this.generation)) {
      this.state = 'running';
      publish({ type: 'ready', workers: this.pool.active, generation: this.generation });
      this.onReady();
    } else if (this.state === 'reloading' && !this.replacer.inChain && child.role === 'worker' && this.allReady(this.generation)) {
      // The new generation serves: retire the old one gracefully.
      const old = [...this.children.all()].filter((c) => c.role === 'worker' && c.generation < this.generation);
      for (const c of old) this.retire(c, 'reload');
      this.reloadFinished(old.length);
    }
  }

  private reloadFinished(retired: number): void {
    this.children.forkServers?.retireOlderThan(this.generation);
    this.state = 'running';
    this.log.info('reload complete', { generation: this.generation, retired });
    publish({ type: 'reload-finished', generation: this.generation, ok: true });
  }

  /** Ask a child to finish in-flight work and exit; kill it after reload-mercy. */
  private retire(c: Child, reason: string): void {
    if (c.state === 'stopping') return;
    c.state = 'stopping';
    c.proc.kill('SIGTERM');
    this.children.killAfter(c, this.plan.reloadMercyMs, () => {
      this.log.warn(`${c.role} did not finish within reload-mercy; killing it`, { id: c.id, pid: c.pid, reason, mercy_s: this.plan.reloadMercyMs / 1000 });
    });
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    this.children.delete(child.pid);
    if (child.killTimer) clearTimeout(child.killTimer);
    const fields = { id: child.id, pid: child.pid, exit: code ?? undefined, signal: signal ?? undefined, generation: child.generation };
    if (this.state === 'stopping') {
      this.log.info(`${child.role} exited`, fields);
      publish({ type: 'died', role: child.role, id: child.id, pid: child.pid, reason: 'stopped', code, signal, respawn: false });
      if (this.children.size === 0) this.shutdown.finish();
      return;
    }
    this.replacer.onExit(child);
    const verdict = classifyExit(code, signal, {
      retiring: child.state === 'stopping', starting: child.state === 'starting', unresponsive: child.unresponsive, announced: child.announced,
      mustStart: this.state === 'starting' || (this.state === 'reloading' && child.generation === this.generation),
    });
    const stale = child.role === 'worker' && (child.generation < this.generation || child.id > this.pool.active);
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
      this.shutdown.fail(`${child.role} ${verdict.reason} failure`);
      return;
    }
    this.log[verdict.level](`${child.role} ${verdict.message}`, { ...fields, reason: verdict.reason });
    if (respawn === 'now') this.respawnSlot(child, 0);
    else if (respawn === 'backoff') this.respawnSlot(child, this.children.backoff(child, this.log));
  }

  private respawnSlot(child: Child, delay: number): void {
    this.children.countRespawn(child.role, child.id);
    const generation = child.role === 'worker' ? this.generation : child.generation;
    const go = (): void => {
      if (this.state === 'stopping' || (child.role === 'worker' && child.id > this.pool.active)) return;
      this.spawn(child.role, child.id, generation);
    };
    if (delay === 0) go();
    else setTimeout(go, delay).unref();
  }

  private abandonGeneration(generation: number): void {
    if (this.replacer.inChain) {
      // Workers already replaced keep serving; the rest of the chain is dropped.
      this.replacer.clear();
      this.state = 'running';
      publish({ type: 'reload-finished', generation, ok: false });
      return;
    }
    for (const c of this.children.all()) {
      if (c.role === 'worker' && c.generation === generation) {
        c.state = 'stopping';
        c.proc.kill('SIGKILL');
      }
    }
    this.children.forkServers?.drop(generation);
    this.generation = generation - 1;
    this.canaryGeneration = undefined;
    this.state = 'running';
    publish({ type: 'reload-finished', generation, ok: false });
  }

  private handleHup(): void {
    if (this.state === 'stopping') return;
    if (this.state !== 'running') {
      this.log.warn(`SIGHUP ignored: ${this.state === 'starting' ? 'still starting' : 'a reload is under way'}`);
      return;
    }
    this.generation++;
    this.state = 'reloading';
    this.replacer.clear(); // the new generation replaces everyone
    this.log.info('reloading: starting a new generation of workers', { generation: this.generation, workers: this.pool.active });
    publish({ type: 'reload-started', generation: this.generation });
    this.startGeneration(this.generation);
  }
}
