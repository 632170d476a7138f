// static-map through real usher, on every path a request arrives by: a Node worker speaking HTTP
// (`http-socket`), usher's HTTP router in front of Python workers (`http`), and a Python and a Node
// worker behind real Nginx `uwsgi_pass` (`socket`). The file comes back byte for byte with its MIME
// type, a conditional request gets 304, the app still answers everything else, and a traversal never
// leaves the root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsherReady, tempDir, freePort, REPO, type UsherProc } from '../helpers/usher.js';
import { startNginx, requireTool } from '../helpers/fronts.js';

const PY = '/usr/bin/python3';
const tmp = tempDir('usher-static-');
const root = join(tmp.dir, 'assets');
const css = Buffer.from('body { color: #123456; }\n'.repeat(200));

before(() => {
  mkdirSync(join(root, 'css'), { recursive: true });
  writeFileSync(join(root, 'css', 'site.css'), css);
  writeFileSync(join(tmp.dir, 'secret.txt'), 'canary: never served\n');
  chmodSync(root, 0o755);
});
after(() => tmp.remove());

async function check(base: string, label: string, appMarker: RegExp): Promise<void> {
  const r = await fetch(`${base}/static/css/site.css`);
  assert.equal(r.status, 200, `${label}: served`);
  assert.match(r.headers.get('content-type') ?? '', /^text\/css/, `${label}: MIME type from the table`);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), css, `${label}: byte for byte`);
  const etag = r.headers.get('etag');
  assert.ok(etag, `${label}: ETag`);
  const again = await fetch(`${base}/static/css/site.css`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304, `${label}: conditional GET`);
  await again.arrayBuffer();
  for (const evil of ['/static/../secret.txt', '/static/%2e%2e/secret.txt', '/static/css/..%2f..%2fsecret.txt']) {
    const e = await fetch(`${base}${evil}`);
    const body = await e.text();
    assert.doesNotMatch(body, /canary/, `${label}: ${evil} never leaves the root`);
  }
  const app = await fetch(`${base}/hello`);
  assert.match(await app.text(), appMarker, `${label}: the app answers the rest`);
}


async function withUsher(args: string[], fn: (u: UsherProc) => Promise<void>): Promise<void> {
  const u = await startUsherReady([...args, '--static-map', `/static=${root}`]);
  try {
    await fn(u);
  } finally {
    await u.stop();
  }
}

test('Node worker, http-socket: static-map served by the worker', async () => {
  const port = await freePort();
  await withUsher(['--http-socket', `127.0.0.1:${port}`, '--app', join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs')], async () => {
    await check(`http://127.0.0.1:${port}`, 'node http-socket', /"url":"\/hello"/);
  });
});

test('Python workers behind usher\'s HTTP router: static-map served by the router', async (ctx) => {
  if (!havePython(ctx)) return;
  const port = await freePort();
  await withUsher(['--http', `127.0.0.1:${port}`, '--wsgi-file', join(REPO, 'bench', 'apps', 'hello_wsgi.py'), '--python', PY], async () => {
    await check(`http://127.0.0.1:${port}`, 'python http', /Hello/i);
  });
});

for (const runtime of ['python', 'node'] as const) {
  test(`${runtime} worker behind real Nginx uwsgi_pass: static-map served by the worker`, async (ctx) => {
    if (runtime === 'python' && !havePython(ctx)) return;
    if (!requireTool('nginx')) { ctx.skip('nginx is not installed'); return; }
    const sock = join(tmp.dir, `${runtime}.sock`);
    const app = runtime === 'python' ? ['--wsgi-file', join(REPO, 'bench', 'apps', 'hello_wsgi.py'), '--python', PY] : ['--app', join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs')];
    await withUsher(['--socket', sock, '--chmod-socket', '666', ...app], async () => {
      const nginx = await startNginx({ serverBlock: `server {\n  listen 127.0.0.1:{{PORT}};\n  location / {\n    include uwsgi_params;\n    uwsgi_pass unix:${sock};\n  }\n}` });
      try {
        await check(nginx.url.replace(/\/$/, ''), `${runtime} behind nginx`, runtime === 'python' ? /Hello/i : /"url":"\/hello"/);
      } finally {
        await nginx.stop();
      }
    });
  });
}
