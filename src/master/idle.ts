/**
 * master/idle: uWSGI's `idle` (cheap mode) and `die-on-idle`. Once no request has started or ended for
 * `idle` seconds, every worker is stopped (or, with die-on-idle, usher itself); the sockets stay
 * listening, so the next client waits in the kernel's accept queue, which the master watches (from
 * /proc/net/tcp or `ss`, by socket inode: it never accepts) and which starts the workers again.
 * Must not: accept a connection, or poll the kernel while the workers run.
 */
import type { Logger } from '../log.js';
import type { Arbiter, ChildView } from './arbiter.js';
import { socketInode, tcpListenQueues, unixListenQueues } from '../stats/kernel.js';

const WAKE_POLL_MS = 200;

export class IdleWatch {
  private signature = '';
  private lastActivity = Date.now();
  private sleeping = false;
  private poll: NodeJS.Timeout | undefined;
  private inodes: ReadonlySet<string> | undefined;

  constructor(private readonly arbiter: Arbiter, private readonly idleS: number, private readonly dieOnIdle: boolean,
    private readonly wakeWorkers: number, private readonly log: Logger) {}

  /** Called once a second by the monitor with the ready workers. */
  tick(workers: readonly ChildView[], now: number): void {
    if (this.sleeping) return;
    const sig = workers.map((w) => `${w.pid}:${w.counters.requests}:${w.counters.inflight}`).join(',');
    if (sig !== this.signature || workers.some((w) => w.counters.inflight > 0)) {
      this.signature = sig;
      this.lastActivity = now;
      return;
    }
    if (now - this.lastActivity < this.idleS * 1000) return;
    if (this.dieOnIdle) {
      this.log.info('idle: no request for a while; stopping usher (die-on-idle)', { idle_s: this.idleS });
      this.arbiter.enqueue('SIGTERM');
      this.sleeping = true;
      return;
    }
    const retired = this.arbiter.pool.sleep();
    this.sleeping = true;
    this.log.info('idle: no request for a while; workers stopped until a connection waits', { idle_s: this.idleS, retired });
    this.poll = setInterval(() => void this.checkQueue(), WAKE_POLL_MS);
    this.poll.unref();
  }

  stop(): void {
    if (this.poll) clearInterval(this.poll);
  }

  private async checkQueue(): Promise<void> {
    this.inodes ??= new Set((await Promise.all(this.arbiter.pool.workerFds.map((fd) => socketInode(fd)))).filter((i): i is string => i !== undefined));
    const inodes = this.inodes;
    const tcp = await tcpListenQueues(inodes);
    // `ss` (a process five times a second) only for sockets /proc/net/tcp does not list: unix ones.
    const unix = [...inodes].some((i) => !tcp.has(i)) ? await unixListenQueues() : null;
    const waiting = [...inodes].some((i) => (tcp.get(i) ?? 0) > 0 || (unix?.get(i)?.queue ?? 0) > 0);
    if (!waiting || !this.sleeping) return;
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    this.sleeping = false;
    this.lastActivity = Date.now();
    this.signature = '';
    const started = this.arbiter.pool.grow(this.wakeWorkers);
    this.log.info('idle: a connection waits; workers started', { workers: started });
  }
}
