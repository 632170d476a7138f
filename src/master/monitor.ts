/**
 * master/monitor: the master's once-a-second look at its workers (uWSGI's master cycle): recycles a
 * worker past `max-worker-lifetime` or over `reload-on-rss`/`reload-on-as` gracefully, kills one over
 * the `evil-*` limits, and runs the `cheaper` algorithm. Memory comes from /proc/PID/statm (one read
 * per worker per second, and only when a memory limit is set).
 * Must not: spawn or signal children itself (it asks the arbiter), or run per request.
 */
import { readFileSync } from 'node:fs';
import type { UsherConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Arbiter, ChildView } from './arbiter.js';
import { SpareAlgorithm } from './cheaper.js';
import { IdleWatch } from './idle.js';

const PAGE = 4096;
const MiB = 1024 * 1024;

export interface Memory { readonly rss: number; readonly vsz: number }

/** Resident and virtual size of a process in bytes, or undefined once it is gone. */
export function readMemory(pid: number): Memory | undefined {
  try {
    const [size, resident] = readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ');
    return { vsz: Number(size) * PAGE, rss: Number(resident) * PAGE };
  } catch {
    return undefined;
  }
}

/** A slot recycled this many times in a row for memory, before serving a request, is left alone for a while. */
const FUTILE_RECYCLES = 3;
const FUTILE_PAUSE_MS = 60_000;

export class Monitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly spare: SpareAlgorithm | undefined;
  /** Per worker slot: consecutive memory recycles of workers that served nothing, and a pause. */
  private readonly futile = new Map<number, { count: number; pausedUntil: number }>();

  constructor(private readonly arbiter: Arbiter, private readonly config: UsherConfig, private readonly log: Logger) {
    this.spare = config.cheaper > 0 ? new SpareAlgorithm(config.cheaperOverload) : undefined;
    const wake = config.cheaper > 0 ? (config.cheaperInitial || config.cheaper) : config.processes;
    this.idle = config.idle > 0 ? new IdleWatch(arbiter, config.idle, config.dieOnIdle, wake, log) : undefined;
  }

  private readonly idle: IdleWatch | undefined;

  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.idle?.stop();
  }

  private tick(): void {
    if (!this.arbiter.isRunning) return;
    const now = Date.now();
    const workers = this.arbiter.snapshot().filter((c) => c.role === 'worker' && c.state === 'ready');
    for (const w of workers) this.checkLimits(w, now);
    this.idle?.tick(workers, now);
    if (this.spare) this.runCheaper(workers);
  }

  private checkLimits(w: ChildView, now: number): void {
    const c = this.config;
    const ageS = (now - w.startedAt) / 1000;
    if (c.maxWorkerLifetime > 0) {
      const limit = c.maxWorkerLifetime + (w.id - 1) * c.maxWorkerLifetimeDelta;
      if (ageS > limit) {
        this.arbiter.pool.recycle(w.pid, 'lifetime', `ran ${Math.floor(ageS)} s (max-worker-lifetime ${limit} s)`);
        return;
      }
    }
    if (c.reloadOnRss === 0 && c.reloadOnAs === 0 && c.evilReloadOnRss === 0 && c.evilReloadOnAs === 0) return;
    const mem = readMemory(w.pid);
    if (mem === undefined) return;
    const rssMiB = mem.rss / MiB;
    const vszMiB = mem.vsz / MiB;
    if (c.evilReloadOnRss > 0 && rssMiB >= c.evilReloadOnRss) return this.arbiter.pool.kill(w.pid, 'evil-reload-on-rss', `rss ${rssMiB.toFixed(1)} MiB ≥ ${c.evilReloadOnRss} MiB`);
    if (c.evilReloadOnAs > 0 && vszMiB >= c.evilReloadOnAs) return this.arbiter.pool.kill(w.pid, 'evil-reload-on-as', `address space ${vszMiB.toFixed(1)} MiB ≥ ${c.evilReloadOnAs} MiB`);
    if (ageS < c.minWorkerLifetime) return;
    const over = c.reloadOnRss > 0 && rssMiB >= c.reloadOnRss ? `rss ${rssMiB.toFixed(1)} MiB ≥ reload-on-rss ${c.reloadOnRss} MiB`
      : c.reloadOnAs > 0 && vszMiB >= c.reloadOnAs ? `address space ${vszMiB.toFixed(1)} MiB ≥ reload-on-as ${c.reloadOnAs} MiB` : undefined;
    if (over === undefined) {
      if (w.counters.requests > 0) this.futile.delete(w.id);
      return;
    }
    if (this.isFutile(w, over, Date.now())) return;
    this.arbiter.pool.recycle(w.pid, 'rss', over);
  }

  /**
   * `reload-on-rss = 1` would recycle every worker the moment it may, forever: a slot whose workers
   * were recycled again and again before serving anything is paused, and the log says why.
   */
  private isFutile(w: ChildView, over: string, now: number): boolean {
    const f = this.futile.get(w.id) ?? { count: 0, pausedUntil: 0 };
    if (now < f.pausedUntil) return true;
    if (w.counters.requests > 0) f.count = 0;
    f.count++;
    this.futile.set(w.id, f);
    if (f.count > FUTILE_RECYCLES) {
      f.pausedUntil = now + FUTILE_PAUSE_MS;
      f.count = 0;
      this.log.warn('memory limit is below what a fresh worker uses: not recycling this worker again for a while', { id: w.id, pid: w.pid, detail: over, pause_s: FUTILE_PAUSE_MS / 1000 });
      return true;
    }
    return false;
  }

  private runCheaper(workers: ChildView[]): void {
    const spare = this.spare!;
    const busy = workers.map((w) => w.counters.inflight > 0);
    const decision = spare.decide(busy, this.arbiter.pool.active < this.config.processes, this.arbiter.pool.active > this.config.cheaper);
    if (decision === 'grow') this.arbiter.pool.grow(this.config.cheaperStep);
    else if (decision === 'shrink') this.arbiter.pool.shrink(this.config.cheaper);
  }
}
