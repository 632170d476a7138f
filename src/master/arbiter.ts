/**
 * master/arbiter: the master process's supervisor (gunicorn's arbiter, uWSGI's master). It spawns the
 * HTTP routers and the workers on the sockets bound by master/sockets, watches their heartbeats
 * (SIGABRT, then SIGKILL, for a child that goes silent), reacts to every exit by table
 * (master/exits.ts), reloads gracefully on SIGHUP (a whole new generation, or one worker at a time for a
 * chain reload), replaces workers one at a time when asked to recycle them (lifetime, memory), and
 * grows or shrinks the pool between `cheaper` and `processes`. Signal handlers only enqueue; one drain
 * step dispatches them from a table. Everything that happens is published on master/events.
 * Must not: bind sockets, parse requests, or load app code.
 */
import type { Logger } from '../log.js';
import { flushSync } from '../log.js';
import { TIMING, isChildMessage, type ChildCounters, type ChildMessage, type ExitReason } from '../ipc.js';
import { publish, type ChildRole, type DeathReason } from './events.js';
import { classifyExit } from './exits.js';
import { ChildTable, type Child, type ChildView, type SpawnPlan } from './children.js';
import { Replacer } from './replacer.js';

export type { ChildView } from './children.js';

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

type SignalName = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT';
export type RecycleReason = Extract<DeathReason, 'lifetime' | 'rss' | 'recycled'>;

/** A child that dies this soon after starting, abnormally, is respawned with growing delays. */
const EARLY_DEATH_MS = 2000;

export class Arbiter {
  private readonly children: ChildTable;
  private readonly queue: SignalName[] = [];
  private generation = 1;
  private state: 'starting' | 'running' | 'reloading' | 'stopping' = 'starting';
  private exitCode = 0;
  private readonly respawnDelay = new Map<string, number>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private resolveDone: ((code: number) => void) | undefined;
  private forceTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  /** A generation whose first worker is loading the app alone; the others start once it is ready. */
  private canaryGeneration: number | undefined;
  /** Worker slots 1..active run; the others are "cheap" (`cheaper`). */
  private active: number;
  /** Replacing workers one at a time (recycling, chain reload). */
  private readonly replacer: Replacer;
  readonly startedAt = Date.now();
  /** Children beat (and the master checks) a few times per heartbeat-timeout, at most every 5 s. */
  private readonly heartbeatMs: number;

  constructor(private readonly plan: ArbiterPlan, private readonly log: Logger, private readonly onReady: () => void) {
    this.heartbeatMs = Math.min(plan.heartbeatMaxMs ?? TIMING.HEARTBEAT_INTERVAL_MS, Math.max(200, Math.floor(plan.heartbeatTimeoutMs / 4)));
    this.children = new ChildTable(plan, this.heartbeatMs);
    this.active = plan.initialWorkers;
    this.replacer = new Replacer({
      children: this.children,
      log,
      spawnWorker: (id) => this.spawn('worker', id, this.generation),
      retire: (c, reason) => this.retire(c, reason),
      canSpawn: () => this.state !== 'stopping',
      chainDone: (retired) => { if (this.state === 'reloading') this.reloadFinished(retired); },
    });
  }

