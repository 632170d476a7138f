// Python apps load once in a fork-server and the workers are forked from it (uWSGI's default);
// `lazy-apps = true` loads the app in every worker. Reloads start a new fork-server with the new code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, startUsher, startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';
import { havePython } from '../helpers/python-runner.js';
import { treePids } from '../helpers/memory.js';

const PY = '/usr/bin/python3';
const APP = join(REPO, 'test', 'fixtures', 'apps', 'wsgi_forkserver.py');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** usher's private folders in the temp dir (the fork-server's control socket's, the router's upstream's). */
const privateDirs = (): string[] => readdirSync(tmpdir()).filter((n) => /^usher-(fs-)?[A-Za-z0-9]{6}$/.test(n)).map((n) => join(tmpdir(), n));

const requirePython = havePython;

/** The pids of the `worker spawned` lines so far, in order. */
const spawnedPids = (out: string): number[] => [...out.matchAll(/worker spawned id=\d+ pid=(\d+)/g)].map((m) => Number(m[1]));

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);

/** Requests from `n` clients at once until `until` settles; every answer that is not a 200 is a failure. */
async function load(url: string, until: Promise<unknown>, n = 4): Promise<{ bodies: string[]; failed: string[] }> {
  let done = false;
  void until.finally(() => { done = true; });
  const bodies: string[] = [];
  const failed: string[] = [];
  await Promise.all(Array.from({ length: n }, async () => {
    while (!done) {
      try {
        const res = await fetch(url);
        const text = await res.text();
        if (res.status === 200) bodies.push(text);
        else failed.push(`${res.status} ${text.slice(0, 80)}`);
      } catch (err) {
        failed.push(String((err as Error).cause ?? err));
      }
    }
  }));
  return { bodies, failed };
}

async function hit(url: string, n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, async () => (await fetch(url)).text()));
}

/** pid -> the first random number that worker drew (the fixture app's answer), from at least two workers (or 20 s). */
async function firstRandoms(url: string): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  const t0 = Date.now();
  while (seen.size < 2 && Date.now() - t0 < 20_000) {
    for (const b of await hit(url, 16)) {
      const [, pid, first] = b.split(' ');
      seen.set(pid!, first!);
    }
  }
  return seen;
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function args(port: number, app: string, extra: string[] = []): string[] {
  return ['--http', `127.0.0.1:${port}`, '--processes', '4', '--threads', '2', '--wsgi-file', app, '--python', PY, ...extra];
}

test('the default imports the app once per generation; lazy-apps imports it in every worker', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  try {
    for (const lazy of [false, true]) {
      const log = join(tmp.dir, `imports-${lazy}`);
      const port = await freePort();
      const u = await startUsherReady(args(port, APP, lazy ? ['--lazy-apps', 'true'] : []), { env: { IMPORT_LOG: log } });
      try {
        assert.equal(lines(log).length, lazy ? 4 : 1, `imports with lazy-apps=${lazy}`);
        assert.equal(/fork-server spawned/.test(u.output()), !lazy);
        process.kill(u.pid, 'SIGHUP');
        await u.waitFor(/reload complete generation=2/);
        assert.equal(lines(log).length, lazy ? 8 : 2, `imports after a reload with lazy-apps=${lazy}`);
        assert.match(await (await fetch(`http://127.0.0.1:${port}/`)).text(), /^v1 /);
      } finally {
        await u.stop();
      }
    }
  } finally {
    tmp.remove();
  }
});

