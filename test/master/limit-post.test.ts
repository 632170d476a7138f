// limit-post: a body over the limit gets 413 before the app runs (Content-Length) or the moment the
// limit is crossed (chunked), on every path — a Node worker's HTTP, usher's router in front of Python,
// and Python and Node workers behind real Nginx uwsgi_pass — and the worker keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';
import { startNginx, requireTool } from '../helpers/fronts.js';

const PY = '/usr/bin/python3';
const ECHO = join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs');
const WSGI = join(REPO, 'test', 'fixtures', 'apps', 'wsgi_runner.py');
const LIMIT = 64 * 1024;


/** POST `size` bytes, with a Content-Length or chunked; the status, or 'closed' if the connection died first. */
function post(port: number, path: string, size: number, chunked: boolean): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const req = http.request({ port, host: '127.0.0.1', path, method: 'POST', agent: false, headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': size } });
    req.on('response', (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', () => resolve('closed'));
    const piece = Buffer.alloc(16 * 1024, 'x');
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        const n = Math.min(piece.length, size - sent);
        sent += n;
        if (!req.write(piece.subarray(0, n))) { req.once('drain', pump); return; }
      }
      req.end();
    };
    pump();
  });
}

async function checkDirect(port: number, path: string, label: string): Promise<void> {
  assert.equal(await post(port, path, 1000, false), 200, `${label}: a small body is served`);
  assert.equal(await post(port, path, LIMIT * 4, false), 413, `${label}: Content-Length over limit-post`);
  const chunked = await post(port, path, LIMIT * 4, true);
  assert.ok(chunked === 413 || chunked === 'closed', `${label}: chunked over limit-post is refused (${chunked})`);
  assert.equal(await post(port, path, 1000, true), 200, `${label}: a small chunked body is served`);
  assert.equal(await post(port, path, 1000, false), 200, `${label}: and the worker keeps serving`);
}

test('Node worker (http-socket): 413 for a body over limit-post, with Content-Length and chunked', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--limit-post', String(LIMIT), '--app', ECHO]);
  try {
    await checkDirect(port, '/echo', 'node');
    await u.waitFor(/request body over limit-post; answered 413 .*limit=65536/);
  } finally {
    await u.stop();
  }
});

test('HTTP router in front of Python workers: 413 before the request reaches a worker', async (ctx) => {
  if (!havePython(ctx)) return;
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--limit-post', String(LIMIT), '--wsgi-file', WSGI, '--python', PY]);
  try {
    await checkDirect(port, '/sum', 'router');
    await u.waitFor(/router: request body over limit-post; answered 413/);
  } finally {
    await u.stop();
  }
});

for (const runtime of ['python', 'node'] as const) {
  test(`${runtime} worker behind real Nginx uwsgi_pass: 413 for a body over limit-post`, async (ctx) => {
    if (runtime === 'python' && !havePython(ctx)) return;
    if (!requireTool('nginx')) { ctx.skip('nginx is not installed'); return; }
    const tmp = tempDir();
    const sock = join(tmp.dir, 'app.sock');
    const app = runtime === 'python' ? ['--wsgi-file', WSGI, '--python', PY] : ['--app', ECHO];
    const u = await startUsherReady(['--socket', sock, '--chmod-socket', '666', '--limit-post', String(LIMIT), ...app]);
    const nginx = await startNginx({ serverBlock: `server {\n  listen 127.0.0.1:{{PORT}};\n  client_max_body_size 10m;\n  location / {\n    include uwsgi_params;\n    uwsgi_pass unix:${sock};\n  }\n}` });
    try {
      const path = runtime === 'python' ? '/sum' : '/echo';
      assert.equal(await post(nginx.port, path, 1000, false), 200);
      assert.equal(await post(nginx.port, path, LIMIT * 4, false), 413, 'Nginx passes the 413 on (not a 502)');
      assert.equal(await post(nginx.port, path, LIMIT * 4, true), 413, 'a chunked body (Nginx sends it with a length)');
      assert.equal(await post(nginx.port, path, 1000, false), 200, 'the worker keeps serving');
    } finally {
      await nginx.stop();
      await u.stop();
      tmp.remove();
    }
  });
}
