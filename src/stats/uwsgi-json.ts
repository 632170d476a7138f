/**
 * stats/uwsgi-json: the stats document in uWSGI's shape (core/master_utils.c, uwsgi_master_generate_stats
 * in uWSGI 2.0), so uwsgitop, uwsgi_exporter and monitoring agents read usher as they read uWSGI:
 * the same keys, types and nesting, and the same text layout (tabs, `"key":value`), or one line
 * with `stats-minified`.
 * Where usher's model differs, the figure is still real:
 *  - `requests`, `exceptions`, `tx` and `running_time` are totals for the worker slot (as uWSGI's,
 *    they survive respawns); `delta_requests` is the current process's own count.
 *  - `avg_rt` (µs) is the mean over the latest heartbeat interval that had requests (uWSGI keeps a
 *    running average of the last requests: recent traffic dominates in both).
 *  - `cores[]` has one entry per worker process: usher counts per process, not per thread.
 *  - `status` is `busy` while the worker has a request in flight (as of its last heartbeat, at most
 *    a second old when stats are on), `idle` otherwise, `cheap` for a slot with no process.
 *  - `signals`, `signal_queue` and `locks` are empty: usher has no uWSGI signal framework or locks.
 * Must not: compute figures (stats/collector does), or add keys uWSGI does not have.
 */
import type { SlotView, StatsCollector } from './collector.js';

type Json = string | number | Json[] | { [k: string]: Json };

function worker(s: SlotView, collector: StatsCollector): Json {
  const c = s.child;
  const own = c !== undefined ? collector.childCounters(c.pid) : undefined;
  const oldest = own !== undefined && own.inflight > 0 ? own.oldest : 0;
  return {
    id: s.id,
    pid: c?.pid ?? 0,
    accepting: c?.state === 'ready' ? 1 : 0,
    requests: s.totals.requests,
    delta_requests: own?.requests ?? 0,
    exceptions: s.totals.exceptions,
    harakiri_count: s.totals.harakiri,
    signals: 0,
    signal_queue: 0,
    status: c === undefined ? 'cheap' : s.inflight > 0 ? 'busy' : 'idle',
    rss: s.memory?.rss ?? 0,
    vsz: s.memory?.vsz ?? 0,
    running_time: s.totals.rtUs,
    last_spawn: c !== undefined ? Math.floor(c.startedAt / 1000) : 0,
    respawn_count: s.spawns,
    tx: s.totals.tx,
    avg_rt: Math.round(s.avgRtUs),
    apps: c === undefined ? [] : [{ id: 0, modifier1: 0, mountpoint: '', startup_time: 0, requests: s.totals.requests, exceptions: s.totals.exceptions, chdir: '' }],
    cores: [{
      id: 0,
      requests: own?.requests ?? 0,
      static_requests: 0,
      routed_requests: 0,
      offloaded_requests: 0,
      write_errors: 0,
      read_errors: 0,
      in_request: s.inflight > 0 ? 1 : 0,
      vars: [],
      req_info: oldest > 0 ? { request_start: Math.floor(oldest / 1000) } : {},
    }],
  };
}

export function buildStats(collector: StatsCollector, version: string): Json {
  const lq = collector.listenQueue();
  return {
    version: `${version}-usher`,
    listen_queue: lq,
    listen_queue_errors: collector.listenQueueErrors,
    signal_queue: 0,
    load: lq,
    pid: process.pid,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    cwd: process.cwd(),
    locks: [],
    sockets: collector.socketViews().map((s) => ({ name: s.name, proto: s.proto, queue: s.queue, max_queue: s.max, shared: 0, can_offload: 0 })),
    workers: collector.slotViews('worker').map((s) => worker(s, collector)),
  };
}

/** uWSGI's text layout: tab-indented, `"key":value`, empty containers opened and closed on two lines. */
export function serialize(v: Json, minified: boolean, depth = 1): string {
  if (typeof v === 'string' || typeof v === 'number') return JSON.stringify(v);
  const nl = minified ? '' : '\n';
  const pad = minified ? '' : '\t'.repeat(depth);
  const end = minified ? '' : '\t'.repeat(depth - 1);
  if (Array.isArray(v)) {
    return `[${nl}${v.map((x) => pad + serialize(x, minified, depth + 1)).join(`,${nl}`)}${nl}${end}]`;
  }
  const entries = Object.entries(v).map(([k, x]) => `${pad}${JSON.stringify(k)}:${serialize(x, minified, depth + 1)}`);
  return `{${nl}${entries.join(`,${nl}`)}${nl}${end}}`;
}

export type { Json };
