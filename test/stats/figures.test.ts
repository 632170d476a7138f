// The stats figures are real: requests grow by exactly the number sent, bytes and response times
// follow, an app exception is counted, a worker is `busy` while a slow request runs, RSS comes from
// /proc, and the listen queue is the kernel's (connections waiting while the only worker is stuck),
// on TCP and unix sockets. The request figures come from the workers' heartbeat counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { REPO, freePort, startUsherReady, tempDir } from '../helpers/usher.js';
import { readStats, waitForStats } from '../helpers/stats.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');

interface Worker {
  id: number; pid: number; requests: number; delta_requests: number; exceptions: number; status: string; tx: number; avg_rt: number;
  running_time: number; rss: number; vsz: number; respawn_count: number;
  apps: { requests: number }[]; cores: { in_request: number; req_info: { request_start?: number } }[];
}
interface Doc { listen_queue: number; sockets: { name: string; queue: number; max_queue: number }[]; workers: Worker[] }

const stats = async (addr: string): Promise<Doc> => JSON.parse(await readStats(addr)) as Doc;
const sum = (d: Doc, f: (w: Worker) => number): number => d.workers.reduce((s, w) => s + f(w), 0);

test('requests grow by exactly the number sent; bytes, response times and exceptions follow', async () => {
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const addr = `127.0.0.1:${sport}`;
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs'), '--stats', addr]);
  try {
    const idle = await waitForStats(() => stats(addr), (d) => d.workers.every((w) => w.pid > 0 && w.rss > 0), 'both workers with their RSS');
    assert.equal(sum(idle, (w) => w.requests), 0);
    for (const w of idle.workers) {
      assert.ok(w.vsz >= w.rss, 'virtual size is at least the resident size');
      assert.ok(w.rss > 10 * 1024 * 1024 && w.rss < 2 * 1024 * 1024 * 1024, `RSS of a Node worker in bytes (${w.rss})`);
    }
    const SENT = 7;
    let bodyBytes = 0;
    for (let i = 0; i < SENT; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/pid`);
      assert.equal(res.status, 200);
      bodyBytes += Buffer.byteLength(await res.text());
    }
    const after = await waitForStats(() => stats(addr), (d) => sum(d, (w) => w.requests) >= SENT, `${SENT} requests counted`);
    assert.equal(sum(after, (w) => w.requests), SENT, 'exactly the requests sent');
    assert.equal(sum(after, (w) => w.delta_requests), SENT, 'the current processes served them all');
    assert.equal(sum(after, (w) => w.apps[0]!.requests), SENT);
    assert.equal(sum(after, (w) => w.tx), bodyBytes, 'tx: response body bytes');
    assert.ok(sum(after, (w) => w.running_time) > 0, 'running_time: µs spent in requests');
    assert.ok(after.workers.some((w) => w.requests > 0 && w.avg_rt > 0), 'avg_rt of a worker that served');
    assert.equal(sum(after, (w) => w.exceptions), 0);

    const thrown = await fetch(`http://127.0.0.1:${port}/throw`);
    assert.equal(thrown.status, 500);
    await thrown.text();
    const withError = await waitForStats(() => stats(addr), (d) => sum(d, (w) => w.exceptions) >= 1, 'the exception counted');
    assert.equal(sum(withError, (w) => w.exceptions), 1);
  } finally {
    await u.stop();
  }
});

test('a worker is busy while a slow request runs, with its start time, and idle again after', async () => {
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const addr = `127.0.0.1:${sport}`;
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs'), '--stats', addr]);
  try {
    const before = await waitForStats(() => stats(addr), (d) => d.workers.every((w) => w.pid > 0), 'both workers');
    assert.ok(before.workers.every((w) => w.status === 'idle'));
    const started = Date.now();
    const slow = fetch(`http://127.0.0.1:${port}/slow?ms=6000`).then((r) => r.text());
    const busy = await waitForStats(() => stats(addr), (d) => d.workers.some((w) => w.status === 'busy'), 'a busy worker');
    const w = busy.workers.find((x) => x.status === 'busy')!;
    assert.equal(busy.workers.filter((x) => x.status === 'busy').length, 1, 'one request, one busy worker');
    assert.equal(w.cores[0]!.in_request, 1);
    const reqStart = w.cores[0]!.req_info.request_start!;
    assert.ok(Math.abs(reqStart - started / 1000) < 5, `request_start is when the request began (${reqStart} vs ${started / 1000})`);
    assert.equal(await slow, 'slept 6000\n');
    await waitForStats(() => stats(addr), (d) => d.workers.every((x) => x.status === 'idle') && sum(d, (x) => x.requests) === 1, 'idle again, one request counted');
  } finally {
    await u.stop();
  }
});

test('listen_queue is the kernel accept queue: connections wait while the only worker is stuck (TCP and unix socket)', async () => {
  const tmp = tempDir();
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const addr = `127.0.0.1:${sport}`;
  const path = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--socket', path, '--processes', '1', '--app', join(APPS, 'blocker.mjs'),
    '--stats', addr, '--reload-mercy', '1', '--listen', '64']);
  const conns: net.Socket[] = [];
  try {
    const idle = await waitForStats(() => stats(addr), (d) => d.workers[0]!.pid > 0, 'the worker');
    assert.equal(idle.listen_queue, 0);
    assert.deepEqual(idle.sockets.map((s) => [s.name, s.queue, s.max_queue]), [[`127.0.0.1:${port}`, 0, 64], [path, 0, 64]]);
    // The worker spins forever: it accepts nothing more, so new connections wait in the kernel.
    const stuck = net.connect(port, '127.0.0.1');
    stuck.on('error', () => undefined);
    stuck.write('GET /block HTTP/1.1\r\nHost: x\r\n\r\n');
    conns.push(stuck);
    await new Promise((r) => setTimeout(r, 300)); // let the worker take /block before the others queue
    for (let i = 0; i < 5; i++) {
      for (const c of [net.connect(port, '127.0.0.1'), net.connect(path)]) {
        c.on('error', () => undefined);
        conns.push(c);
      }
    }
    const queued = await waitForStats(() => stats(addr), (d) => d.sockets.every((s) => s.queue >= 5), 'five connections queued on each socket');
    assert.deepEqual(queued.sockets.map((s) => s.queue), [5, 5]);
    assert.equal(queued.listen_queue, 5, 'the deepest queue, as uWSGI reports it');
  } finally {
    for (const c of conns) c.destroy();
    await u.stop();
    tmp.remove();
  }
});

test('Python workers: requests through the uwsgi protocol grow by exactly the number sent (the ini compared with uWSGI)', async () => {
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const addr = `127.0.0.1:${sport}`;
  const u = await startUsherReady(['--socket', `127.0.0.1:${port}`, '--processes', '2', '--wsgi-file', join(REPO, 'bench', 'apps', 'hello_wsgi.py'), '--stats', addr]);
  try {
    await waitForStats(() => stats(addr), (d) => d.workers.every((w) => w.pid > 0), 'both Python workers');
    const SENT = 5;
    for (let i = 0; i < SENT; i++) {
      const r = await uwsgiRequest(`127.0.0.1:${port}`, 'GET', '/');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'Hello, world!\n');
    }
    const after = await waitForStats(() => stats(addr), (d) => sum(d, (w) => w.requests) >= SENT, `${SENT} Python requests counted`);
    assert.equal(sum(after, (w) => w.requests), SENT);
    assert.equal(sum(after, (w) => w.tx), SENT * 14, 'tx: 14 body bytes per answer');
    assert.ok(sum(after, (w) => w.running_time) > 0);
  } finally {
    await u.stop();
  }
});
