/**
 * stats/collector: everything the stats server, /metrics, `usher top` and the dashboard show, kept
 * in the master. Live figures come from the arbiter's snapshot (each child's counters, refreshed by
 * its heartbeat); slot totals add the last counters of every child that held the slot before
 * (respawned, recycled, retired by a reload), so requests/exceptions/bytes never go down; respawns,
 * exits by reason and reloads are counted from master/events. Once a second it samples what only
 * the kernel knows (listen queues, RSS) and keeps five minutes of history for the dashboard.
 * Must not: change anything in the master or the children (it only reads and subscribes).
 */
import { RT_BUCKETS_US, type ChildCounters } from '../ipc.js';
import type { Logger } from '../log.js';
import type { ChildView } from '../master/arbiter.js';
import { subscribe, type ChildRole, type MasterEvent } from '../master/events.js';
import { addTo, quantileMs, zeroTotals, type Totals } from './totals.js';
import { processMemory, socketInode, somaxconn, tcpListenQueues, unixListenQueues, type Memory, type QueueDepth } from './kernel.js';

export interface StatsSource {
  snapshot(): ChildView[];
  readonly startedAt: number;
}

export interface StatsSocket {
  /** As configured (`127.0.0.1:8080`, `/run/app.sock`). */
  readonly name: string;
  readonly proto: 'uwsgi' | 'http';
  readonly fd: number;
  readonly unix: boolean;
}

export interface SocketView extends StatsSocket, QueueDepth {}

export type { Totals } from './totals.js';

/** One worker or router slot (role + id), across every process that has held it. */
export interface SlotView {
  readonly role: ChildRole;
  readonly id: number;
  /** The process serving the slot now (the newest generation), if any. */
  readonly child: ChildView | undefined;
  /** Every counter summed over the slot's processes, past and present. */
  readonly totals: Totals;
  readonly inflight: number;
  readonly spawns: number;
  /** Mean response time over the latest heartbeat interval that had requests, in µs. */
  readonly avgRtUs: number;
  readonly memory: Memory | undefined;
  /** Requests per second over the latest one-second sample. */
  readonly rps: number;
}

export interface RecentEvent {
  readonly at: number;
  readonly kind: 'respawn' | 'exit' | 'reload-started' | 'reload-finished' | 'reload-failed';
  readonly text: string;
}

export interface Sample {
  /** ms since the epoch. */
  readonly t: number;
  readonly rps: number;
  /** Mean response time of the requests completed in the workers' latest heartbeat windows, ms (0 when none). */
  readonly avgMs: number;
  /** Response-time percentiles of those requests (ms, 0 when none), estimated from the workers' histograms. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly inflight: number;
  readonly listenQueue: number;
  readonly rss: number;
}

const HISTORY = 300;
const RECENT = 50;
const ZERO: ChildCounters = Object.freeze({ requests: 0, inflight: 0, oldest: 0, tx: 0, exceptions: 0, rtUs: 0, harakiri: 0, codes: [], rtHist: [] });

interface Slot {
  readonly role: ChildRole;
  readonly id: number;
  readonly retired: Totals;
  spawns: number;
  avgRtUs: number;
  lastDeath: string | undefined;
}

/**
 * A live child's last counters, and its latest heartbeat window: rates are measured between two of
 * the child's own heartbeats (requests / time between them), so they do not jitter with the phase
 * between its heartbeat and our once-a-second sample.
 */
interface Seen {
  readonly slot: Slot;
  counters: ChildCounters;
  beatAt: number;
  beatRequests: number;
  beatRtUs: number;
  beatHist: readonly number[];
  /** Requests completed and their summed time in the latest window, and its requests/s. */
  winRequests: number;
  winRtUs: number;
  /** The window's requests by response-time bucket. */
  winHist: readonly number[];
  rps: number;
}

const key = (role: ChildRole, id: number): string => `${role}:${id}`;

/** A child silent for a few heartbeats (stuck, or stopping) has no current rate. */
const fresh = (seen: Seen): boolean => Date.now() - seen.beatAt < 3500;

export class StatsCollector {
  private readonly slots = new Map<string, Slot>();
  /** Last counters seen per live pid (heartbeat events and snapshots): what a death retires. */
  private readonly seen = new Map<number, Seen>();
  private readonly memory = new Map<number, Memory>();
  private depths = new Map<number, QueueDepth>();
  private readonly inodes = new Map<number, string>();
  /** Our TCP sockets' inodes: reading /proc/net/tcp stops once it has found them. */
  private readonly tcpInodes = new Set<string>();
  readonly exits = new Map<string, number>();
  readonly spawnsByRole = new Map<ChildRole, number>();
  readonly reloads = { ok: 0, failed: 0 };
  /** Samples where some listen queue was full (uWSGI's listen_queue_errors). */
  listenQueueErrors = 0;
  readonly recent: RecentEvent[] = [];
  readonly history: Sample[] = [];
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private tcpMax: number;

  /** `backlog` is the configured `listen`: a socket's limit until a worker has called listen() on it. */
  constructor(private readonly source: StatsSource, readonly sockets: readonly StatsSocket[], readonly processes: number, private readonly backlog: number, private readonly log: Logger) {
    this.tcpMax = backlog;
  }

