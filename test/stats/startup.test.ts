// Starting stats: a warning when they listen on every interface, a clear bind error (and nothing
// left running) when the address is taken, and the options in --print-config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { REPO, childPids, freePort, startUsher, startUsherReady } from '../helpers/usher.js';
import { readStats } from '../helpers/stats.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');

test('stats on every interface (:PORT) warn at startup; on loopback they do not', async () => {
  const [port, sport, sport2] = await Promise.all([freePort(), freePort(), freePort()]);
  const open = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', join(APPS, 'echo.mjs'), '--stats', `:${sport}`]);
  try {
    await open.waitFor(/WARN .*stats listen on every interface.*stats=:\d+/);
    assert.match(await readStats(`127.0.0.1:${sport}`), /"workers"/, 'and they still serve');
  } finally {
    await open.stop();
  }
  const local = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', join(APPS, 'echo.mjs'), '--stats', `127.0.0.1:${sport2}`]);
  try {
    await local.waitFor(/master: stats listening address=127\.0\.0\.1:\d+/);
    assert.doesNotMatch(local.output(), /every interface/);
  } finally {
    await local.stop();
  }
});

test('a stats address in use: USHER_ERR_BIND naming it, exit 1, no worker left behind', async () => {
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const squatter = net.createServer().listen(sport, '127.0.0.1');
  await new Promise((r) => squatter.once('listening', r));
  try {
    const u = startUsher(['--http-socket', `127.0.0.1:${port}`, '--app', join(APPS, 'echo.mjs'), '--stats', `127.0.0.1:${sport}`]);
    const exit = await u.exited;
    assert.equal(exit.code, 1);
    assert.match(u.output(), new RegExp(`cannot bind stats 127\\.0\\.0\\.1:${sport}: EADDRINUSE.*code=USHER_ERR_BIND`));
    assert.doesNotMatch(u.output(), /worker spawned/, 'no worker was started');
    assert.deepEqual(await childPids(u.pid), []);
  } finally {
    squatter.close();
  }
});

test('--print-config shows stats, stats-http and stats-minified', async () => {
  const u = startUsher(['--http-socket', '127.0.0.1:0', '--app', join(APPS, 'echo.mjs'), '--stats', '/run/usher-stats.sock', '--stats-http', '--stats-min', '--print-config']);
  assert.equal((await u.exited).code, 0);
  assert.match(u.output(), /^stats = \/run\/usher-stats\.sock\s+; command line$/m);
  assert.match(u.output(), /^stats-http = true\s+; command line$/m);
  assert.match(u.output(), /^stats-minified = true\s+; command line$/m);
});

test('stats-http without stats: a warning naming what to add, and usher runs', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', join(APPS, 'echo.mjs'), '--stats-http']);
  try {
    await u.waitFor(/WARN .*stats-http does nothing without `stats = ADDR`/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/pid`)).status, 200);
  } finally {
    await u.stop();
  }
});
