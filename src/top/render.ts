/**
 * top/render: one screen of `usher top` from a uWSGI-style stats document (usher's or a real
 * uWSGI's): a summary line (total requests, req/s, listen queue, bytes sent) and one row per worker
 * (share of requests, pid, requests, req/s, exceptions, status, mean response time, RSS, VSZ, bytes,
 * respawns, harakiri, last spawn). Req/s come from the previous document.
 * Must not: touch the terminal (top/index does), or assume usher: only uWSGI's fields are read.
 */

interface Worker {
  id: number; pid: number; requests: number; exceptions: number; status: string; avg_rt: number;
  rss: number; vsz: number; tx: number; respawn_count: number; harakiri_count: number; last_spawn: number;
}

export interface Doc {
  version: string; listen_queue: number; pid: number; workers: Worker[];
}

export interface Previous { readonly at: number; readonly doc: Doc }

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Read a stats document defensively: a missing or odd field shows as 0, never a crash. */
export function toDoc(raw: unknown): Doc {
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const workers = Array.isArray(o.workers) ? o.workers : [];
  return {
    version: str(o.version), listen_queue: num(o.listen_queue), pid: num(o.pid),
    workers: workers.map((w: Record<string, unknown>) => ({
      id: num(w.id), pid: num(w.pid), requests: num(w.requests), exceptions: num(w.exceptions), status: str(w.status), avg_rt: num(w.avg_rt),
      rss: num(w.rss), vsz: num(w.vsz), tx: num(w.tx), respawn_count: num(w.respawn_count), harakiri_count: num(w.harakiri_count), last_spawn: num(w.last_spawn),
    })),
  };
}

export function human(n: number): string {
  const units = ['', 'K', 'M', 'G', 'T'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? String(Math.round(n)) : `${n.toFixed(n < 10 ? 1 : 0)}${units[i]}`;
}

function time(epochS: number): string {
  if (epochS <= 0) return '-';
  return new Date(epochS * 1000).toTimeString().slice(0, 8);
}

const COLUMNS: readonly [string, number][] = [['WID', 4], ['%', 5], ['PID', 8], ['REQ', 9], ['RPS', 7], ['EXC', 5], ['STATUS', 7], ['AVG', 9], ['RSS', 7], ['VSZ', 7], ['TX', 7], ['RESPAWN', 8], ['HARAKIRI', 9], ['LASTSPAWN', 10]];

function row(cells: readonly string[]): string {
  return cells.map((c, i) => (i === 6 ? c.padEnd(COLUMNS[i]![1]) : c.padStart(COLUMNS[i]![1]))).join(' ');
}

/** The screen as lines (no colours: top/index adds them); `width` clips long lines. */
export function renderScreen(addr: string, doc: Doc, now: number, prev: Previous | undefined, width: number): string[] {
  const total = doc.workers.reduce((s, w) => s + w.requests, 0);
  const dt = prev !== undefined ? (now - prev.at) / 1000 : 0;
  const rps = (w: Worker): number => {
    const before = prev?.doc.workers.find((p) => p.id === w.id);
    if (before === undefined || dt <= 0 || w.requests < before.requests) return 0;
    return (w.requests - before.requests) / dt;
  };
  const totalRps = doc.workers.reduce((s, w) => s + rps(w), 0);
  const tx = doc.workers.reduce((s, w) => s + w.tx, 0);
  const lines = [
    `usher top - ${addr} - ${doc.version || 'unknown'} - master pid ${doc.pid} - ${new Date(now).toTimeString().slice(0, 8)}`,
    `req: ${total} - RPS: ${Math.round(totalRps)} - lq: ${doc.listen_queue} - tx: ${human(tx)} - workers: ${doc.workers.length} (${doc.workers.filter((w) => w.status === 'busy').length} busy)`,
    '',
    row(COLUMNS.map(([name]) => name)),
  ];
  const sorted = [...doc.workers].sort((a, b) => b.requests - a.requests || a.id - b.id);
  for (const w of sorted) {
    lines.push(row([
      String(w.id), total > 0 ? (100 * w.requests / total).toFixed(1) : '0.0', String(w.pid), String(w.requests), rps(w).toFixed(rps(w) < 10 ? 1 : 0),
      String(w.exceptions), w.status, `${(w.avg_rt / 1000).toFixed(2)}ms`, human(w.rss), human(w.vsz), human(w.tx), String(w.respawn_count),
      String(w.harakiri_count), time(w.last_spawn),
    ]));
  }
  return lines.map((l) => (l.length > width ? l.slice(0, width) : l));
}
