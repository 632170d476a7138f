// `usher top` in a real terminal (tmux): it lists the workers of usher and of a real uWSGI, counts
// requests, shows "waiting for ADDR" while the server is down and recovers when it is back, and
// quits cleanly on q and on Ctrl-C. `--once` reads a stats-http address too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, USHER_BIN, freePort, startUsherReady, tempDir, type UsherProc } from '../helpers/usher.js';
import { requireTool } from '../helpers/fronts.js';
import { readStats, run, startUwsgi, waitForStats } from '../helpers/stats.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');

/** `usher top ADDR` in a detached tmux session of its own server; its exit code lands in a file. */
async function topInTmux(addr: string, dir: string): Promise<{ screen(): Promise<string>; waitScreen(re: RegExp, what: string): Promise<string>; keys(...k: string[]): Promise<void>; exitCode(): Promise<number>; close(): Promise<void> }> {
  // Its own server socket in the test's temp dir: removed with it, never shared with a user's tmux.
  const sock = join(dir, `tmux-${Math.random().toString(36).slice(2)}.sock`);
  const codeFile = `${sock}.exit`;
  const cmd = `${process.execPath} ${USHER_BIN} top ${addr}; echo $? > ${codeFile}`;
  const started = await run('tmux', ['-S', sock, '-f', '/dev/null', 'new-session', '-d', '-s', 'top', '-x', '150', '-y', '30', cmd]);
  assert.equal(started.code, 0, started.stderr);
  const screen = async (): Promise<string> => (await run('tmux', ['-S', sock, 'capture-pane', '-p', '-t', 'top'])).stdout;
  return {
    screen,
    waitScreen: (re, what) => waitForStats(screen, (s) => re.test(s), what, 30_000),
    async keys(...k) { await run('tmux', ['-S', sock, 'send-keys', '-t', 'top', ...k]); },
    exitCode: async () => Number((await waitForStats(async () => (existsSync(codeFile) ? readFileSync(codeFile, 'utf8') : ''), (s) => s.trim() !== '', 'usher top to exit')).trim()),
    async close() { await run('tmux', ['-S', sock, 'kill-server']); },
  };
}

interface Doc { workers: { pid: number }[] }

test('usher top against usher: the workers and their requests; "waiting for" across a restart; q quits', async (t) => {
  if (!requireTool('tmux')) { t.skip('tmux not installed'); return; }
  const tmp = tempDir();
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const addr = `127.0.0.1:${sport}`;
  const args = ['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs'), '--stats', addr];
  let u: UsherProc | undefined = await startUsherReady(args);
  const top = await topInTmux(addr, tmp.dir);
  try {
    const doc = await waitForStats(async () => JSON.parse(await readStats(addr)) as Doc, (d) => d.workers.every((w) => w.pid > 0), 'both workers');
    const screen = await top.waitScreen(new RegExp(doc.workers.map((w) => `\\b${w.pid}\\b[\\s\\S]*`).join('')), 'both worker pids on screen');
    assert.match(screen, /usher top - 127\.0\.0\.1:\d+ - 0\.\d+\.\d+-usher/);
    assert.match(screen, /WID\s+%\s+PID\s+REQ\s+RPS/);
    assert.match(screen, /\bidle\b/);
    for (let i = 0; i < 4; i++) await (await fetch(`http://127.0.0.1:${port}/pid`)).text();
    await top.waitScreen(/req: 4 - RPS/, 'four requests counted on screen');

    await u.stop();
    u = undefined;
    await top.waitScreen(new RegExp(`waiting for 127\\.0\\.0\\.1:${sport}`), '"waiting for" while usher is down');
    u = await startUsherReady(args);
    const again = await waitForStats(async () => JSON.parse(await readStats(addr)) as Doc, (d) => d.workers.every((w) => w.pid > 0), 'both new workers');
    await top.waitScreen(new RegExp(`\\b${again.workers[0]!.pid}\\b`), 'the new workers on screen');

    await top.keys('q');
    assert.equal(await top.exitCode(), 0);
  } finally {
    await top.close();
    await u?.stop();
    tmp.remove();
  }
});

test('usher top against a real uWSGI stats socket; Ctrl-C quits', async (t) => {
  if (!requireTool('tmux')) { t.skip('tmux not installed'); return; }
  if (!requireTool('uwsgi')) { t.skip('uwsgi not installed'); return; }
  const tmp = tempDir();
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const addr = `127.0.0.1:${sport}`;
  const ini = join(tmp.dir, 'uwsgi.ini');
  writeFileSync(ini, `[uwsgi]\nplugin = python3\nsocket = 127.0.0.1:${port}\nstats = ${addr}\nwsgi-file = ${join(REPO, 'bench', 'apps', 'hello_wsgi.py')}\nprocesses = 2\nmaster = true\n`);
  const uw = await startUwsgi(ini, addr, 2);
  const top = await topInTmux(addr, tmp.dir);
  try {
    const doc = JSON.parse(await readStats(addr)) as Doc & { version: string };
    const screen = await top.waitScreen(new RegExp(doc.workers.map((w) => `\\b${w.pid}\\b[\\s\\S]*`).join('')), 'uWSGI\'s worker pids on screen');
    assert.ok(screen.includes(doc.version), `uWSGI's version (${doc.version}) in the header`);
    assert.match(screen, /\bidle\b/);
    await top.keys('C-c');
    assert.equal(await top.exitCode(), 0);
  } finally {
    await top.close();
    await uw.stop();
    tmp.remove();
  }
});

test('usher top --once reads a stats-http address (asking when the server waits) and an http:// URL', async () => {
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs'), '--stats', `127.0.0.1:${sport}`, '--stats-http']);
  try {
    for (const addr of [`127.0.0.1:${sport}`, `http://127.0.0.1:${sport}/`]) {
      const r = await run(process.execPath, [USHER_BIN, 'top', '--once', addr]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /WID\s+%\s+PID/);
      assert.equal(r.stdout.split('\n').filter((l) => /^\s+[12]\s+\d/.test(l)).length, 2, `two worker rows:\n${r.stdout}`);
    }
    const down = await run(process.execPath, [USHER_BIN, 'top', '--once', '127.0.0.1:1']);
    assert.equal(down.code, 1);
    assert.match(down.stdout, /does not answer/);
  } finally {
    await u.stop();
  }
});
