/**
 * master/pool: how many worker slots run (`cheaper` and `idle` change it between 0 and `processes`),
 * and the changes asked for from outside the arbiter: more or fewer workers (cheaper, the master fifo's
 * + and -), all of them asleep (idle), one replaced gracefully (max-worker-lifetime, reload-on-rss) or
 * killed at once (evil-reload-on-*). Slots 1..active run; the others are "cheap".
 * Must not: respawn dead workers or run reloads (the arbiter's), or decide when to grow or shrink
 * (master/monitor and master/idle do).
 */
import type { Logger } from '../log.js';
import type { DeathReason } from './events.js';
import type { Child, ChildTable } from './children.js';
import type { Replacer } from './replacer.js';

export type RecycleReason = Extract<DeathReason, 'lifetime' | 'rss' | 'recycled'>;

/** What the pool needs of the arbiter. */
export interface PoolHost {
  readonly children: ChildTable;
  readonly replacer: Replacer;
  readonly log: Logger;
  /** `processes`: the most workers that run. */
  readonly processes: number;
  /** The fds the workers accept on. */
  readonly workerFds: readonly number[];
  /** Not starting, reloading or stopping. */
  isRunning(): boolean;
  /** The workers of the current generation. */
  workers(): Child[];
  /** Start worker `id` of the current generation. */
  spawnWorker(id: number): void;
  /** Ask a child to finish in-flight work and exit. */
  retire(c: Child, reason: string): void;
}

export class WorkerPool {
  /** Worker slots 1..active run. */
  active: number;

  constructor(private readonly host: PoolHost, initial: number) {
    this.active = initial;
  }

  /** The fds the workers accept on (the master watches their queues while idle). */
  get workerFds(): readonly number[] {
    return this.host.workerFds;
  }

  /** Replace a worker gracefully: its replacement starts, and it stops once that one is ready. One at a time. */
  recycle(pid: number, reason: RecycleReason, detail: string): void {
    const { children, replacer, log } = this.host;
    const c = children.get(pid);
    if (c === undefined || c.state !== 'ready' || c.replacedBy !== undefined || replacer.isQueued(pid)) return;
    log.info('recycling worker', { id: c.id, pid, reason, detail });
    c.announced = reason === 'recycled' ? undefined : reason;
    replacer.enqueue([c], reason, false);
  }

  /** `evil-reload-on-*`: kill at once, as uWSGI does (the worker may be past helping); it is respawned. */
  kill(pid: number, reason: string, detail: string): void {
    const c = this.host.children.get(pid);
    if (c === undefined || c.state === 'stopping') return;
    this.host.log.warn('killing worker', { id: c.id, pid, reason, detail });
    c.proc.kill('SIGKILL');
  }

  /** Start `n` more workers, up to `processes` (cheaper). Returns how many were started. */
  grow(n: number): number {
    if (!this.host.isRunning()) return 0;
    const to = Math.min(this.host.processes, this.active + n);
    const added = to - this.active;
    for (let id = this.active + 1; id <= to; id++) this.host.spawnWorker(id);
    this.active = to;
    if (added > 0) this.host.log.info('cheaper: more workers', { added, workers: this.active });
    return added;
  }

  /** `idle`: retire every worker until a connection waits; returns how many were retired. */
  sleep(): number {
    if (!this.host.isRunning()) return 0;
    const all = this.host.workers().filter((c) => c.state !== 'stopping');
    this.active = 0;
    for (const c of all) this.host.retire(c, 'idle');
    return all.length;
  }

  /** Retire the highest worker slot, not below `min` (cheaper). */
  shrink(min: number): boolean {
    if (!this.host.isRunning() || this.active <= min) return false;
    const victim = this.host.workers().find((c) => c.id === this.active && c.state !== 'stopping');
    this.active--;
    this.host.log.info('cheaper: fewer workers', { retired: victim?.pid, workers: this.active });
    if (victim) this.host.retire(victim, 'cheaper');
    return true;
  }
}