  /** Subscribe (before the first child is spawned, so every spawn counts) and take a first sample. */
  async start(): Promise<void> {
    this.unsubscribe = subscribe((e) => {
      // diagnostics_channel rethrows a subscriber's error as uncaught: it would take the master down.
      try {
        this.onEvent(e);
      } catch (err) {
        this.log.warn('stats could not count an event', { event: e.type, error: err instanceof Error ? err.message : String(err) });
      }
    });
    this.tcpMax = Math.min(this.backlog, await somaxconn());
    for (const s of this.sockets) {
      const inode = await socketInode(s.fd);
      if (inode !== undefined) this.inodes.set(s.fd, inode);
      if (inode !== undefined && !s.unix) this.tcpInodes.add(inode);
    }
    await this.sample();
    this.timer = setInterval(() => {
      this.sample().catch((err: unknown) => this.log.warn('stats sample failed', { error: err instanceof Error ? err.message : String(err) }));
    }, 1000);
    this.timer.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
  }

  get startedAt(): number {
    return this.source.startedAt;
  }

  private slot(role: ChildRole, id: number): Slot {
    let s = this.slots.get(key(role, id));
    if (s === undefined) {
      s = { role, id, retired: zeroTotals(), spawns: 0, avgRtUs: 0, lastDeath: undefined };
      this.slots.set(key(role, id), s);
    }
    return s;
  }

  private note(kind: RecentEvent['kind'], text: string): void {
    this.recent.unshift({ at: Date.now(), kind, text });
    if (this.recent.length > RECENT) this.recent.pop();
  }

  /** Remember a child's counters (from a snapshot or a heartbeat). */
  private observe(pid: number, role: ChildRole, id: number, counters: ChildCounters): Seen {
    let seen = this.seen.get(pid);
    if (seen === undefined) {
      const slot = this.slot(role, id);
      seen = { slot, counters, beatAt: Date.now(), beatRequests: counters.requests, beatRtUs: counters.rtUs, beatHist: counters.rtHist, winRequests: 0, winRtUs: 0, winHist: [], rps: 0 };
      this.seen.set(pid, seen);
      if (counters.requests > 0) slot.avgRtUs = counters.rtUs / counters.requests;
    } else if (counters.requests >= seen.counters.requests) {
      seen.counters = counters; // never an older copy than the one we hold
    }
    return seen;
  }

  /** A heartbeat closes the child's window: its rate, and the slot's mean response time if it served. */
  private beat(pid: number, role: ChildRole, id: number, counters: ChildCounters): void {
    const seen = this.observe(pid, role, id, counters);
    const now = Date.now();
    const dt = now - seen.beatAt;
    if (dt < 100) return; // the first sight of this child, or two beats at once: no window yet
    seen.winRequests = Math.max(0, seen.counters.requests - seen.beatRequests);
    seen.winRtUs = Math.max(0, seen.counters.rtUs - seen.beatRtUs);
    seen.rps = (seen.winRequests * 1000) / dt;
    if (seen.winRequests > 0) seen.slot.avgRtUs = seen.winRtUs / seen.winRequests;
    seen.beatAt = now;
    seen.beatRequests = seen.counters.requests;
    seen.beatRtUs = seen.counters.rtUs;
    const hist = seen.counters.rtHist;
    seen.winHist = hist.map((n, i) => Math.max(0, n - (seen.beatHist[i] ?? 0)));
    seen.beatHist = hist;
  }

  private onEvent(e: MasterEvent): void {
    switch (e.type) {
      case 'spawned': {
        const slot = this.slot(e.role, e.id);
        slot.spawns++;
        this.spawnsByRole.set(e.role, (this.spawnsByRole.get(e.role) ?? 0) + 1);
        if (slot.lastDeath !== undefined) this.note('respawn', `${e.role} ${e.id} respawned (pid ${e.pid}) after ${slot.lastDeath}`);
        slot.lastDeath = undefined;
        return;
      }
      case 'heartbeat':
        this.beat(e.pid, e.role, e.id, e.counters);
        return;
      case 'died': {
        const seen = this.seen.get(e.pid);
        const slot = this.slot(e.role, e.id);
        if (seen !== undefined) {
          addTo(slot.retired, seen.counters);
          this.seen.delete(e.pid);
        }
        this.memory.delete(e.pid);
        if (e.reason === 'harakiri') slot.retired.harakiri++;
        const k = `${e.role}\0${e.reason}`;
        this.exits.set(k, (this.exits.get(k) ?? 0) + 1);
        if (e.reason !== 'retired' && e.reason !== 'stopped') {
          slot.lastDeath = e.reason;
          const how = e.signal !== null ? `signal ${e.signal}` : `exit ${String(e.code)}`;
          this.note('exit', `${e.role} ${e.id} (pid ${e.pid}) ended: ${e.reason}, ${how}`);
        }
        return;
      }
      case 'reload-started':
        this.note('reload-started', `reload started: generation ${e.generation}`);
        return;
      case 'reload-finished':
        if (e.ok) this.reloads.ok++;
        else this.reloads.failed++;
        this.note(e.ok ? 'reload-finished' : 'reload-failed', e.ok ? `reload finished: generation ${e.generation} serves` : `reload failed: generation ${e.generation} abandoned, the previous one keeps serving`);
        return;
      default:
    }
  }