test('SIGHUP under load with the fork-server: the changed code answers, zero failed requests', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const app = join(tmp.dir, 'app.py');
  copyFileSync(APP, app);
  const port = await freePort();
  const u = await startUsherReady(args(port, app, ['--disable-logging']), { env: { IMPORT_LOG: join(tmp.dir, 'imports') } });
  try {
    const url = `http://127.0.0.1:${port}/`;
    const reloaded = u.waitFor(/reload complete generation=2/, 30_000).then(async () => {
      await until(() => (u.output().match(/worker retired/g) ?? []).length >= 4, 'the old workers to leave');
      await sleep(500);
    });
    const traffic = load(url, reloaded);
    await sleep(500);
    writeFileSync(app, readFileSync(APP, 'utf8').replace("BODY = 'v1'", "BODY = 'v2'"));
    process.kill(u.pid, 'SIGHUP');
    const r = await traffic;
    assert.deepEqual(r.failed, []);
    assert.ok(r.bodies.some((b) => b.startsWith('v1 ')) && r.bodies.some((b) => b.startsWith('v2 ')), 'both versions served');
    for (const b of await hit(url, 8)) assert.match(b, /^v2 /, 'the new code after the reload');
    assert.equal(lines(join(tmp.dir, 'imports')).length, 2, 'one import per generation');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('an app that opens a file at import: all workers write through that one open file; random is reseeded in each', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const side = join(tmp.dir, 'side.log');
  const port = await freePort();
  const u = await startUsherReady(args(port, APP, ['--disable-logging']), { env: { IMPORT_LOG: join(tmp.dir, 'imports'), SIDE_FILE: side } });
  try {
    const seen = await firstRandoms(`http://127.0.0.1:${port}/`);
    assert.ok(seen.size >= 2, 'requests reached several workers');
    assert.equal(new Set(seen.values()).size, seen.size, 'each worker draws its own random numbers');
    assert.equal(lines(join(tmp.dir, 'imports')).length, 1, 'the file was opened once, by the fork-server');
    const writers = new Set(lines(side));
    for (const pid of seen.keys()) assert.ok(writers.has(pid), `worker ${pid} wrote through the file opened at import`);
    assert.ok(lines(side).every((l) => /^\d+$/.test(l)), 'appends are whole lines (O_APPEND, line-buffered)');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('py-call-osafterfork, uWSGI\'s opt-in to CPython\'s after-fork handling, is what usher always does: accepted with a line saying so, random reseeded in each worker', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const port = await freePort();
  const u = await startUsherReady(args(port, APP, ['--disable-logging', '--py-call-osafterfork']), { env: { IMPORT_LOG: join(tmp.dir, 'imports') } });
  try {
    assert.match(u.output(), /INFO {2}master: command line: py-call-osafterfork: accepted, nothing to do: usher forks Python workers with `os\.fork`/);
    const seen = await firstRandoms(`http://127.0.0.1:${port}/`);
    assert.ok(seen.size >= 2, 'requests reached several workers');
    assert.equal(new Set(seen.values()).size, seen.size, 'each forked worker draws its own random numbers');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('an app that fails to import stops usher once: one traceback, no worker forked, exit 1', async (ctx) => {
  if (!requirePython(ctx)) return;
  const port = await freePort();
  const u = startUsher(args(port, join(REPO, 'test', 'fixtures', 'apps', 'wsgi_broken_import.py')));
  const exit = await Promise.race([u.exited, sleep(30_000).then(() => ({ code: -1, signal: null }))]);
  if (exit.code === -1) await u.stop('SIGKILL');
  const out = u.output();
  assert.equal(exit.code, 1, out);
  assert.match(out, /the app could not be loaded; stopping usher instead of respawning .*code=USHER_ERR_APP_LOAD/);
  assert.equal(out.split('\n').filter((l) => /app could not be loaded error=/.test(l)).length, 1, 'the error once');
  assert.equal(out.split('\n').filter((l) => /fork-server spawned/.test(l)).length, 1, 'no respawn');
  assert.doesNotMatch(out, /worker spawned/);
});

test('SIGHUP onto code that no longer imports: the reload fails, the old workers keep serving', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const app = join(tmp.dir, 'app.py');
  copyFileSync(APP, app);
  const port = await freePort();
  const u = await startUsherReady(args(port, app), { env: { IMPORT_LOG: join(tmp.dir, 'imports') } });
  try {
    writeFileSync(app, 'raise RuntimeError("the new release is broken")\n');
    process.kill(u.pid, 'SIGHUP');
    await u.waitFor(/reload failed: the app could not be loaded; the previous workers keep serving/);
    for (const b of await hit(`http://127.0.0.1:${port}/`, 8)) assert.match(b, /^v1 /);
    assert.doesNotMatch(u.output(), /worker spawned .*generation=2/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('a fork-server that dies: its workers keep serving, their deaths are still seen, a new fork-server forks the replacements', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const port = await freePort();
  const u = await startUsherReady(args(port, APP), { env: { IMPORT_LOG: join(tmp.dir, 'imports') } });
  try {
    const fsPid = Number(/fork-server spawned pid=(\d+)/.exec(u.output())![1]);
    const workers = spawnedPids(u.output());
    process.kill(fsPid, 'SIGKILL');
    await u.waitFor(/fork-server died; its workers keep serving/);
    for (const b of await hit(`http://127.0.0.1:${port}/`, 8)) assert.match(b, /^v1 /);
    await u.waitFor(/fork-server spawned pid=\d+ generation=1/);
    await until(() => (u.output().match(/app loaded; ready to fork workers/g) ?? []).length >= 2, 'the new fork-server to load');
    process.kill(workers[0]!, 'SIGKILL');
    await u.waitFor(new RegExp(`worker died; respawning id=\\d+ pid=${workers[0]}`));
    await until(() => (u.output().match(/worker ready/g) ?? []).length >= 5, 'the replacement');
    const fresh = spawnedPids(u.output()).at(-1)!;
    const newFs = Number([...u.output().matchAll(/fork-server spawned pid=(\d+)/g)].at(-1)![1]);
    assert.ok(treePids(newFs).includes(fresh), 'the replacement was forked by the new fork-server');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

// A stop or reload SIGTERMs workers the fork-server may have forked a moment ago, before their first line
// of Python ran (forkserver.py keeps SIGTERM blocked, not only ignored, until serve() can take it). The
// test sends that SIGTERM as soon as the master names the new worker, the way a stop does; a worker that
// ignored it served on until the master's mercy ran out, 30 s (test/router's max-requests test met it).
test('a worker signalled to stop while it is still starting (just forked) stops; the SIGTERM is not lost', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const port = await freePort();
  const u = await startUsherReady(args(port, APP, ['--processes', '2']), { env: { IMPORT_LOG: join(tmp.dir, 'imports') } });
  const stopped: number[] = [];
  try {
    for (let round = 0; round < 5; round++) {
      // The victim: a ready worker still alive (not one this test stopped: the master replaces those too).
      let victim = 0;
      await until(() => {
        victim = [...u.output().matchAll(/worker ready id=\d+ pid=(\d+)/g)].map((m) => Number(m[1])).filter((p) => alive(p) && !stopped.includes(p)).at(-1) ?? 0;
        return victim > 0;
      }, 'a ready worker');
      // SIGTERM the replacement the moment its pid is logged, from the output listener itself.
      const fresh = new Promise<number>((resolve) => {
        const seen = spawnedPids(u.output()).length;
        const onData = (): void => {
          const pids = spawnedPids(u.output());
          if (pids.length <= seen) return;
          const pid = pids[seen]!;
          process.kill(pid, 'SIGTERM');
          u.proc.stdout!.off('data', onData);
          u.proc.stderr!.off('data', onData);
          resolve(pid);
        };
        u.proc.stdout!.on('data', onData);
        u.proc.stderr!.on('data', onData);
      });
      process.kill(victim, 'SIGKILL');
      const pid = await fresh;
      stopped.push(pid);
      await until(() => !alive(pid), `worker ${pid}, sent SIGTERM as it started, to stop`, 8_000);
    }
    for (const b of await hit(`http://127.0.0.1:${port}/`, 4)) assert.match(b, /^v1 /);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('the master killed with SIGKILL: the fork-server and every worker exit', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const port = await freePort();
  const before = new Set(privateDirs());
  const u = await startUsherReady(args(port, APP), { env: { IMPORT_LOG: join(tmp.dir, 'imports') } });
  const tree = treePids(u.pid).filter((p) => p !== u.pid);
  const mine = privateDirs().filter((d) => !before.has(d));
  try {
    assert.ok(tree.length >= 6, 'router, fork-server, 4 workers');
    assert.equal(mine.length, 2, `the fork-server's control folder and the router's socket folder: ${mine.join(' ')}`);
    process.kill(u.pid, 'SIGKILL');
    await u.exited;
    await until(() => !tree.some(alive), 'every child to exit');
    // The master could not clean up: its children, which saw it go, removed its private folders.
    assert.deepEqual(mine.filter((d) => existsSync(d)), [], 'no private folder of that master left');
  } finally {
    for (const p of tree) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    tmp.remove();
  }
});
