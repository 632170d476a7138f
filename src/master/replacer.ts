/**
 * master/replacer: replacing workers one at a time, each replacement ready before the worker it
 * replaces is asked to stop, so capacity never drops. Used for recycling (lifetime, memory) and for a
 * chain reload (every worker of the old generation, in turn). The arbiter owns the children; this only
 * keeps the queue and the links between a worker and its replacement.
 * Must not: decide which workers to recycle (master/monitor does), or respawn crashed ones.
 */
import type { Logger } from '../log.js';
import type { Child, ChildTable } from './children.js';

export interface ReplacerHost {
  readonly children: ChildTable;
  readonly log: Logger;
  /** Start a worker with this id in the current generation (undefined if the spawn failed). */
  spawnWorker(id: number): Child | undefined;
  /** Ask a worker to finish its requests and exit. */
  retire(c: Child, reason: string): void;
  /** May a replacement start now (usher is not stopping)? */
  canSpawn(): boolean;
  /** A chain reload replaced every worker it had queued. */
  chainDone(retired: number): void;
}

export class Replacer {
  private readonly queue: { pid: number; reason: string }[] = [];
  private current: number | undefined;
  private chain = false;
  private chainRetired = 0;

  constructor(private readonly host: ReplacerHost) {}

  get inChain(): boolean {
    return this.chain;
  }

  isQueued(pid: number): boolean {
    return this.queue.some((q) => q.pid === pid);
  }

  /** Replace these workers one at a time (a chain reload when `chain`). */
  enqueue(workers: readonly Child[], reason: string, chain: boolean): void {
    if (chain) {
      this.chain = true;
      this.chainRetired = 0;
    }
    for (const c of workers) this.queue.push({ pid: c.pid, reason });
    this.pump();
  }

  /** Drop everything queued (a full reload replaces everyone; a failed chain stops). */
  clear(): void {
    this.queue.length = 0;
    this.current = undefined;
    this.chain = false;
  }

  /** A worker reported ready: if it is a replacement, the worker it replaces stops and the next one starts. */
  onReady(fresh: Child): void {
    if (fresh.replaces === undefined && this.current !== fresh.pid) return;
    const old = fresh.replaces === undefined ? undefined : this.host.children.get(fresh.replaces);
    fresh.replaces = undefined;
    if (old !== undefined) {
      this.host.log.info('replacement ready; retiring the old worker', { id: old.id, pid: old.pid, replacement: fresh.pid });
      if (this.chain) this.chainRetired++;
      this.host.retire(old, this.chain ? 'chain reload' : old.announced ?? 'recycled');
    }
    if (this.current === fresh.pid) this.current = undefined;
    this.pump();
  }

  /** A replacement that died before it was ready leaves its worker serving; a replaced worker that died frees its replacement. */
  onExit(child: Child): void {
    if (child.replaces !== undefined) {
      const old = this.host.children.get(child.replaces);
      if (old !== undefined) old.replacedBy = undefined;
      if (this.current === child.pid) this.current = undefined;
      setImmediate(() => this.pump());
    }
    if (child.replacedBy !== undefined) {
      const fresh = this.host.children.get(child.replacedBy);
      if (fresh !== undefined) fresh.replaces = undefined;
      child.state = 'stopping'; // its slot is taken by the replacement: nothing to respawn
    }
  }

  /** Start the next queued replacement, if none is under way. */
  private pump(): void {
    while (this.current === undefined && this.host.canSpawn()) {
      const next = this.queue.shift();
      if (next === undefined) {
        if (this.chain) {
          this.chain = false;
          this.host.chainDone(this.chainRetired);
        }
        return;
      }
      const old = this.host.children.get(next.pid);
      if (old === undefined || old.state !== 'ready') continue;
      const fresh = this.host.spawnWorker(old.id);
      if (fresh === undefined) return;
      fresh.replaces = old.pid;
      old.replacedBy = fresh.pid;
      this.current = fresh.pid;
    }
  }
}
