/**
 * stats/prometheus: the collector's figures in Prometheus' text exposition format (version 0.0.4),
 * named by Prometheus' conventions (base units: seconds, bytes; `_total` for counters).
 * Counters are slot totals kept in the master, so they only go up across respawns and reloads.
 * Request durations are a histogram with Prometheus' default buckets: each child counts its requests
 * per bucket (one increment per request) and the master adds them up into cumulative `le` rows.
 * Must not: compute figures (stats/collector does).
 */
import { RT_BUCKETS_US } from '../ipc.js';
import type { SlotView, StatsCollector } from './collector.js';

type Labels = Readonly<Record<string, string | number>>;
/** One sample: its labels (an object, or a label set already formatted by `labels()`), value and name suffix. */
type Sample = readonly [Labels | string, number, string?];

/**
 * The text, built as one string: a scrape renders ~150 samples in the master, whose V8 runs in lite
 * mode (interpreter only), so per-sample work is kept to string appends (label sets of a slot are
 * formatted once, `le` values are constants).
 */
class Exposition {
  private out = '';

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, rows: readonly Sample[]): void {
    this.out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
    for (const [labels, value, suffix] of rows) {
      this.out += `${name}${suffix ?? ''}${typeof labels === 'string' ? labels : fmtLabels(labels)} ${fmtValue(value)}\n`;
    }
  }

  text(): string {
    return this.out;
  }
}

