// usher's HTTP router in front of Python workers: a request that killed its worker is answered, not
// replayed on the next worker; work reaches a replacement worker as soon as it serves; http-timeout
// closes idle client connections and answers 504 for a worker that stays silent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsher, startUsherReady, freePort, childPids, tempDir, REPO } from '../helpers/usher.js';
import { CONTRACT_VERSION, SPEC_ENV, type ChildCounters, type RouterSpec } from '../../src/ipc.js';

const APP = join(REPO, 'test', 'fixtures', 'apps', 'wsgi_router.py');
const ROUTER_MAIN = join(REPO, 'dist', 'src', 'router', 'main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

async function waitUntil(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The Python workers: the master's children, or the fork-server's (the master's grandchildren). */
async function workerPids(masterPid: number): Promise<number[]> {
  const kids = await childPids(masterPid);
  const all = [...kids, ...(await Promise.all(kids.map((k) => childPids(k)))).flat()];
  return all.filter((p) => {
    try { return /usher worker|usher_wsgi\/__main__/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8')) && !/fork-server/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8')); } catch { return false; }
  });
}

test('router: a request that outlives harakiri kills one worker and is answered, never replayed on another', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--wsgi-file', APP, '--processes', '2', '--harakiri', '2']);
  try {
    // kept connections to the workers first: the slow request goes out on a reused one
    await Promise.all([1, 2, 3, 4].map(async () => (await fetch(`http://127.0.0.1:${port}/pid`)).text()));
    const t0 = Date.now();
    const r = await fetch(`http://127.0.0.1:${port}/sleep/10`, { signal: AbortSignal.timeout(30_000) });
    const elapsed = (Date.now() - t0) / 1000;
    await r.text();
    assert.ok(r.status === 502 || r.status === 504, `status ${r.status}`);
    // harakiri 2 s, checked every second: the answer comes with the first kill (a replay would add 2-3 s per worker)
    assert.ok(elapsed < 4.5, `answered after ${elapsed.toFixed(1)} s`);
    await u.waitFor(/worker harakiri: a request outlived `harakiri`/);
    const next = await fetch(`http://127.0.0.1:${port}/pid`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(next.status, 200, 'the next request is served');
    await next.text();
    assert.equal(count(u.output(), /harakiri: request took too long/), 1, `exactly one worker killed:\n${u.output()}`);
    assert.equal(count(u.output(), /worker harakiri: a request outlived/), 1);
  } finally {
    await u.stop();
  }
});

test('router: a kept connection closed by a retiring worker is retried: max-requests = 3 fails no request', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--wsgi-file', APP, '--processes', '2', '--max-requests', '3', '--disable-logging']);
  try {
    const failures: string[] = [];
    await Promise.all([1, 2, 3].map(async () => {
      for (let i = 0; i < 60; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/pid`);
        await r.text();
        if (r.status !== 200) failures.push(String(r.status));
      }
    }));
    assert.deepEqual(failures, []);
    assert.ok(count(u.output(), /worker (exited|retired|recycled)/) >= 10, 'workers did retire under the requests');
  } finally {
    await u.stop();
  }
});

test('router: after a worker is killed, its replacement gets a fair share of the work once it serves', async () => {
  const port = await freePort();
  const ready = tempDir();
  const base = `http://127.0.0.1:${port}`;
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--wsgi-file', APP, '--processes', '2', '--disable-logging'],
    { env: { USHER_TEST_READY_DIR: ready.dir } });
  const run = async (clients: number, each: number, path: string): Promise<string[]> => {
    const served: string[] = [];
    await Promise.all(Array.from({ length: clients }, async () => {
      for (let i = 0; i < each; i++) {
        const r = await fetch(`${base}${path}`);
        assert.equal(r.status, 200);
        served.push(await r.text());
      }
    }));
    return served;
  };
  try {
    // Many concurrent requests: the router keeps connections to both workers.
    await run(8, 20, '/pid');
    const [victim, survivor] = await workerPids(u.pid);
    assert.ok(victim !== undefined && survivor !== undefined);
    process.kill(victim, 'SIGKILL');
    await u.waitFor(/worker died; respawning/);
    let replacement: number | undefined;
    await waitUntil('the replacement worker to load the app', async () => {
      replacement = (await workerPids(u.pid)).find((p) => p !== survivor && p !== victim);
      // Forked from the fork-server, it imports nothing itself: its `worker ready` line says it serves.
      return replacement !== undefined && new RegExp(`worker ready id=\\d+ pid=${replacement}`).test(u.output());
    });
    // Fewer concurrent requests than the survivor's kept connections, for a few seconds.
    const pids = await run(2, 150, '/sleep/0.02');
    const share = pids.filter((p) => p === String(replacement)).length / pids.length;
    console.log(`# replacement share: ${(share * 100).toFixed(0)}% of ${pids.length}`);
    assert.ok(share >= 0.2, `the replacement served ${(share * 100).toFixed(0)}% of ${pids.length} requests`);
  } finally {
    await u.stop();
    ready.remove();
  }
});

/** A router process on its own (as the master starts it), with `spec` overrides, in front of `upstream`. */
interface RouterProc { port: number; output: () => string; heartbeats: ChildCounters[]; stop: () => Promise<void> }

async function startRouter(upstream: string, extra: Record<string, unknown>): Promise<RouterProc> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
  const spec: RouterSpec & Record<string, unknown> = { contract: CONTRACT_VERSION, id: 1, fds: [4], listen: 100, upstream, bufferSize: 4096, disableLogging: false, heartbeatMs: 500, httpTimeout: 60, static: null, readyPath: null, limitPost: 0, ...extra };
  const proc = spawn(process.execPath, [ROUTER_MAIN], { stdio: ['ignore', 'pipe', 'pipe', 'ipc', fd], env: { ...process.env, [SPEC_ENV.router]: JSON.stringify(spec) } });
  let out = '';
  const heartbeats: ChildCounters[] = [];
  proc.on('message', (m: { type?: string; counters?: ChildCounters }) => { if (m.type === 'heartbeat' && m.counters) heartbeats.push(m.counters); });
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    proc.on('message', (m: { type?: string }) => { if (m.type === 'ready') resolve(); });
    proc.once('exit', (code) => reject(new Error(`router exited ${code}: ${out}`)));
  });
  listener.close();
  return {
    port,
    output: () => out,
    heartbeats,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    },
  };
}

