// daemonize / daemonize2: the launching command exits (0), the master keeps running detached in its
// own session, logs go to the file, the pidfile holds the daemon's pid; daemonize2 returns only once
// the workers serve, and exits 1 when usher cannot start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, startUsher, tempDir, freePort, REPO } from '../helpers/usher.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const ENV = { env: { SLOW_START_MS: '300' } };

/** Session id (field 6 of /proc/PID/stat; the command may contain spaces, so count after the ')'). */
const session = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[3]);

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function killDaemon(pidfile: string): Promise<void> {
  if (!existsSync(pidfile)) return;
  const pid = Number(readFileSync(pidfile, 'utf8'));
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  await until(() => !alive(pid), 'the daemon to stop').catch(() => process.kill(pid, 'SIGKILL'));
}

test('daemonize: the launcher exits 0, the master runs on in its own session, logging to the file', async () => {
  const tmp = tempDir();
  const log = join(tmp.dir, 'usher.log');
  const pidfile = join(tmp.dir, 'usher.pid');
  const port = await freePort();
  const u = startUsher(['--http', `127.0.0.1:${port}`, '--daemonize', log, '--pidfile', pidfile, '--app', join(APPS, 'slow-start.mjs')], ENV);
  try {
    const exit = await u.exited;
    assert.equal(exit.code, 0);
    await until(() => existsSync(pidfile) && readFileSync(pidfile, 'utf8').trim() !== '', 'the pidfile');
    const pid = Number(readFileSync(pidfile, 'utf8'));
    assert.notEqual(pid, u.pid, 'the pidfile holds the daemon, not the launcher');
    assert.ok(alive(pid));
    assert.equal(session(pid), pid, 'the daemon leads its own session');
    await until(() => existsSync(log) && /master: ready/.test(readFileSync(log, 'utf8')), '"ready" in the log file');
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    await until(() => /\] GET \/ => generated \d+ bytes in \d+ msecs \(HTTP\/1\.1 200\)/.test(readFileSync(log, 'utf8')), 'the access line in the log file');
    assert.doesNotMatch(u.output(), /master: ready/, 'nothing of the daemon on the launcher\'s terminal');
    process.kill(pid, 'SIGTERM');
    await until(() => !alive(pid), 'the daemon to stop');
    assert.match(readFileSync(log, 'utf8'), /stopping gracefully/);
  } finally {
    await killDaemon(pidfile);
    tmp.remove();
  }
});

test('daemonize2: the launcher returns once every worker serves; exit 1 when the app cannot load', async () => {
  const tmp = tempDir();
  const log = join(tmp.dir, 'usher.log');
  const pidfile = join(tmp.dir, 'usher.pid');
  const port = await freePort();
  try {
    const u = startUsher(['--http', `127.0.0.1:${port}`, '--daemonize2', log, '--pidfile', pidfile, '--processes', '2', '--app', join(APPS, 'slow-start.mjs')], ENV);
    assert.equal((await u.exited).code, 0);
    assert.match(readFileSync(log, 'utf8'), /master: ready/, 'ready before the launcher returned');
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
    await killDaemon(pidfile);

    const broken = startUsher(['--http', `127.0.0.1:${port}`, '--daemonize2', log, '--app', join(APPS, 'broken.mjs')], ENV);
    assert.equal((await broken.exited).code, 1);
    assert.match(broken.output(), /usher stopped before it was ready; see the log/);
    assert.match(readFileSync(log, 'utf8'), /this app is broken on purpose/);
  } finally {
    await killDaemon(pidfile);
    tmp.remove();
  }
});