/** A label value as the format wants it: backslash, newline and double quote escaped. */
function escapeValue(v: string): string {
  return /[\\\n"]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

function fmtLabels(labels: Labels): string {
  let out = '';
  for (const k in labels) out += `${out === '' ? '' : ','}${k}="${escapeValue(String(labels[k]))}"`;
  return out === '' ? '' : `{${out}}`;
}

/** The inside of a label set (`worker="1"`), to which a sample adds its own (`,le="0.5"`). */
function inner(labels: Labels): string {
  return fmtLabels(labels).slice(1, -1);
}

function fmtValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return String(v);
}

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const LE = [...RT_BUCKETS_US.map((us) => String(us / 1e6)), '+Inf'];

/** A slot's histogram rows: cumulative buckets, then `_sum` and `_count` (the +Inf bucket's count). */
function histogramRows(s: SlotView, labels: Labels): Sample[] {
  const rows: Sample[] = [];
  const set = inner(labels);
  let acc = 0;
  s.totals.rtHist.forEach((n, i) => {
    acc += n;
    rows.push([`{${set},le="${LE[i]!}"}`, acc, '_bucket']);
  });
  rows.push([`{${set}}`, s.totals.rtUs / 1e6, '_sum'], [`{${set}}`, acc, '_count']);
  return rows;
}

/** A slot's responses by status class (every class, so a rate() over 5xx has a series from the start). */
function classRows(s: SlotView, labels: Labels): Sample[] {
  const set = inner(labels);
  return CLASSES.map((code, i) => [`{${set},code="${code}"}`, s.totals.codes[i] ?? 0] as const);
}

export function renderMetrics(c: StatsCollector, version: string): string {
  const e = new Exposition();
  const workers = c.slotViews('worker');
  const routers = c.slotViews('router');
  const w = (id: number): string => `{worker="${id}"}`;
  e.family('usher_info', 'gauge', 'usher build information (always 1).', [[{ version }, 1]]);
  e.family('usher_uptime_seconds', 'gauge', 'Seconds since the usher master started.', [[{}, (Date.now() - c.startedAt) / 1000]]);
  e.family('usher_start_time_seconds', 'gauge', 'Start time of the usher master, seconds since the Unix epoch.', [[{}, c.startedAt / 1000]]);
  e.family('usher_worker_requests_total', 'counter', 'Requests completed by the worker slot, across its respawns.', workers.map((s) => [w(s.id), s.totals.requests]));
  e.family('usher_worker_exceptions_total', 'counter', 'Requests that ended in an exception in the app.', workers.map((s) => [w(s.id), s.totals.exceptions]));
  e.family('usher_worker_response_bytes_total', 'counter', 'Response body bytes written by the worker slot.', workers.map((s) => [w(s.id), s.totals.tx]));
  e.family('usher_worker_request_duration_seconds', 'histogram', 'Time from a request\'s start to its response\'s end, in the worker.',
    workers.flatMap((s) => histogramRows(s, { worker: s.id })));
  e.family('usher_worker_responses_total', 'counter', 'Responses completed by the worker slot, by status class (code="2xx"...).', workers.flatMap((s) => classRows(s, { worker: s.id })));
  e.family('usher_worker_requests_in_flight', 'gauge', 'Requests being served right now (as of the last heartbeat).', workers.map((s) => [w(s.id), s.inflight]));
  e.family('usher_worker_busy', 'gauge', '1 while the worker has a request in flight, 0 when idle or absent.', workers.map((s) => [w(s.id), s.inflight > 0 ? 1 : 0]));
  e.family('usher_worker_resident_memory_bytes', 'gauge', 'Resident set size of the worker process.', workers.filter((s) => s.memory).map((s) => [w(s.id), s.memory!.rss]));
  e.family('usher_worker_virtual_memory_bytes', 'gauge', 'Virtual memory size of the worker process.', workers.filter((s) => s.memory).map((s) => [w(s.id), s.memory!.vsz]));
  e.family('usher_worker_harakiri_total', 'counter', 'Requests that outlived harakiri (the request cut, or the worker killed and replaced).', workers.map((s) => [w(s.id), s.totals.harakiri]));
  e.family('usher_router_requests_total', 'counter', 'Requests the HTTP router slot forwarded, across its respawns.', routers.map((s) => [{ router: String(s.id) }, s.totals.requests]));
  e.family('usher_router_responses_total', 'counter', 'Responses the HTTP router slot sent to clients, by status class (its own 502/504 included).',
    routers.flatMap((s) => classRows(s, { router: String(s.id) })));
  e.family('usher_router_request_duration_seconds', 'histogram', 'Time from a request\'s arrival at the router to its response\'s end.',
    routers.flatMap((s) => histogramRows(s, { router: String(s.id) })));
  e.family('usher_router_requests_in_flight', 'gauge', 'Requests the HTTP router is forwarding right now.', routers.map((s) => [{ router: String(s.id) }, s.inflight]));
  const states = new Map<string, number>([['starting', 0], ['ready', 0], ['stopping', 0]]);
  for (const s of workers) if (s.child) states.set(s.child.state, (states.get(s.child.state) ?? 0) + 1);
  e.family('usher_workers', 'gauge', 'Worker slots by the state of the process serving them.', [...states].map(([state, n]) => [{ state }, n]));
  e.family('usher_spawns_total', 'counter', 'Child processes started, first spawns included.', [...c.spawnsByRole].map(([role, n]) => [{ role }, n]));
  e.family('usher_child_exits_total', 'counter', 'Child processes that ended, by reason (retired = replaced by a reload; crashed, killed, harakiri, max-requests, unresponsive...).',
    [...c.exits].map(([k, n]) => { const [role, reason] = k.split('\0'); return [{ role: role!, reason: reason! }, n]; }));
  e.family('usher_reloads_total', 'counter', 'Graceful reloads (SIGHUP), by result.', [[{ result: 'ok' }, c.reloads.ok], [{ result: 'failed' }, c.reloads.failed]]);
  const sockets = c.socketViews();
  e.family('usher_listen_queue_length', 'gauge', 'Connections waiting in the kernel accept queue of a socket.', sockets.map((s) => [{ socket: s.name, proto: s.proto }, s.queue]));
  e.family('usher_listen_queue_max', 'gauge', 'Accept queue limit (the listen backlog) of a socket.', sockets.map((s) => [{ socket: s.name, proto: s.proto }, s.max]));
  e.family('usher_listen_queue_full_total', 'counter', 'Once-a-second samples that found a listen queue full (uWSGI\'s listen_queue_errors).', [[{}, c.listenQueueErrors]]);
  return e.text();
}
