// master-fifo: uWSGI's command fifo. r reloads, L toggles request logging, 0-9 switch fifos, q stops
// gracefully, Q at once; the fifos exist while usher runs and go when it stops; a fifo in a missing
// folder stops usher at startup with a message naming the option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsher, startUsherReady, tempDir, freePort, childPids, REPO } from '../helpers/usher.js';

const APP = ['--app', join(REPO, 'test', 'fixtures', 'apps', 'slow-start.mjs')];
const ENV = { env: { SLOW_START_MS: '0' } };

test('master-fifo: r reloads, L toggles request logging, 1 switches to the second fifo, q stops; the fifos are removed', async () => {
  const tmp = tempDir();
  const [f0, f1] = [join(tmp.dir, 'master.fifo'), join(tmp.dir, 'other.fifo')];
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--processes', '2', '--master-fifo', f0, '--master-fifo', f1, ...APP], ENV);
  try {
    for (const f of [f0, f1]) {
      const st = lstatSync(f);
      assert.ok(st.isFIFO(), `${f} is a fifo`);
      assert.equal(st.mode & 0o777, 0o600);
    }
    const before = await childPids(u.pid);
    writeFileSync(f0, 'r');
    await u.waitFor(/reload complete/);
    const t0 = Date.now();
    while ((await childPids(u.pid)).some((p) => before.includes(p)) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
    assert.ok((await childPids(u.pid)).every((p) => !before.includes(p)), 'every worker replaced');
    writeFileSync(f0, 'L');
    await u.waitFor(/request logging off/);
    writeFileSync(f0, '1');
    await u.waitFor(new RegExp(`reading master-fifo path=${f1.replace(/[.]/g, '\\.')}`));
    writeFileSync(f1, 'q');
    const exit = await u.exited;
    assert.equal(exit.code, 0);
    assert.match(u.output(), /stopping gracefully/);
    assert.equal(existsSync(f0), false);
    assert.equal(existsSync(f1), false);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('master-fifo Q stops at once', async () => {
  const tmp = tempDir();
  const fifo = join(tmp.dir, 'master.fifo');
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--master-fifo', fifo, ...APP], ENV);
  try {
    writeFileSync(fifo, 'Q');
    await u.exited;
    assert.match(u.output(), /master: stopping reason=SIGQUIT/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('a master-fifo in a folder that does not exist: a clear error naming master-fifo, nothing left behind', async () => {
  const tmp = tempDir();
  try {
    const u = startUsher(['--socket', join(tmp.dir, 'a.sock'), '--pidfile', join(tmp.dir, 'u.pid'), '--master-fifo', join(tmp.dir, 'nope', 'master.fifo'), ...APP], ENV);
    const exit = await u.exited;
    assert.equal(exit.code, 1);
    assert.match(u.output(), /config error: master-fifo = .*nope\/master\.fifo: the folder .*nope does not exist/);
    assert.deepEqual(readdirSync(tmp.dir), []);
  } finally {
    tmp.remove();
  }
});

test('master-fifo l reopens the log file after logrotate moved it', async () => {
  const { readFileSync, renameSync } = await import('node:fs');
  const tmp = tempDir();
  const fifo = join(tmp.dir, 'master.fifo');
  const log = join(tmp.dir, 'usher.log');
  const port = await freePort();
  const u = startUsher(['--http', `127.0.0.1:${port}`, '--master-fifo', fifo, '--logto', log, ...APP], ENV);
  try {
    const until = async (cond: () => boolean): Promise<void> => { const t0 = Date.now(); while (!cond()) { if (Date.now() - t0 > 20_000) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 25)); } };
    await until(() => existsSync(log) && /master: ready/.test(readFileSync(log, 'utf8')));
    renameSync(log, `${log}.1`);
    writeFileSync(fifo, 'l');
    await until(() => existsSync(log) && /master: log file reopened/.test(readFileSync(log, 'utf8')));
    writeFileSync(fifo, 'q');
    await u.exited;
    assert.match(readFileSync(log, 'utf8'), /master: stopping gracefully/, 'the master writes to the new file');
    assert.doesNotMatch(readFileSync(`${log}.1`, 'utf8'), /stopping gracefully/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});
