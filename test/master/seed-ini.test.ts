// The seed's two uwsgi.ini files, verbatim but for paths (and wsgi-file swapped for a Node `app`),
// run with `usher --ini`: sockets, chmod-socket, pidfile, vacuum, worker count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir, freePort, childPids, REPO } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const ECHO = join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs');

test('seed mode 1 (http = 127.0.0.1:PORT) serves with 4 workers, writes and vacuums the pidfile', async () => {
  const tmp = tempDir();
  try {
    const port = await freePort();
    copyFileSync(ECHO, join(tmp.dir, 'echo.mjs'));
    const ini = join(tmp.dir, 'uwsgi.ini');
    writeFileSync(ini, `[uwsgi]
http = 127.0.0.1:${port}
chdir = ${tmp.dir}
app = echo.mjs
processes = 4
threads = 2
master = true
vacuum = true
`);
    const pidfile = join(tmp.dir, 'usher.pid');
    const u = await startUsherReady(['--ini', ini, '--pidfile', pidfile]);
    assert.equal(readFileSync(pidfile, 'utf8').trim(), String(u.pid));
    // 4 workers, all children of the master (Node workers serve `http` themselves: no router).
    assert.equal((await childPids(u.pid)).length, 4);
    const res = await fetch(`http://127.0.0.1:${port}/hello?x=1`, { headers: { 'x-custom': 'abc' } });
    assert.equal(res.status, 200);
    const body = await res.json() as { url: string; headers: Record<string, string>; method: string };
    assert.equal(body.url, '/hello?x=1');
    assert.equal(body.headers['x-custom'], 'abc');
    const exit = await u.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.equal(existsSync(pidfile), false, 'vacuum removes the pidfile');
  } finally {
    tmp.remove();
  }
});

test('seed mode 2 (socket + chmod-socket = 660) creates the socket with mode 660 and removes it on exit', async () => {
  const tmp = tempDir();
  try {
    copyFileSync(ECHO, join(tmp.dir, 'echo.mjs'));
    const sock = join(tmp.dir, 'guestbook.sock');
    const ini = join(tmp.dir, 'uwsgi.ini');
    writeFileSync(ini, `[uwsgi]
socket = ${sock}
chmod-socket = 660

chdir = ${tmp.dir}
app = echo.mjs

processes = 4
threads = 2
master = true
vacuum = true
`);
    const pidfile = join(tmp.dir, 'usher.pid');
    const u = await startUsherReady(['--ini', ini, '--pidfile', pidfile]);
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal((await childPids(u.pid)).length, 4);
    const res = await uwsgiRequest(sock, 'GET', '/q?a=b', { headers: { 'x-custom': 'v' } });
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body.toString()) as { url: string; headers: Record<string, string>; remoteAddress: string };
    assert.equal(body.url, '/q?a=b');
    assert.equal(body.headers['x-custom'], 'v');
    assert.equal(body.remoteAddress, '203.0.113.7', 'REMOTE_ADDR reaches the app as req.socket.remoteAddress');
    const exit = await u.stop('SIGTERM');
    assert.equal(exit.code, 0);
    assert.equal(existsSync(sock), false, 'vacuum removes the socket');
    assert.equal(existsSync(pidfile), false, 'vacuum removes the pidfile');
  } finally {
    tmp.remove();
  }
});
