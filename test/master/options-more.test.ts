// More master options honoured end to end, each with the log line an operator would look for:
// max-requests-delta staggers recycling per worker id, cheaper-initial/cheaper-step size the adaptive
// pool, cheaper-algo other than spare is refused, touch-workers-reload reloads, reload-on-as and
// evil-reload-on-as act on the address space, http-processes starts that many routers, and
// harakiri-graceful-signal is the signal the app receives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsher, startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const PY = '/usr/bin/python3';
const lines = (out: string, re: RegExp): string[] => out.split('\n').filter((l) => re.test(l));

/** One GET on a connection of its own, so the kernel spreads them over the workers. */
function getOnce(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path, agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); }).on('error', reject);
  });
}

/** The pid of the worker that answers a new connection. */
function pidOnce(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path: '/pid', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('max-requests-delta: worker N recycles after max-requests + (N - 1) × delta requests', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--max-requests', '5', '--max-requests-delta', '5',
    '--app', join(APPS, 'echo.mjs')]);
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 60 && (lines(u.output(), /recycling itself.* id=1 /).length === 0 || lines(u.output(), /recycling itself.* id=2 /).length === 0); i++) {
      statuses.push(await getOnce(port, '/pid'));
    }
    await u.waitFor(/worker recycled \(max-requests\) id=2/, 20_000);
    const out = u.output();
    assert.ok(lines(out, /recycling itself.* id=1 .*detail="5 requests served"/).length >= 1, out);
    assert.ok(lines(out, /recycling itself.* id=2 .*detail="10 requests served"/).length >= 1, out);
    assert.equal(lines(out, /recycling itself.* id=2 .*detail="5 requests served"/).length, 0, 'worker 2 gets the delta');
    assert.deepEqual(statuses.filter((s) => s !== 200), [], 'no request failed');
  } finally {
    await u.stop();
  }
});

test('cheaper-initial and cheaper-step: the pool starts at cheaper-initial and grows cheaper-step at a time', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '5', '--cheaper', '1', '--cheaper-initial', '2',
    '--cheaper-step', '3', '--cheaper-overload', '1', '--app', join(APPS, 'echo.mjs')]);
  let done = false;
  try {
    assert.equal(lines(u.output(), /worker spawned/).length, 2, 'starts with cheaper-initial = 2 workers');
    // Slow requests from 8 clients, a connection each time (as Nginx's uwsgi_pass), keep both busy.
    const clients = Array.from({ length: 8 }, async () => {
      while (!done) await getOnce(port, '/slow?ms=400').catch(() => 0);
    });
    // The spare algorithm may first retire the idle second worker; either way growth comes 3 at a time.
    await u.waitFor(/cheaper: more workers added=3 workers=[45]/, 60_000);
    done = true;
    await Promise.all(clients);
  } finally {
    done = true;
    await u.stop();
  }
});

test('cheaper-algo other than spare is refused at startup with the option named, nothing started', async () => {
  const port = await freePort();
  const u = startUsher(['--http-socket', `127.0.0.1:${port}`, '--processes', '4', '--cheaper', '1', '--cheaper-algo', 'backlog', '--app', join(APPS, 'echo.mjs')]);
  const exit = await u.exited;
  assert.notEqual(exit.code, 0);
  assert.match(u.output(), /cheaper-algo = backlog: usher has only `spare`/);
  assert.doesNotMatch(u.output(), /worker spawned/);
});

test('touch-workers-reload: touching the file reloads the workers gracefully', async () => {
  const tmp = tempDir();
  const marker = join(tmp.dir, 'reload-workers');
  writeFileSync(marker, '');
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--touch-workers-reload', marker, '--app', join(APPS, 'echo.mjs')]);
  try {
    const before = await pidOnce(port);
    const future = new Date(Date.now() + 5000);
    utimesSync(marker, future, future);
    await u.waitFor(/reload requested reason="touch-workers-reload touched/, 20_000);
    await u.waitFor(/reload complete generation=2/, 20_000);
    const after = await pidOnce(port);
    assert.notEqual(after, before, 'a new worker serves');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('reload-on-as: a worker past the address-space limit is recycled gracefully (and not again and again)', async () => {
  const port = await freePort();
  // Node reserves far more than 64 MiB of address space at start: the limit is crossed at once.
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--reload-on-as', '64', '--min-worker-lifetime', '0', '--app', join(APPS, 'echo.mjs')]);
  try {
    await u.waitFor(/recycling worker id=1 pid=\d+ reason=rss detail="address space [\d.]+ MiB ≥ reload-on-as 64 MiB"/, 20_000);
    await u.waitFor(/memory limit is below what a fresh worker uses: not recycling this worker again for a while/, 40_000);
    assert.doesNotMatch(u.output(), /died; respawning/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/pid`)).status, 200);
  } finally {
    await u.stop();
  }
});

test('evil-reload-on-as: a worker past the address-space limit is killed at once and replaced', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--evil-reload-on-as', '64', '--app', join(APPS, 'echo.mjs')]);
  try {
    await u.waitFor(/killing worker .*reason=evil-reload-on-as detail="address space [\d.]+ MiB ≥ 64 MiB"/, 20_000);
    await u.waitFor(/worker died; respawning .*signal=SIGKILL/, 20_000);
  } finally {
    await u.stop();
  }
});

test('http-processes: that many router processes share the http address and serve', async (ctx) => {
  if (!havePython(ctx)) return;
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--http-processes', '3', '--wsgi-file', join(APPS, 'wsgi_signal.py'), '--python', PY],
    { env: { ...process.env, SIGNAL_MARK: '/dev/null' } });
  try {
    const out = u.output();
    assert.deepEqual(lines(out, /router spawned/).map((l) => /id=(\d+)/.exec(l)?.[1]).sort(), ['1', '2', '3']);
    for (let i = 0; i < 20; i++) assert.equal(await getOnce(port, '/'), 200);
  } finally {
    await u.stop();
  }
});

test('harakiri-graceful-signal: the app receives that signal at harakiri, before the worker is replaced', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const mark = join(tmp.dir, 'signals');
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--harakiri', '2', '--harakiri-graceful-timeout', '3',
    '--harakiri-graceful-signal', '12', '--wsgi-file', join(APPS, 'wsgi_signal.py'), '--python', PY], { env: { ...process.env, SIGNAL_MARK: mark } });
  try {
    const stuck = uwsgiRequest(sock, 'GET', '/sleep/30').then((r) => r.status, () => 'cut');
    await u.waitFor(/harakiri: graceful stop first signal=12 seconds=3/, 15_000);
    await u.waitFor(/worker harakiri: a request outlived `harakiri`/, 20_000);
    assert.notEqual(await stuck, 200);
    assert.ok(existsSync(mark), 'the handler ran');
    assert.match(readFileSync(mark, 'utf8'), /^12 \d+\n/, 'SIGUSR2 (12) reached the app');
  } finally {
    await u.stop();
    tmp.remove();
  }
});