  /** Live children, with their counters folded into what we have seen. */
  private children(): ChildView[] {
    const kids = this.source.snapshot();
    for (const c of kids) this.observe(c.pid, c.role, c.id, c.counters);
    return kids;
  }

  /** Every slot of a role, by id: workers 1..processes always (an empty slot has no child). */
  slotViews(role: ChildRole): SlotView[] {
    const kids = this.children().filter((c) => c.role === role);
    const ids = new Set<number>(kids.map((c) => c.id));
    if (role === 'worker') for (let id = 1; id <= this.processes; id++) ids.add(id);
    for (const s of this.slots.values()) if (s.role === role && (role !== 'worker' || s.id <= this.processes)) ids.add(s.id);
    return [...ids].sort((a, b) => a - b).map((id) => {
      const slot = this.slot(role, id);
      const mine = kids.filter((c) => c.id === id);
      const totals = zeroTotals();
      addTo(totals, slot.retired);
      let inflight = 0;
      let rps = 0;
      for (const c of mine) {
        const seen = this.seen.get(c.pid);
        if (seen !== undefined && fresh(seen)) rps += seen.rps;
        const counters = seen?.counters ?? c.counters;
        addTo(totals, counters);
        inflight += counters.inflight;
      }
      // The newest generation serves; an older one may still be finishing during a reload.
      const child = mine.sort((a, b) => b.generation - a.generation || (a.state === 'stopping' ? 1 : 0) - (b.state === 'stopping' ? 1 : 0))[0];
      return {
        role, id, child, totals, inflight, spawns: slot.spawns, avgRtUs: slot.avgRtUs,
        memory: child !== undefined ? this.memory.get(child.pid) : undefined, rps,
      };
    });
  }

  /** Counters of a live child as last seen (the process's own figures, since it started). */
  childCounters(pid: number): ChildCounters {
    return this.seen.get(pid)?.counters ?? ZERO;
  }

  socketViews(): SocketView[] {
    return this.sockets.map((s) => ({ ...s, ...(this.depths.get(s.fd) ?? { queue: 0, max: this.tcpMax }) }));
  }

  /** The deepest listen queue right now (uWSGI's listen_queue). */
  listenQueue(): number {
    let q = 0;
    for (const d of this.depths.values()) q = Math.max(q, d.queue);
    return q;
  }

  private async sample(): Promise<void> {
    const kids = this.children();
    await Promise.all(kids.map(async (c) => {
      const m = await processMemory(c.pid);
      if (m !== null) this.memory.set(c.pid, m);
    }));
    await this.sampleQueues();
    let rps = 0;
    let inflight = 0;
    let rss = 0;
    let winRequests = 0;
    let winRtUs = 0;
    for (const s of this.slotViews('worker')) {
      rps += s.rps;
      inflight += s.inflight;
      rss += s.memory?.rss ?? 0;
    }
    for (const seen of this.seen.values()) {
      if (seen.slot.role !== 'worker' || !fresh(seen)) continue;
      winRequests += seen.winRequests;
      winRtUs += seen.winRtUs;
    }
    const hist = this.windowHistogram();
    this.history.push({
      t: Date.now(), rps, avgMs: winRequests > 0 ? winRtUs / winRequests / 1000 : 0,
      p50Ms: quantileMs(hist, 0.5), p95Ms: quantileMs(hist, 0.95), p99Ms: quantileMs(hist, 0.99),
      inflight, listenQueue: this.listenQueue(), rss,
    });
    if (this.history.length > HISTORY) this.history.shift();
  }

  /** The workers' latest heartbeat windows, bucket by bucket. */
  private windowHistogram(): number[] {
    const sum = new Array<number>(RT_BUCKETS_US.length + 1).fill(0);
    for (const seen of this.seen.values()) {
      if (seen.slot.role !== 'worker' || !fresh(seen)) continue;
      seen.winHist.forEach((n, i) => { sum[i]! += n; });
    }
    return sum;
  }

  private async sampleQueues(): Promise<void> {
    const tcp = this.tcpInodes.size > 0 ? await tcpListenQueues(this.tcpInodes) : new Map<string, number>();
    const unix = this.sockets.some((s) => s.unix) ? await unixListenQueues() : null;
    const depths = new Map<number, QueueDepth>();
    for (const s of this.sockets) {
      const inode = this.inodes.get(s.fd);
      const tcpQueue = inode === undefined || s.unix ? undefined : tcp.get(inode);
      const d = inode === undefined ? undefined : s.unix ? unix?.get(inode) : tcpQueue === undefined ? undefined : { queue: tcpQueue, max: this.tcpMax };
      if (d !== undefined) depths.set(s.fd, d);
      if (d !== undefined && d.queue > 0 && d.queue >= d.max) this.listenQueueErrors++;
    }
    this.depths = depths;
  }
}
