// usher's HTTP router in front of Node workers (`http-router = true`): the router keeps its worker
// connections (uwsgi modifier2 = 1) and the workers frame their answers (Content-Length or chunked),
// so bodies of every shape arrive whole, request after request, and a reload drops nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startUsherReady, freePort, REPO } from '../helpers/usher.js';

const ECHO = join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('router -> Node workers on kept connections: lengths, chunked streams, HEAD, uploads, unread bodies', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--http-router', '--processes', '2', '--app', ECHO]);
  const base = `http://127.0.0.1:${port}`;
  try {
    assert.match(u.output(), /router spawned/);
    for (let i = 0; i < 30; i++) {
      const g = await fetch(`${base}/q?i=${i}`, { headers: { 'x-n': String(i) } });
      const body = await g.json() as { url: string; headers: Record<string, string> };
      assert.equal(body.url, `/q?i=${i}`);
      assert.equal(body.headers['x-n'], String(i));
      const s = await fetch(`${base}/stream`);
      assert.equal(await s.text(), 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\ndone\n');
    }
    const h = await fetch(`${base}/`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    const big = randomBytes(3 * 1024 * 1024);
    const up = await fetch(`${base}/upload`, { method: 'POST', body: big });
    assert.equal((await up.json() as { sha256: string }).sha256, createHash('sha256').update(big).digest('hex'));
    const ig = await fetch(`${base}/ignore-body`, { method: 'POST', body: randomBytes(1024 * 1024) });
    assert.equal(await ig.text(), 'ignored\n');
    const after = await fetch(`${base}/pid`);
    assert.equal(after.status, 200);
  } finally {
    await u.stop();
  }
});

test('router: a kept worker connection paused by a slow client is resumed before it is reused', async () => {
  // One worker, one request at a time: the connection that carried the big answer carries the next one.
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--http-router', '--processes', '1', '--app', ECHO, '--disable-logging']);
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let round = 0; round < 3; round++) {
      const big = await fetch(`${base}/big?mb=16`);
      await sleep(300); // read nothing for a while: the router's client buffer fills and it pauses the worker link
      assert.equal((await big.arrayBuffer()).byteLength, 16 * 1024 * 1024);
      const next = await fetch(`${base}/pid`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(next.status, 200, `round ${round}: the next request on the reused connection is answered`);
      await next.text();
    }
  } finally {
    await u.stop();
  }
});

test('router -> Node workers: SIGHUP under load drops nothing', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--http-router', '--processes', '2', '--app', ECHO, '--disable-logging']);
  try {
    let done = false;
    const reloaded = u.waitFor(/reload complete/, 30_000).then(() => sleep(1000)).finally(() => { done = true; });
    const failures: string[] = [];
    let ok = 0;
    const client = async (): Promise<void> => {
      while (!done) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/pid`);
          await r.text();
          if (r.status === 200) ok++; else failures.push(String(r.status));
        } catch (e) { failures.push((e as Error).message); }
      }
    };
    const clients = Promise.all([client(), client(), client()]);
    await sleep(400);
    process.kill(u.pid, 'SIGHUP');
    await reloaded;
    await clients;
    assert.deepEqual(failures, []);
    assert.ok(ok > 50);
  } finally {
    await u.stop();
  }
});
