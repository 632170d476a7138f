// The master reacts to every way a child ends by table (src/master/exits.ts): a child that cannot start
// stops usher once; a stuck event loop is aborted after heartbeat-timeout and replaced; recycling by
// max-requests is logged by name and never taken for a crash loop; reload-mercy cuts a request that
// outlives it, and says so; SIGQUIT stops at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsher, startUsherReady, tempDir, freePort, childPids, REPO } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (out: string, re: RegExp): string[] => out.split('\n').filter((l) => re.test(l));

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test('a worker that cannot start stops usher once with its reason (no respawn storm)', async () => {
  const tmp = tempDir();
  try {
    const app = join(tmp.dir, 'app.py');
    writeFileSync(app, 'def application(e, s):\n    s("200 OK", [])\n    return [b"ok"]\n');
    // An "interpreter" that exits at once: the worker dies before it is ready.
    const u = startUsher(['--http', '127.0.0.1:0', '--processes', '4', '--wsgi-file', app, '--python', '/bin/false']);
    const exit = await Promise.race([u.exited, sleep(20_000).then(() => ({ code: -1, signal: null }))]);
    if (exit.code === -1) await u.stop('SIGKILL');
    assert.equal(exit.code, 1);
    const out = u.output();
    assert.equal(lines(out, /worker spawned/).length, 1, `one worker tried:\n${out}`);
    assert.equal(lines(out, /could not start: it exited with 1 before it was ready; stopping usher instead of respawning/).length, 1, out);
    assert.match(out, /code=USHER_ERR_WORKER_BOOT/);
  } finally {
    tmp.remove();
  }
});

test('a Node worker whose event loop blocks is aborted after heartbeat-timeout and replaced', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '1', '--heartbeat-timeout', '2', '--app', join(APPS, 'blocker.mjs')]);
  try {
    const [victim] = await childPids(u.pid);
    assert.ok(victim);
    const before = await (await fetch(`http://127.0.0.1:${port}/pid`)).text();
    assert.equal(before, String(victim));
    fetch(`http://127.0.0.1:${port}/block`).catch(() => undefined);
    await u.waitFor(new RegExp(`worker unresponsive \\(no heartbeat\\); sending SIGABRT .*pid=${victim}`), 20_000);
    await u.waitFor(new RegExp(`worker killed: no heartbeat within heartbeat-timeout; respawning .*pid=${victim}.*reason=unresponsive`), 20_000);
    await u.waitFor(/worker spawned id=1 pid=(?!${victim})/, 20_000);
    let after = '';
    for (let i = 0; i < 100 && (after === '' || after === before); i++) {
      try { after = await (await fetch(`http://127.0.0.1:${port}/pid`)).text(); } catch { await sleep(100); }
    }
    assert.notEqual(after, before, 'a new worker answers');
    assert.ok(!alive(victim), 'the stuck worker is gone');
  } finally {
    await u.stop();
  }
});

test('max-requests: workers recycle by name under load, replaced at once, never backed off, no request fails', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--max-requests', '25', '--app', join(APPS, 'echo.mjs')]);
  try {
    let ok = 0;
    const failed: string[] = [];
    const pids = new Set<string>();
    // 4 clients, 100 requests each: every worker recycles several times while requests keep coming.
    await Promise.all([0, 1, 2, 3].map(async () => {
      for (let i = 0; i < 100; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/pid`);
          if (res.status === 200) { ok++; pids.add(await res.text()); } else failed.push(String(res.status));
        } catch (err) {
          failed.push((err as Error).message);
        }
      }
    }));
    assert.deepEqual(failed, [], 'no request failed');
    assert.equal(ok, 400);
    const out = u.output();
    assert.ok(lines(out, /worker is recycling itself; starting its replacement .*reason=max-requests/).length >= 6, out);
    assert.ok(lines(out, /worker recycled \(max-requests\)/).length >= 6, out);
    assert.equal(lines(out, /dying right after start|died; respawning/).length, 0, 'recycling is not a crash');
    assert.ok(pids.size >= 8, `many worker generations served (${pids.size})`);
    assert.equal((await childPids(u.pid)).length >= 2, true, 'both slots are filled');
  } finally {
    await u.stop();
  }
});

test('reload-mercy: a request that outlives it is cut on reload, the log says so, new workers serve', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '1', '--reload-mercy', '1', '--app', join(APPS, 'echo.mjs')]);
  try {
    const [old] = await childPids(u.pid);
    const slow = fetch(`http://127.0.0.1:${port}/slow?ms=8000`).then((r) => r.status, () => 'cut');
    await sleep(300);
    process.kill(u.pid, 'SIGHUP');
    await u.waitFor(/reload complete generation=2/);
    await u.waitFor(new RegExp(`worker did not finish within reload-mercy; killing it .*pid=${old}.*mercy_s=1`), 10_000);
    assert.equal(await slow, 'cut', 'the request outliving reload-mercy was cut');
    const pid = await (await fetch(`http://127.0.0.1:${port}/pid`)).text();
    assert.notEqual(pid, String(old));
  } finally {
    await u.stop();
  }
});

test('SIGQUIT stops at once: in-flight requests are cut and no child survives', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs')]);
  const kids = await childPids(u.pid);
  assert.equal(kids.length, 2);
  const slow = fetch(`http://127.0.0.1:${port}/slow?ms=20000`).then((r) => r.status, () => 'cut');
  await sleep(300);
  const t0 = Date.now();
  const exit = await u.stop('SIGQUIT', 30_000);
  assert.ok(Date.now() - t0 < 10_000, 'did not wait for the 20 s request');
  assert.equal(exit.code, 0);
  assert.equal(await slow, 'cut');
  assert.match(u.output(), /stopping reason=SIGQUIT/);
  for (const k of kids) assert.ok(!alive(k), `child ${k} is gone`);
});

test('a Python request outliving harakiri: the log names the request and harakiri, the worker is replaced, the next request is served', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--harakiri', '1', '--wsgi-file', join(APPS, 'wsgi_runner.py'), '--python', '/usr/bin/python3']);
  try {
    const [victim] = await childPids(u.pid);
    const slow = uwsgiRequest(sock, 'GET', '/sleep/10').then((r) => r.status, () => 'cut');
    await u.waitFor(/harakiri: request took too long; killing this worker method=GET uri=\/sleep\/10/, 15_000);
    await u.waitFor(new RegExp(`worker harakiri: a request outlived \`harakiri\`.* pid=${victim}.*reason=harakiri`), 15_000);
    assert.notEqual(await slow, 200, 'the request was cut, not answered');
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await uwsgiRequest(sock, 'GET', '/').then((r) => r.status, () => 0);
      if (status !== 200) await sleep(100);
    }
    assert.equal(status, 200, 'the replacement serves');
    assert.doesNotMatch(u.output(), /dying right after start/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});
