/**
 * test/helpers/stats: read a stats address the way uwsgitop does (connect, read to EOF), ask the
 * stats-http server with a chosen Accept header, compare JSON shapes, and wait for a condition on
 * the stats (heartbeats refresh them once a second).
 */
import net from 'node:net';
import http from 'node:http';
import { spawn } from 'node:child_process';

/** The raw bytes a plain stats server writes on connect (TCP `host:port` or a unix path). */
export function readStats(addr: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const m = /^(.*):(\d+)$/.exec(addr);
    const sock = m ? net.connect(Number(m[2]), m[1]) : net.connect(addr);
    const chunks: Buffer[] = [];
    sock.setTimeout(10_000, () => sock.destroy(new Error('stats read timed out')));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', reject);
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export interface HttpAnswer { status: number; headers: http.IncomingHttpHeaders; body: string }

export function httpGet(url: string, opts: { accept?: string; method?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.accept ? { Accept: opts.accept } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

type Shape = string | { [k: string]: Shape } | Shape[];

/** Names, types and nesting of a JSON value (arrays: the shape of their first element). */
export function shapeOf(v: unknown): Shape {
  if (Array.isArray(v)) return v.length === 0 ? [] : [shapeOf(v[0])];
  if (v === null) return 'null';
  if (typeof v === 'object') {
    const out: Record<string, Shape> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = shapeOf(x);
    return out;
  }
  return typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v;
}

/**
 * Every difference between two shapes, as paths ("workers[].cores[].in_request: integer vs string").
 * An empty array on either side matches any array (no element to compare).
 */
export function shapeDiff(a: Shape, b: Shape, path = ''): string[] {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return [`${path || '.'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
    if (a.length === 0 || b.length === 0) return [];
    return shapeDiff(a[0]!, b[0]!, `${path}[]`);
  }
  if (typeof a === 'string' || typeof b === 'string') return a === b ? [] : [`${path || '.'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!(k in a)) out.push(`${path}.${k}: missing on the left`);
    else if (!(k in b)) out.push(`${path}.${k}: missing on the right`);
    else out.push(...shapeDiff(a[k]!, b[k]!, `${path}.${k}`));
  }
  return out;
}

/** Poll `read` until `ok` holds (stats refresh with heartbeats); the last value on timeout, in the error. */
export async function waitForStats<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < until) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)} ${lastErr ? String(lastErr) : ''}`);
}

/** Run a command, with optional stdin; resolves with its exit code and output. */
export function run(cmd: string, args: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.on('error', () => undefined); // a command that exits without reading its input
    p.stdin.end(input ?? '');
  });
}

/** Start Debian's uWSGI on an ini; resolves once its stats address answers with every worker spawned. */
export async function startUwsgi(ini: string, statsAddr: string, workers: number): Promise<{ stop(): Promise<void>; log(): string }> {
  const p = spawn('uwsgi', ['--ini', ini], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGINT');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  try {
    await waitForStats(async () => JSON.parse(await readStats(statsAddr)) as { workers: { pid: number }[] },
      (d) => d.workers.length === workers && d.workers.every((w) => w.pid > 0), 'uWSGI workers in its stats', 20_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\nuWSGI log:\n${out}`);
  }
  return { stop, log: () => out };
}
