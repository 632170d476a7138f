// Python WSGI apps under usher: the runner serves PEP 3333 correctly (wsgiref's validator sees no
// violation), over the uwsgi socket (as Nginx/Apache reach it) and over `http` (usher's router);
// failures at startup stop usher with the Python error; failures in requests do not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { startUsher, startUsherReady, tempDir, freePort, childPids, REPO } from '../helpers/usher.js';
import { havePython } from '../helpers/python-runner.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const PY = '/usr/bin/python3';
const APPS = join(REPO, 'test', 'fixtures', 'apps');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const requirePython = havePython;

test('WSGI app behind the uwsgi socket and over http: PEP 3333 without a single validator AssertionError', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const port = await freePort();
  const u = await startUsherReady(['--socket', sock, '--http', `127.0.0.1:${port}`, '--processes', '2', '--threads', '2',
    '--wsgi-file', join(APPS, 'wsgi_suite.py'), '--python', PY]);
  try {
    // over the uwsgi protocol
    const g = await uwsgiRequest(sock, 'GET', '/?a=1');
    assert.equal(g.status, 200);
    assert.equal(g.body.toString(), 'hello from wsgi GET /?a=1 scheme=http mt=True mp=True addr=203.0.113.7\n');
    const pieces = await uwsgiRequest(sock, 'POST', '/pieces', { body: Buffer.from('12345line one\nrest of it'), headers: { 'content-type': 'text/plain' } });
    assert.equal(pieces.body.toString(), 'first=12345|line=line one|rest=10');
    const s = await uwsgiRequest(sock, 'GET', '/stream');
    assert.equal(s.body.toString(), 'part 0\npart 1\npart 2\npart 3\npart 4\n');
    const w = await uwsgiRequest(sock, 'GET', '/write');
    assert.equal(w.body.toString(), 'written then returned\n');
    const f = await uwsgiRequest(sock, 'GET', '/file');
    assert.equal(f.body.length, 100000);
    const h = await uwsgiRequest(sock, 'HEAD', '/');
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
    const nf = await uwsgiRequest(sock, 'GET', '/nope');
    assert.equal(nf.status, 404);
    const e = await uwsgiRequest(sock, 'GET', '/error');
    assert.equal(e.status, 500);
    assert.equal((await uwsgiRequest(sock, 'GET', '/')).status, 200, 'the worker keeps serving after an app exception');

    // over http, through usher's router
    const base = `http://127.0.0.1:${port}`;
    const hg = await fetch(`${base}/?b=2`);
    assert.equal(await hg.text(), 'hello from wsgi GET /?b=2 scheme=http mt=True mp=True addr=127.0.0.1\n');
    const hs = await fetch(`${base}/stream`);
    assert.equal(await hs.text(), 'part 0\npart 1\npart 2\npart 3\npart 4\n');
    const hh = await fetch(`${base}/`, { method: 'HEAD' });
    assert.equal(hh.status, 200);
    const big = randomBytes(10 * 1024 * 1024);
    const echo = await fetch(`${base}/echo`, { method: 'POST', body: big });
    assert.equal(await echo.text(), `${big.length} ${createHash('sha256').update(big).digest('hex')}`);
    // A 10 MB body echoed back byte for byte, streamed both ways (chunked response through the router).
    const back = await fetch(`${base}/echo-back`, { method: 'POST', body: big });
    assert.equal(back.status, 200);
    assert.ok(Buffer.from(await back.arrayBuffer()).equals(big), 'the 10 MB body came back intact over http');
    const sockBack = await uwsgiRequest(sock, 'POST', '/echo-back', { body: big, headers: { 'content-type': 'application/octet-stream' } });
    assert.ok(sockBack.body.equals(big), 'and over the uwsgi socket');
    const he = await fetch(`${base}/error`);
    assert.equal(he.status, 500);
    const errs = await fetch(`${base}/errors-stream`);
    assert.equal(errs.status, 204);

    await sleep(200);
    const out = u.output();
    assert.doesNotMatch(out, /AssertionError/, 'wsgiref.validate found no violation');
    assert.match(out, /failing on purpose/, 'the app exception is logged with its traceback');
    assert.match(out, /a line for wsgi\.errors/, 'wsgi.errors goes to the log');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('an app that breaks PEP 3333 gets a 500 and a log line saying what it did; the worker keeps serving', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const port = await freePort();
  // one worker, one thread: every breach below must leave it able to serve the next request
  const u = await startUsherReady(['--socket', sock, '--http', `127.0.0.1:${port}`, '--processes', '1', '--threads', '1',
    '--wsgi-file', join(APPS, 'wsgi_spec_breakers.py'), '--python', PY]);
  try {
    const cases: Array<[string, RegExp]> = [
      ['/str-body', /broke PEP 3333: response body chunks must be bytes, got str/],
      ['/no-start-response', /broke PEP 3333: the app returned a body without calling start_response\(\)/],
      ['/header-not-tuple', /broke PEP 3333: each header must be a \(str, str\) tuple/],
      ['/hop-by-hop', /broke PEP 3333: hop-by-hop header 'Connection' is the server's to set/],
      ['/bad-status', /broke PEP 3333: status must look like "200 OK", got 'OK'/],
      ['/header-newline', /broke PEP 3333: header 'X-Injected' contains a line break/],
      ['/twice', /broke PEP 3333: start_response called a second time without exc_info/],
    ];
    for (const [path, logged] of cases) {
      const viaSocket = await uwsgiRequest(sock, 'GET', path);
      assert.equal(viaSocket.status, 500, `${path} over the uwsgi socket`);
      assert.doesNotMatch(viaSocket.body.toString(), /evil|str, not bytes|nobody called/, `${path}: nothing of the broken response leaks`);
      const viaHttp = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal(viaHttp.status, 500, `${path} over http`);
      assert.equal(viaHttp.headers.get('set-cookie'), null);
      await u.waitFor(new RegExp(`${logged.source}.*uri=${path.replace(/\//g, '\\/')}`), 5_000);
      const ok = await fetch(`http://127.0.0.1:${port}/ok`);
      assert.equal(await ok.text(), 'ok\n', `the worker serves after ${path}`);
    }
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('a Python worker that dies is replaced', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--wsgi-file', join(APPS, 'wsgi_suite.py'), '--python', PY]);
  try {
    const [before] = await childPids(u.pid);
    await uwsgiRequest(sock, 'GET', '/die').catch(() => undefined);
    await u.waitFor(/worker died; respawning .*exit=7/);
    await u.waitFor(/worker spawned id=1 pid=(?!${before})/);
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = await uwsgiRequest(sock, 'GET', '/').then((r) => r.status === 200, () => false);
      if (!ok) await sleep(100);
    }
    assert.ok(ok, 'the replacement serves');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

for (const [name, file, pattern] of [
  ['ImportError', 'wsgi_broken_import.py', /ModuleNotFoundError: No module named 'module_that_does_not_exist'/],
  ['SyntaxError', 'wsgi_syntax_error.py', /SyntaxError: expected ':' \(wsgi_syntax_error\.py, line 2\)/],
  ['no callable', 'wsgi_no_callable.py', /defines no callable named 'application' \(set `callable`/],
] as const) {
  test(`startup failure (${name}): the Python error once, usher exits non-zero, no respawn storm`, async (ctx) => {
    if (!requirePython(ctx)) return;
    const tmp = tempDir();
    const u = startUsher(['--socket', join(tmp.dir, 'a.sock'), '--processes', '4', '--wsgi-file', join(APPS, file), '--python', PY]);
    const exit = await Promise.race([u.exited, sleep(30_000).then(() => ({ code: -1, signal: null }))]);
    if (exit.code === -1) await u.stop('SIGKILL');
    tmp.remove();
    const out = u.output();
    assert.equal(exit.code, 1);
    assert.match(out, pattern);
    assert.match(out, /could not be loaded; stopping usher/);
    // One worker loads the app first: one error, one traceback, however many processes are asked for.
    assert.equal(out.split('\n').filter((l) => /(worker|fork-server) spawned/.test(l)).length, 1, 'one process loaded the app, no respawns');
    assert.equal(out.split('\n').filter((l) => /app could not be loaded error=/.test(l)).length, 1, 'the error once');
    assert.ok(out.split('\n').filter((l) => /^Traceback/.test(l)).length <= 1, 'the traceback at most once');
    assert.doesNotMatch(out, /usher_wsgi[/.]/, "the runner's own frames are left out of the app's traceback");
  });
}

test('startup failure (missing wsgi-file): a message naming the file, exit 1', async () => {
  const u = startUsher(['--socket', '/tmp/usher-never.sock', '--wsgi-file', '/nonexistent/wsgi.py', '--python', PY]);
  const exit = await u.exited;
  assert.equal(exit.code, 1);
  assert.match(u.output(), /wsgi-file not found: \/nonexistent\/wsgi\.py/);
});

test('SIGHUP under load through the HTTP router (kept worker connections): zero failed requests', async (ctx) => {
  if (!requirePython(ctx)) return;
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--processes', '2', '--threads', '2', '--wsgi-file', join(APPS, 'wsgi_suite.py'), '--python', PY, '--disable-logging']);
  try {
    const before = new Set((await childPids(u.pid)).map(String));
    let done = false;
    const reloaded = u.waitFor(/reload complete/, 30_000).then(() => sleep(1000)).finally(() => { done = true; });
    const failures: string[] = [];
    const pids = new Set<string>();
    let ok = 0;
    const client = async (): Promise<void> => {
      while (!done) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/pid`);
          const t = await r.text();
          if (r.status === 200) { ok++; pids.add(t); } else failures.push(`status ${r.status}`);
        } catch (e) { failures.push((e as Error).message); }
      }
    };
    const clients = Promise.all([client(), client(), client(), client()]);
    await sleep(500);
    process.kill(u.pid, 'SIGHUP');
    await reloaded;
    await clients;
    assert.deepEqual(failures, []);
    assert.ok(ok > 50, `${ok} requests`);
    assert.ok([...pids].some((p) => !before.has(p)), 'new workers served');
  } finally {
    await u.stop();
  }
});

test('a client that disconnects mid-response: close() is called and the worker is free again', async (ctx) => {
  if (!requirePython(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const marker = join(tmp.dir, 'closed.txt');
  // one worker, one thread: if the aborted request left it stuck, the next request could not be served
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--threads', '1', '--wsgi-file', join(APPS, 'wsgi_suite.py'), '--python', PY]);
  try {
    const { connectTarget } = await import('../helpers/uwsgi-client.js');
    const { encodePacket } = await import('../../src/protocol/index.js');
    const { uwsgiVars } = await import('../helpers/uwsgi-client.js');
    await new Promise<void>((resolve, reject) => {
      const c = connectTarget(sock);
      let got = 0;
      c.on('connect', () => c.write(encodePacket(uwsgiVars('GET', `/slow-stream?${marker}`))));
      c.on('data', (d: Buffer) => {
        got += d.length;
        if (got > 200_000) { c.destroy(); resolve(); }
      });
      c.on('error', reject);
    });
    let closed = false;
    for (let i = 0; i < 100 && !closed; i++) {
      closed = existsSync(marker);
      if (!closed) await sleep(50);
    }
    assert.ok(closed, 'the app iterable was closed after the client went away');
    const next = await uwsgiRequest(sock, 'GET', '/');
    assert.equal(next.status, 200, 'the only worker thread serves the next request');
    await u.waitFor(/client went away mid-response/, 5_000);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('a Python app on http-socket (and its alias http11-socket) is served over plain HTTP, keep-alive included', async (ctx) => {
  if (!requirePython(ctx)) return;
  const port = await freePort();
  const port11 = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--http11-socket', `127.0.0.1:${port11}`, '--processes', '2', '--threads', '2',
    '--wsgi-file', join(APPS, 'wsgi_suite.py'), '--python', PY]);
  try {
    for (const p of [port, port11]) {
      const base = `http://127.0.0.1:${p}`;
      assert.equal(await (await fetch(`${base}/?b=2`)).text(), 'hello from wsgi GET /?b=2 scheme=http mt=True mp=True addr=127.0.0.1\n');
      assert.equal(await (await fetch(`${base}/stream`)).text(), 'part 0\npart 1\npart 2\npart 3\npart 4\n');
      assert.equal((await fetch(`${base}/`, { method: 'HEAD' })).status, 200);
      const big = randomBytes(1024 * 1024);
      const back = await fetch(`${base}/echo-back`, { method: 'POST', body: big });
      assert.ok(Buffer.from(await back.arrayBuffer()).equals(big), 'a 1 MB body came back intact');
      assert.equal((await fetch(`${base}/error`)).status, 500);
    }
    // Keep-alive: many requests over one connection.
    const agentRes = await new Promise<string[]>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      let data = '';
      sock.on('data', (d) => { data += d.toString(); if ((data.match(/hello from wsgi/g) ?? []).length === 3) { sock.end(); resolve(data.match(/^HTTP\/1\.1 \d+/gm) ?? []); } });
      sock.on('error', reject);
      sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    assert.deepEqual(agentRes, ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200'], 'three requests answered on one connection');
    assert.doesNotMatch(u.output(), /AssertionError/);
  } finally {
    await u.stop();
  }
});
