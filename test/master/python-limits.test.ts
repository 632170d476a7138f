// Python workers' own limits: `limit-as` caps a worker's address space (an allocation past it is a
// MemoryError: a 500 and a traceback, and the worker serves on), and a graceful harakiri
// (`harakiri-graceful-timeout`) lets the worker's other requests finish before it exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsherReady, tempDir, REPO } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const PY = '/usr/bin/python3';
const APP = join(REPO, 'test', 'fixtures', 'apps', 'wsgi_runner.py');

test('limit-as: an allocation past it fails inside the app (500), the worker keeps serving', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--limit-as', '512', '--wsgi-file', APP, '--python', PY]);
  try {
    assert.equal((await uwsgiRequest(sock, 'GET', '/alloc/16')).status, 200, 'a small allocation fits');
    assert.equal((await uwsgiRequest(sock, 'GET', '/alloc/1024')).status, 500, '1 GiB does not fit in 512 MiB');
    await u.waitFor(/MemoryError/);
    assert.equal((await uwsgiRequest(sock, 'GET', '/')).status, 200, 'the worker serves on');
    assert.doesNotMatch(u.output(), /died; respawning/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('harakiri-graceful-timeout: past harakiri the worker stops accepting, its other request finishes, then it exits', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--threads', '2', '--harakiri', '2', '--harakiri-graceful-timeout', '6',
    '--wsgi-file', APP, '--python', PY]);
  try {
    const stuck = uwsgiRequest(sock, 'GET', '/sleep/30').then((r) => r.status, () => 'cut');
    await new Promise((r) => setTimeout(r, 1200));
    const other = uwsgiRequest(sock, 'GET', '/sleep/3').then((r) => r.status, () => 'cut'); // outlives the harakiri moment, not the grace
    await u.waitFor(/harakiri: graceful stop first signal=15 seconds=6/, 15_000);
    assert.equal(await other, 200, 'the other request finished within the grace');
    await u.waitFor(/worker harakiri: a request outlived `harakiri`/, 20_000);
    assert.notEqual(await stuck, 200);
    let ok = 0;
    for (let i = 0; i < 50 && ok === 0; i++) {
      ok = await uwsgiRequest(sock, 'GET', '/').then((r) => (r.status === 200 ? 1 : 0), () => 0);
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ok, 1, 'the replacement serves');
  } finally {
    await u.stop();
    tmp.remove();
  }
});
