// The master's promises: a killed worker is replaced while requests keep succeeding; SIGHUP reloads
// with zero failed requests; SIGTERM lets in-flight requests finish and exits 0; an app that cannot
// load stops usher (exit 1) instead of respawning forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsher, startUsherReady, tempDir, freePort, childPids, REPO } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Send requests back to back until `until` resolves; count outcomes. */
async function loop(send: () => Promise<{ ok: boolean; pid?: string }>, until: Promise<unknown>): Promise<{ ok: number; failed: string[]; pids: Set<string> }> {
  let done = false;
  void until.then(() => { done = true; });
  const r = { ok: 0, failed: [] as string[], pids: new Set<string>() };
  while (!done) {
    try {
      const x = await send();
      if (x.ok) r.ok++; else r.failed.push('status');
      if (x.pid) r.pids.add(x.pid);
    } catch (err) {
      r.failed.push((err as Error).message);
    }
  }
  return r;
}

test('kill -9 of a worker: it is replaced and requests keep succeeding', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs')]);
  try {
    const before = await childPids(u.pid);
    assert.equal(before.length, 2);
    const victim = before[0]!;
    const stopAt = sleep(2500);
    const client = loop(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/pid`);
      return { ok: res.status === 200, pid: await res.text() };
    }, stopAt);
    await sleep(300);
    process.kill(victim, 'SIGKILL');
    await u.waitFor(new RegExp(`worker died; respawning .*pid=${victim}.*signal=SIGKILL`));
    const r = await client;
    // Requests on the killed worker's own connections can fail; afterwards everything succeeds.
    assert.ok(r.ok > 20, `requests kept succeeding (${r.ok} ok)`);
    await sleep(500);
    const after = await childPids(u.pid);
    assert.equal(after.length, 2);
    assert.ok(!after.includes(victim));
    const res = await fetch(`http://127.0.0.1:${port}/pid`);
    assert.equal(res.status, 200);
  } finally {
    await u.stop();
  }
});

test('SIGHUP while a keep-alive client sends requests in a loop (http): zero failed requests, new workers serve', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs'), '--disable-logging']);
  try {
    const oldPids = new Set((await childPids(u.pid)).map(String));
    const reloaded = u.waitFor(/reload complete/, 20_000).then(() => sleep(800));
    const client = loop(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/pid`);
      return { ok: res.status === 200, pid: await res.text() };
    }, reloaded);
    await sleep(300);
    process.kill(u.pid, 'SIGHUP');
    const r = await client;
    assert.deepEqual(r.failed, []);
    assert.ok(r.ok > 20);
    const served = [...r.pids];
    assert.ok(served.some((p) => oldPids.has(p)), 'old workers served before the reload');
    assert.ok(served.some((p) => !oldPids.has(p)), 'new workers served after the reload');
  } finally {
    await u.stop();
  }
});

test('SIGHUP while a proxy-like client sends uwsgi requests: zero failed requests', async () => {
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '2', '--app', join(APPS, 'echo.mjs'), '--disable-logging']);
  try {
    const reloaded = u.waitFor(/reload complete/, 20_000).then(() => sleep(800));
    const client = loop(async () => {
      const res = await uwsgiRequest(sock, 'GET', '/pid');
      return { ok: res.status === 200, pid: res.body.toString() };
    }, reloaded);
    await sleep(300);
    process.kill(u.pid, 'SIGHUP');
    const r = await client;
    assert.deepEqual(r.failed, []);
    assert.ok(r.pids.size >= 3, 'both generations served');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('SIGTERM: the in-flight request completes and usher exits 0', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs')]);
  const pending = fetch(`http://127.0.0.1:${port}/slow?ms=1500`).then(async (r) => ({ status: r.status, text: await r.text() }));
  await sleep(300);
  const exit = await u.stop('SIGTERM');
  const res = await pending;
  assert.equal(res.status, 200);
  assert.equal(res.text, 'slept 1500\n');
  assert.equal(exit.code, 0);
  assert.match(u.output(), /stopping gracefully/);
});

test('an app that cannot load stops usher with its error (exit 1), no respawn storm', async () => {
  const port = await freePort();
  const u = startUsher(['--http-socket', `127.0.0.1:${port}`, '--processes', '4', '--app', join(APPS, 'broken.mjs')]);
  const exit = await Promise.race([u.exited, sleep(20_000).then(() => ({ code: -1, signal: null }))]);
  if (exit.code === -1) await u.stop('SIGKILL');
  assert.equal(exit.code, 1);
  const out = u.output();
  assert.match(out, /this app is broken on purpose/);
  assert.match(out, /could not be loaded; stopping usher/);
  // Worker 1 loads the app alone first, so a broken app fails once, not in all four workers.
  assert.equal(out.split('\n').filter((l) => /worker spawned/.test(l)).length, 1, 'one worker tried, no respawns');
  assert.equal(out.split('\n').filter((l) => /app could not be loaded error=/.test(l)).length, 1, 'the error once');
});

test('SIGHUP onto an app that no longer loads: one new worker tries, the old workers keep serving', async () => {
  const tmp = tempDir();
  const marker = join(tmp.dir, 'broken');
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '3', '--app', join(APPS, 'breakable.mjs')], { env: { BREAK_MARKER: marker } });
  try {
    const before = new Set((await childPids(u.pid)).map(String));
    assert.equal(before.size, 3);
    writeFileSync(marker, 'x');
    process.kill(u.pid, 'SIGHUP');
    await u.waitFor(/reload failed: the app could not be loaded; the previous workers keep serving/);
    const out = u.output();
    assert.equal(out.split('\n').filter((l) => /worker spawned .*generation=2/.test(l)).length, 1, 'only the first new worker tried');
    assert.equal(out.split('\n').filter((l) => /the new release is broken/.test(l) && /ERROR/.test(l)).length, 1, 'the error once');
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(res.status, 200);
      assert.ok(before.has(await res.text()), 'answered by an old worker');
    }
    // Fixed: the next reload goes through.
    rmSync(marker);
    process.kill(u.pid, 'SIGHUP');
    await u.waitFor(/reload complete generation=2/);
    const t0 = Date.now();
    while (u.output().split('\n').filter((l) => /worker retired/.test(l)).length < 3 && Date.now() - t0 < 10_000) await sleep(50);
    const after = (await childPids(u.pid)).map(String);
    assert.equal(after.length, 3);
    assert.ok(after.every((p) => !before.has(p)), 'all workers replaced');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('missing app file: a clear message naming the path, exit 1', async () => {
  const u = startUsher(['--http-socket', '127.0.0.1:0', '--app', '/nonexistent/app.mjs']);
  const exit = await u.exited;
  assert.equal(exit.code, 1);
  assert.match(u.output(), /app file not found: \/nonexistent\/app\.mjs/);
  assert.doesNotMatch(u.output(), /^\s+at /m, 'no stack trace');
});
