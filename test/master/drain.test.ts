// ready-path and drain-time: the readiness path answers 200 while usher serves; on SIGTERM it answers
// 503 for drain-time seconds while every other request is still served (a load balancer moves traffic
// away), then usher stops gracefully (exit 0). Through a Node worker, the HTTP router (Python app) and a
// Python worker on the uwsgi protocol. The path is only taken from the app when the option is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const PY = '/usr/bin/python3';
const ECHO = join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs');
const HELLO = join(REPO, 'bench', 'apps', 'hello_wsgi.py');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


type Probe = (path: string) => Promise<{ status: number; body: string }>;

async function drainScenario(args: string[], probe: Probe): Promise<void> {
  const u = await startUsherReady([...args, '--ready-path', '/-/ready', '--drain-time', '3']);
  try {
    assert.deepEqual(await probe('/-/ready'), { status: 200, body: 'ready\n' });
    assert.equal((await probe('/other')).status, 200);
    const t0 = Date.now();
    u.proc.kill('SIGTERM');
    await u.waitFor(/draining: the readiness path answers 503; stopping after drain-time/);
    let saw503 = false;
    for (let i = 0; i < 50 && !saw503; i++) {
      saw503 = (await probe('/-/ready')).status === 503;
      if (!saw503) await sleep(50);
    }
    assert.ok(saw503, 'readiness fails while draining');
    assert.equal((await probe('/other')).status, 200, 'other requests are still served while draining');
    const exit = await u.exited;
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 >= 2500, 'usher waited drain-time before stopping');
  } finally {
    await u.stop();
  }
}

test('Node worker (http-socket): ready-path 200, 503 while draining, traffic still served, then exit 0', async () => {
  const port = await freePort();
  await drainScenario(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', ECHO], async (path) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: r.status, body: await r.text() };
  });
});

test('HTTP router in front of Python workers: the router answers the readiness path', async (ctx) => {
  if (!havePython(ctx)) return;
  const port = await freePort();
  await drainScenario(['--http', `127.0.0.1:${port}`, '--processes', '2', '--wsgi-file', HELLO, '--python', PY], async (path) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: r.status, body: await r.text() };
  });
});

test('Python worker on the uwsgi protocol answers the readiness path', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  try {
    await drainScenario(['--socket', sock, '--processes', '1', '--wsgi-file', HELLO, '--python', PY], async (path) => {
      const r = await uwsgiRequest(sock, 'GET', path);
      return { status: r.status, body: r.body.toString() };
    });
  } finally {
    tmp.remove();
  }
});

test('without ready-path the app gets the path, and SIGTERM stops at once', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', ECHO]);
  try {
    const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
    assert.match(await r.text(), /"url":"\/-\/ready"/, 'the app answered');
  } finally {
    const t0 = Date.now();
    assert.equal((await u.stop()).code, 0);
    assert.ok(Date.now() - t0 < 2500);
  }
});
