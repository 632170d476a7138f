// Node apps as people write them: an Express app (from npm, CommonJS) and a fetch-style handler,
// each behind the uwsgi socket (as Nginx/Apache reach it) and over HTTP (usher's router).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');

async function serve(app: string): Promise<{ http: string; sock: string; stop: () => Promise<void> }> {
  const tmp = tempDir();
  const port = await freePort();
  const sock = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--socket', sock, '--processes', '2', '--app', join(APPS, app)]);
  return { http: `http://127.0.0.1:${port}`, sock, stop: async () => { await u.stop(); tmp.remove(); } };
}

test('Express app over HTTP and over the uwsgi socket', async () => {
  const s = await serve('express-app.cjs');
  try {
    const a = await fetch(`${s.http}/?name=ana`);
    assert.equal(a.status, 200);
    assert.match(await a.text(), /^hello from express ana ip=.*127\.0\.0\.1 proto=http$/);
    const form = await fetch(`${s.http}/form`, { method: 'POST', body: new URLSearchParams({ x: '1', y: 'two words' }) });
    assert.deepEqual(await form.json(), { got: { x: '1', y: 'two words' } });
    assert.deepEqual(await (await fetch(`${s.http}/users/42`)).json(), { id: '42' });
    const missing = await fetch(`${s.http}/nope`);
    assert.equal(missing.status, 404);

    const u = await uwsgiRequest(s.sock, 'GET', '/?name=bob', { headers: { 'x-forwarded-proto': 'https' } });
    assert.equal(u.status, 200);
    assert.match(u.body.toString(), /^hello from express bob ip=203\.0\.113\.7 proto=http$/);
    const body = Buffer.from('x=9');
    const uf = await uwsgiRequest(s.sock, 'POST', '/form', { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(uf.status, 200);
    assert.deepEqual(JSON.parse(uf.body.toString()), { got: { x: '9' } });
  } finally {
    await s.stop();
  }
});

test('fetch-style handler over HTTP and over the uwsgi socket', async () => {
  const s = await serve('fetch-handler.mjs');
  try {
    const a = await fetch(`${s.http}/hi?q=1`);
    assert.equal(a.status, 200);
    assert.equal(await a.text(), 'hello from fetch /hi?q=1\n');
    assert.equal(a.headers.get('x-handler'), 'fetch');
    assert.deepEqual(a.headers.getSetCookie(), ['a=1', 'b=2']);
    const p = await fetch(`${s.http}/post`, { method: 'POST', body: 'x'.repeat(5000) });
    assert.deepEqual(await p.json(), { method: 'POST', path: '/post', query: '', length: 5000, body: 'x'.repeat(100) });

    const u = await uwsgiRequest(s.sock, 'GET', '/via-uwsgi?z=2');
    assert.equal(u.status, 200);
    assert.equal(u.body.toString(), 'hello from fetch /via-uwsgi?z=2\n');
    const up = await uwsgiRequest(s.sock, 'POST', '/p', { body: Buffer.from('hello') });
    assert.equal(JSON.parse(up.body.toString()).length, 5);
  } finally {
    await s.stop();
  }
});
