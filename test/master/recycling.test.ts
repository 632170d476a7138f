// Worker limits and reload triggers, driven by the master: touch-reload and touch-chain-reload under
// load (no failed request; during a chain reload the ready workers never drop below `processes`),
// max-worker-lifetime staggered by its delta, reload-on-rss on a leaking app (graceful, no failed
// request), a reload-on-rss below a fresh worker's size (paused, not a respawn storm), and cheaper
// growing the pool under load and shrinking it when idle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir, freePort, REPO, type UsherProc } from '../helpers/usher.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (out: string, re: RegExp): string[] => out.split('\n').filter((l) => re.test(l));

/** `clients` loops of requests to `path` until `until` resolves (90 s at most: a failed test never leaves it running). */
async function load(port: number, path: string, until: Promise<unknown>, clients = 4): Promise<{ ok: number; failed: string[] }> {
  let done = false;
  void until.then(() => { done = true; });
  setTimeout(() => { done = true; }, 90_000).unref();
  const r = { ok: 0, failed: [] as string[] };
  await Promise.all(Array.from({ length: clients }, async () => {
    while (!done) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        await res.arrayBuffer();
        if (res.status === 200) r.ok++; else r.failed.push(String(res.status));
      } catch (err) {
        r.failed.push((err as Error).message);
      }
    }
  }));
  return r;
}

function touch(path: string): void {
  const t = new Date(Date.now() + 2000);
  utimesSync(path, t, t);
}