/** Connect, optionally send `bytes`, and resolve with how long the router took to close the connection. */
function closedAfter(port: number, bytes?: string): Promise<{ ms: number; data: string }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let data = '';
    const s = net.connect(port, '127.0.0.1', () => { if (bytes !== undefined) s.write(bytes); });
    s.setEncoding('utf8');
    s.on('data', (d: string) => { data += d; });
    s.on('error', () => { /* a reset is a close too */ });
    s.on('close', () => resolve({ ms: Date.now() - t0, data }));
    setTimeout(() => { s.destroy(); reject(new Error('the router did not close the idle connection within 20 s')); }, 20_000).unref();
  });
}

test('router: http-timeout closes idle client connections and answers 504 for a silent worker', async () => {
  const dir = tempDir();
  const sock = join(dir.dir, 'app.sock');
  const app = await startUsherReady(['--socket', sock, '--wsgi-file', APP, '--processes', '1']);
  const router = await startRouter(sock, { httpTimeout: 2 });
  try {
    // nothing sent at all; then half a request head; then idle after one answered request
    for (const bytes of [undefined, 'GET /pid HTTP/1.1\r\nHost: x\r\n', 'GET /pid HTTP/1.1\r\nHost: x\r\n\r\n']) {
      const { ms, data } = await closedAfter(router.port, bytes);
      assert.ok(ms >= 1500, `closed after ${ms} ms: not before http-timeout`);
      if (bytes?.endsWith('\r\n\r\n')) assert.match(data, /^HTTP\/1\.1 200/, 'the request was answered first');
    }
    const r = await fetch(`http://127.0.0.1:${router.port}/sleep/5`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(r.status, 504, 'a worker silent for http-timeout: 504');
    assert.match(router.output(), /worker sent nothing within http-timeout/);
  } finally {
    await router.stop();
    await app.stop();
    dir.remove();
  }
});

test('router: its heartbeat carries live counters (requests, bytes, time, requests in flight)', async () => {
  const dir = tempDir();
  const sock = join(dir.dir, 'app.sock');
  const app = await startUsherReady(['--socket', sock, '--wsgi-file', APP, '--processes', '2', '--disable-logging']);
  const router = await startRouter(sock, { httpTimeout: 60 });
  try {
    let bytes = 0;
    for (let i = 0; i < 3; i++) bytes += (await (await fetch(`http://127.0.0.1:${router.port}/pid`)).arrayBuffer()).byteLength;
    const t0 = Date.now();
    const slow = fetch(`http://127.0.0.1:${router.port}/sleep/7`).then((r) => r.text());
    await waitUntil('a heartbeat with the slow request in flight', () => router.heartbeats.some((c) => c.inflight === 1), 15_000);
    const busy = router.heartbeats.find((c) => c.inflight === 1) as ChildCounters;
    assert.ok(busy.oldest >= t0 - 1000 && busy.oldest <= Date.now(), `oldest=${busy.oldest} is when the slow request started`);
    assert.equal(busy.requests, 3);
    assert.equal(busy.tx, bytes, 'tx counts the response bodies');
    assert.ok(busy.rtUs > 0);
    await slow;
    await waitUntil('a heartbeat with the slow request done', () => router.heartbeats.some((c) => c.requests === 4 && c.inflight === 0 && c.oldest === 0), 15_000);
  } finally {
    await router.stop();
    await app.stop();
    dir.remove();
  }
});

test('usher --http-timeout reaches the router', async () => {
  const port = await freePort();
  const u = startUsher(['--http', `127.0.0.1:${port}`, '--wsgi-file', APP, '--http-timeout', '2']);
  try {
    await u.waitFor(/master: ready/, 30_000);
    const { ms } = await closedAfter(port);
    assert.ok(ms >= 1500 && ms < 15_000, `closed after ${ms} ms`);
  } finally {
    await u.stop();
  }
});
