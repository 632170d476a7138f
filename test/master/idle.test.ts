// `idle` and `die-on-idle`: after `idle` seconds without a request every worker stops (the socket
// stays listening); the next client waits in the kernel's queue and is served once the workers are
// back. With die-on-idle, usher itself stops (exit 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startUsherReady, freePort, childPids, REPO } from '../helpers/usher.js';

const ECHO = join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('idle: the workers stop after idle seconds, and the next request wakes them and is served', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--idle', '2', '--app', ECHO]);
  try {
    assert.equal((await fetch(`http://127.0.0.1:${port}/pid`)).status, 200);
    await u.waitFor(/idle: no request for a while; workers stopped until a connection waits idle_s=2 retired=2/, 20_000);
    for (let i = 0; i < 50 && (await childPids(u.pid)).length > 0; i++) await sleep(100);
    assert.equal((await childPids(u.pid)).length, 0, 'no worker runs while idle');
    const r = await fetch(`http://127.0.0.1:${port}/pid`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(r.status, 200, 'the waiting request is served once the workers are back');
    await u.waitFor(/idle: a connection waits; workers started workers=2/);
    assert.equal((await childPids(u.pid)).length, 2);
  } finally {
    await u.stop();
  }
});

test('idle + die-on-idle: usher stops by itself (exit 0) once idle', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--idle', '2', '--die-on-idle', '--app', ECHO]);
  const exit = await Promise.race([u.exited, sleep(30_000).then(() => ({ code: -1, signal: null }))]);
  if (exit.code === -1) await u.stop('SIGKILL');
  assert.equal(exit.code, 0);
  assert.match(u.output(), /idle: no request for a while; stopping usher \(die-on-idle\)/);
});