test('touch-chain-reload under load: workers replaced one at a time, never fewer than processes ready, no request fails', async () => {
  const tmp = tempDir();
  const port = await freePort();
  const marker = join(tmp.dir, 'reload-chain');
  writeFileSync(marker, '');
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '3', '--touch-chain-reload', marker, '--app', join(APPS, 'echo.mjs')]);
  try {
    const finished = u.waitFor(/reload complete generation=2/, 30_000);
    const traffic = load(port, '/pid', finished.then(() => sleep(300)));
    await sleep(300);
    touch(marker);
    await finished;
    const r = await traffic;
    assert.deepEqual(r.failed, [], 'no request failed');
    assert.ok(r.ok > 50, `requests flowed (${r.ok})`);
    // Replay the log: a worker counts from "worker ready" until "retiring the old worker" names it.
    const out = u.output();
    const ready = new Set<string>();
    let min = Infinity;
    let started = false;
    for (const l of out.split('\n')) {
      const up = /worker ready id=\d+ pid=(\d+)/.exec(l);
      if (up) ready.add(up[1]!);
      const down = /retiring the old worker id=\d+ pid=(\d+)/.exec(l);
      if (down) ready.delete(down[1]!);
      if (/chain reload: replacing workers one at a time/.test(l)) started = true;
      if (started) min = Math.min(min, ready.size);
    }
    assert.ok(min >= 3, `ready workers never dropped below processes (min ${min}):\n${out}`);
    assert.equal(lines(out, /retiring the old worker/).length, 3, 'each worker replaced once');
    assert.match(out, /chain reload requested reason="touch-chain-reload touched/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('touch-reload: a file that appears later, then a touch, each reload gracefully under load', async () => {
  const tmp = tempDir();
  const port = await freePort();
  const marker = join(tmp.dir, 'reload-me'); // does not exist yet: uWSGI watches for it to appear
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--touch-reload', marker, '--app', join(APPS, 'echo.mjs')]);
  try {
    assert.match(u.output(), /watching for touches touch-reload=\S+reload-me exists=false/);
    const second = u.waitFor(/reload complete generation=3/, 40_000);
    const traffic = load(port, '/pid', second.then(() => sleep(200)));
    await sleep(200);
    writeFileSync(marker, '');
    await u.waitFor(/reload complete generation=2/, 20_000);
    touch(marker);
    await second;
    const r = await traffic;
    assert.deepEqual(r.failed, [], 'no request failed');
    assert.match(u.output(), /reload requested reason="touch-reload appeared/);
    assert.match(u.output(), /reload requested reason="touch-reload touched/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

async function recycleLines(u: UsherProc, re: RegExp, n: number, timeoutMs: number): Promise<string[]> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const found = lines(u.output(), re);
    if (found.length >= n) return found;
    await sleep(100);
  }
  throw new Error(`fewer than ${n} lines matching ${re}:\n${u.output()}`);
}

test('max-worker-lifetime with a delta: workers recycle at staggered times, gracefully, under load', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--max-worker-lifetime', '2', '--max-worker-lifetime-delta', '3', '--app', join(APPS, 'echo.mjs')]);
  try {
    let stop!: () => void;
    const traffic = load(port, '/pid', new Promise<void>((r) => { stop = r; }), 2);
    await recycleLines(u, /recycling worker id=2 pid=\d+ reason=lifetime/, 1, 30_000);
    const found = lines(u.output(), /recycling worker id=\d+ pid=\d+ reason=lifetime/);
    stop();
    const r = await traffic;
    assert.deepEqual(r.failed, [], 'no request failed');
    const at = (id: number): number => {
      const l = found.find((x) => x.includes(`recycling worker id=${id} `));
      assert.ok(l, `worker ${id} recycled:\n${u.output()}`);
      return Date.parse(l.slice(0, 24));
    };
    assert.ok(at(2) - at(1) >= 1500, 'worker 2 lives max-worker-lifetime + delta: later than worker 1');
    assert.match(u.output(), /worker recycled \(lifetime\)/);
  } finally {
    await u.stop();
  }
});

test('reload-on-rss: a leaking worker is recycled gracefully, no request fails', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--reload-on-rss', '120', '--min-worker-lifetime', '0', '--app', join(APPS, 'leaky.mjs')]);
  try {
    let stop!: () => void;
    const traffic = load(port, '/leak?mb=4', new Promise<void>((r) => { stop = r; }), 2);
    await recycleLines(u, /recycling worker id=\d+ pid=\d+ reason=rss detail="rss [\d.]+ MiB ≥ reload-on-rss 120 MiB"/, 1, 60_000);
    await u.waitFor(/worker recycled \(rss\)/, 30_000);
    stop();
    const r = await traffic;
    assert.deepEqual(r.failed, [], 'no request failed');
    assert.doesNotMatch(u.output(), /died; respawning/);
  } finally {
    await u.stop();
  }
});

test('reload-on-rss below a fresh worker: paused with a reason, no respawn storm, still serving', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '1', '--reload-on-rss', '1', '--min-worker-lifetime', '0', '--app', join(APPS, 'leaky.mjs')]);
  try {
    await u.waitFor(/memory limit is below what a fresh worker uses: not recycling this worker again for a while/, 40_000);
    const recycles = lines(u.output(), /recycling worker/).length;
    assert.ok(recycles <= 4, `bounded recycling (${recycles})`);
    await sleep(2500);
    assert.equal(lines(u.output(), /recycling worker/).length, recycles, 'no more recycling while paused');
    assert.equal((await fetch(`http://127.0.0.1:${port}/pid`)).status, 200);
  } finally {
    await u.stop();
  }
});

test('cheaper: load grows the pool from cheaper to processes, idleness shrinks it back', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '4', '--cheaper', '1', '--cheaper-overload', '1', '--app', join(APPS, 'leaky.mjs')]);
  let stop = (): void => undefined;
  try {
    assert.equal(lines(u.output(), /worker spawned/).length, 1, 'starts with cheaper = 1 worker');
    // Slow requests from 8 clients keep every worker busy.
    const traffic = load(port, '/slow?ms=400', new Promise<void>((r) => { stop = r; }), 8);
    await u.waitFor(/cheaper: more workers added=1 workers=4/, 60_000);
    stop();
    const r = await traffic;
    assert.deepEqual(r.failed, []);
    await u.waitFor(/cheaper: fewer workers retired=\d+ workers=1/, 60_000);
  } finally {
    stop();
    await u.stop();
  }
});