  /** Runs until usher stops; resolves with the process exit code. */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => { this.resolveDone = resolve; });
    for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(sig, () => this.enqueue(sig));
    for (let id = 1; id <= this.plan.routers; id++) this.spawn('router', id, this.generation);
    this.startGeneration(this.generation);
    this.heartbeatTimer = setInterval(() => this.checkHeartbeats(), this.heartbeatMs);
    return done;
  }

  /** Ask for what a signal would do (the master fifo and touch-reload use this too). */
  enqueue(sig: SignalName): void {
    this.queue.push(sig);
    setImmediate(() => this.drain());
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

  get activeWorkers(): number {
    return this.active;
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

  /** Replace a worker gracefully: its replacement starts, and it stops once that one is ready. One at a time. */
  recycle(pid: number, reason: RecycleReason, detail: string): void {
    const c = this.children.get(pid);
    if (c === undefined || c.state !== 'ready' || c.replacedBy !== undefined || this.replacer.isQueued(pid)) return;
    this.log.info('recycling worker', { id: c.id, pid, reason, detail });
    c.announced = reason === 'recycled' ? undefined : reason;
    this.replacer.enqueue([c], reason, false);
  }

  /** `evil-reload-on-*`: kill at once, as uWSGI does (the worker may be past helping); it is respawned. */
  kill(pid: number, reason: string, detail: string): void {
    const c = this.children.get(pid);
    if (c === undefined || c.state === 'stopping') return;
    this.log.warn('killing worker', { id: c.id, pid, reason, detail });
    c.proc.kill('SIGKILL');
  }

  /** Start `n` more workers, up to `processes` (cheaper). Returns how many were started. */
  grow(n: number): number {
    if (this.state !== 'running') return 0;
    const to = Math.min(this.plan.processes, this.active + n);
    const added = to - this.active;
    for (let id = this.active + 1; id <= to; id++) this.spawn('worker', id, this.generation);
    this.active = to;
    if (added > 0) this.log.info('cheaper: more workers', { added, workers: this.active });
    return added;
  }

  /** Retire the highest worker slot, not below `min` (cheaper). */
  shrink(min: number): boolean {
    if (this.state !== 'running' || this.active <= min) return false;
    const victim = this.workers().find((c) => c.id === this.active && c.state !== 'stopping');
    this.active--;
    this.log.info('cheaper: fewer workers', { retired: victim?.pid, workers: this.active });
    if (victim) this.retire(victim, 'cheaper');
    return true;
  }

  private workers(): Child[] {
    return [...this.children.all()].filter((c) => c.role === 'worker' && c.generation === this.generation);
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

  private spawnFailed(role: ChildRole, id: number, err: Error): void {
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
    if (child.role === 'worker' && (child.generation < this.generation || child.id > this.active)) return;
    this.respawnSlot(child, 0);
  }

  /**
   * Worker 1 loads the app alone first (uWSGI loads it once before forking): an app that cannot load
   * fails in one process, with one traceback, instead of in every worker at once.
   */
  private startGeneration(generation: number): void {
    this.canaryGeneration = this.active > 1 ? generation : undefined;
    this.spawn('worker', 1, generation);
  }

  private allReady(generation: number): boolean {
    let routers = 0;
    let workers = 0;
    for (const c of this.children.all()) {
      if (c.state !== 'ready') continue;
      if (c.role === 'router') routers++;
      else if (c.generation === generation) workers++;
    }
    return routers >= this.plan.routers && workers >= this.active;
  }

  private afterReady(child: Child): void {
    this.respawnDelay.delete(`${child.role}:${child.id}`);
    if (child.role === 'worker') this.replacer.onReady(child);
    if (child.role === 'worker' && child.generation === this.canaryGeneration) {
      this.canaryGeneration = undefined;
      this.log.info('app loaded; starting the other workers', { generation: child.generation, workers: this.active - 1 });
      for (let id = 2; id <= this.active; id++) this.spawn('worker', id, child.generation);
    }
    if (this.state === 'starting' && this.allReady(this.generation)) {
      this.state = 'running';
      publish({ type: 'ready', workers: this.active, generation: this.generation });
      this.onReady();
    } else if (this.state === 'reloading' && !this.replacer.inChain && child.role === 'worker' && this.allReady(this.generation)) {
      // The new generation serves: retire the old one gracefully.
      const old = [...this.children.all()].filter((c) => c.role === 'worker' && c.generation < this.generation);
      for (const c of old) this.retire(c, 'reload');
      this.reloadFinished(old.length);
    }
  }

  private reloadFinished(retired: number): void {
    this.state = 'running';
    this.log.info('reload complete', { generation: this.generation, retired });
    publish({ type: 'reload-finished', generation: this.generation, ok: true });
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
    this.replacer.onExit(child);
    const verdict = classifyExit(code, signal, {
      retiring: child.state === 'stopping', starting: child.state === 'starting', unresponsive: child.unresponsive, announced: child.announced,
      mustStart: this.state === 'starting' || (this.state === 'reloading' && child.generation === this.generation),
    });
    const stale = child.role === 'worker' && (child.generation < this.generation || child.id > this.active);
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
    this.children.countRespawn(child.role, child.id);
    const generation = child.role === 'worker' ? this.generation : child.generation;
    const go = (): void => {
      if (this.state === 'stopping' || (child.role === 'worker' && child.id > this.active)) return;
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
    this.generation = generation - 1;
    this.canaryGeneration = undefined;
    this.state = 'running';
    publish({ type: 'reload-finished', generation, ok: false });
  }

  /** A child silent past heartbeat-timeout gets SIGABRT (a core dump or a stack, where enabled), then SIGKILL. */
  private checkHeartbeats(): void {
    const now = Date.now();
    for (const c of this.children.all()) {
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
    if (this.state !== 'running') {
      this.log.warn(`SIGHUP ignored: ${this.state === 'starting' ? 'still starting' : 'a reload is under way'}`);
      return;
    }
    this.generation++;
    this.state = 'reloading';
    this.replacer.clear(); // the new generation replaces everyone
    this.log.info('reloading: starting a new generation of workers', { generation: this.generation, workers: this.active });
    publish({ type: 'reload-started', generation: this.generation });
    this.startGeneration(this.generation);
  }

  private handleTerm(sig: string): void {
    if (this.drainTimer !== undefined) {
      this.log.warn(`second ${sig} while draining: stopping gracefully now`);
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
      this.beginStop(sig, false);
      return;
    }
    if (this.plan.drainMs > 0 && this.state !== 'stopping') {
      // Draining first: load balancers see the readiness path fail and move traffic away while it is
      // still served; then the usual graceful stop.
      this.log.info('draining: the readiness path answers 503; stopping after drain-time', { reason: sig, drain_s: this.plan.drainMs / 1000 });
      publish({ type: 'stopping', reason: `${sig} (draining)`, graceful: true });
      for (const c of this.children.all()) if (c.proc.connected) c.proc.send({ type: 'drain' });
      this.drainTimer = setTimeout(() => { this.drainTimer = undefined; this.beginStop(sig, false); }, this.plan.drainMs);
      return;
    }
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
    for (const c of this.children.all()) {
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
    for (const c of this.children.all()) c.proc.kill('SIGKILL');
  }

  private finish(): void {
    if (this.forceTimer) clearTimeout(this.forceTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    publish({ type: 'stopped', code: this.exitCode });
    flushSync();
    this.resolveDone?.(this.exitCode);
  }
}
