/**
 * stats/live: the dashboard's document (`/live.json`): usher's own view, richer than uWSGI's JSON:
 * five minutes of once-a-second history (req/s, mean latency and p50/p95/p99, in flight, listen queue, RSS), every
 * worker and router slot, the sockets, and the recent respawns and reloads.
 * Must not: compute figures (stats/collector does).
 */
import type { RecentEvent, Sample, SlotView, StatsCollector } from './collector.js';

export interface LiveSlot {
  readonly role: string;
  readonly id: number;
  readonly pid: number;
  readonly state: string;
  readonly status: 'busy' | 'idle' | 'cheap';
  readonly generation: number;
  readonly requests: number;
  /** Requests per second over the latest second. */
  readonly rps: number;
  readonly exceptions: number;
  readonly inflight: number;
  readonly avgRtMs: number;
  readonly rss: number;
  readonly respawns: number;
  readonly startedAt: number;
}

export interface LiveDocument {
  readonly version: string;
  readonly now: number;
  readonly pid: number;
  readonly startedAt: number;
  readonly listenQueue: number;
  readonly reloads: { readonly ok: number; readonly failed: number };
  readonly sockets: readonly { readonly name: string; readonly proto: string; readonly queue: number; readonly max: number }[];
  readonly slots: readonly LiveSlot[];
  readonly history: readonly Sample[];
  readonly recent: readonly RecentEvent[];
}

function slot(s: SlotView): LiveSlot {
  return {
    role: s.role, id: s.id, pid: s.child?.pid ?? 0, state: s.child?.state ?? 'absent', generation: s.child?.generation ?? 0,
    status: s.child === undefined ? 'cheap' : s.inflight > 0 ? 'busy' : 'idle',
    requests: s.totals.requests, rps: s.rps, exceptions: s.totals.exceptions, inflight: s.inflight, avgRtMs: s.avgRtUs / 1000,
    rss: s.memory?.rss ?? 0, respawns: Math.max(0, s.spawns - 1), startedAt: s.child?.startedAt ?? 0,
  };
}

export function liveDocument(c: StatsCollector, version: string): LiveDocument {
  return {
    version, now: Date.now(), pid: process.pid, startedAt: c.startedAt, listenQueue: c.listenQueue(), reloads: { ...c.reloads },
    sockets: c.socketViews().map((s) => ({ name: s.name, proto: s.proto, queue: s.queue, max: s.max })),
    slots: [...c.slotViews('worker'), ...c.slotViews('router')].map(slot),
    history: c.history,
    recent: c.recent,
  };
}
