// Sockets listen from the moment they exist: requests fired as soon as the socket file appears (or
// the TCP port is listening), while the app is still loading, all succeed: none is refused (no 502
// through Nginx) and none is swallowed by the master. The `listen` backlog reaches the kernel on
// every listener. Bad socket paths stop usher with a clear message and nothing left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startUsher, startUsherReady, tempDir, freePort, REPO, type UsherProc } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';
import { requireTool, startNginx, seedNginxSocket } from '../helpers/fronts.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const PY = '/usr/bin/python3';
const NODE_APP = ['--app', join(APPS, 'slow-start.mjs')];
const PY_APP = ['--wsgi-file', join(APPS, 'wsgi_slow_start.py'), '--python', PY];

/** Poll fast (the point is to be early), give up after a while. */
async function waitUntil(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The TCP port is in the LISTEN state (from /proc/net/tcp, without connecting). */
function tcpListening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((f) => readFileSync(f, 'utf8').split('\n').some((l) => {
    const c = l.trim().split(/\s+/);
    return c[1]?.endsWith(hex) === true && c[3] === '0A';
  }));
}

/** A request the master accepted would never be answered: give each one a deadline. */
function withDeadline(one: () => Promise<number>): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<number>((_, reject) => { timer = setTimeout(() => reject(new Error('no answer within 20 s (a connection nobody serves)')), 20_000); });
  return Promise.race([one(), deadline]).finally(() => clearTimeout(timer));
}

async function fire(n: number, one: () => Promise<number>): Promise<{ ok: number; errors: string[] }> {
  const results = await Promise.allSettled(Array.from({ length: n }, () => withDeadline(one)));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).cause ?? r.reason)] : r.value === 200 ? [] : [`status ${r.value}`]));
  return { ok: results.length - errors.length, errors };
}

async function early(args: string[], ready: () => boolean, send: () => Promise<number>): Promise<{ ok: number; errors: string[]; u: UsherProc }> {
  const u = startUsher(args, { env: { SLOW_START_MS: '1500' } });
  try {
    await waitUntil(() => ready() || u.proc.exitCode !== null, 'the socket');
    assert.equal(u.output().includes('master: ready'), false, 'requests go out before the workers are ready');
    const r = await fire(50, send);
    return { ...r, u };
  } catch (err) {
    await u.stop('SIGKILL');
    throw err;
  }
}

for (const [runtime, app] of [['Node', NODE_APP], ['Python', PY_APP]] as const) {
  test(`${runtime} app, socket: 50 uwsgi requests as soon as the socket file exists, 0 errors`, async () => {
    const tmp = tempDir();
    const sock = join(tmp.dir, 'app.sock');
    try {
      const { ok, errors, u } = await early(['--socket', sock, '--processes', '2', ...app], () => existsSync(sock), async () => (await uwsgiRequest(sock, 'GET', '/')).status);
      await u.stop();
      assert.deepEqual(errors, []);
      assert.equal(ok, 50);
    } finally {
      tmp.remove();
    }
  });

  test(`${runtime} app, http: 50 HTTP requests as soon as the port listens, 0 errors`, async () => {
    const port = await freePort();
    const { ok, errors, u } = await early(['--http', `127.0.0.1:${port}`, '--processes', '2', ...app], () => tcpListening(port), async () => (await fetch(`http://127.0.0.1:${port}/`)).status);
    await u.stop();
    assert.deepEqual(errors, []);
    assert.equal(ok, 50);
  });

  test(`${runtime} app, socket behind real Nginx: 50 requests as soon as the socket exists, 0 errors (no 502)`, async () => {
    requireTool('nginx');
    const tmp = tempDir();
    const sock = join(tmp.dir, 'app.sock');
    const nginx = await startNginx({ serverBlock: seedNginxSocket({ socketPath: sock, staticDir: tmp.dir }) });
    try {
      const { ok, errors, u } = await early(['--socket', sock, '--chmod-socket', '660', '--processes', '2', ...app], () => existsSync(sock), async () => (await fetch(`${nginx.url}/`)).status);
      await u.stop();
      assert.deepEqual(errors, []);
      assert.equal(ok, 50);
    } finally {
      await nginx.stop();
      tmp.remove();
    }
  });
}

/** Backlogs of listening sockets, by local address, from `ss`. */
function backlogs(args: string[]): Map<string, number> {
  const out = spawnSync('ss', ['-H', ...args], { encoding: 'utf8' }).stdout;
  const m = new Map<string, number>();
  for (const l of out.split('\n')) {
    const c = l.trim().split(/\s+/);
    if (args[0] === '-lx' && c[4]) m.set(c[4], Number(c[3]));
    else if (c[3]) m.set(c[3], Number(c[2]));
  }
  return m;
}

test('listen = 1024 is the backlog of http, http-socket and socket (Node workers, the HTTP router, Python workers)', async () => {
  requireTool('ss');
  const tmp = tempDir();
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const sock = join(tmp.dir, 'n.sock');
  const pysock = join(tmp.dir, 'p.sock');
  const node = await startUsherReady(['--http', `127.0.0.1:${p1}`, '--http-socket', `127.0.0.1:${p2}`, '--socket', sock, '--listen', '1024', ...NODE_APP], { env: { SLOW_START_MS: '0' } });
  const py = await startUsherReady(['--http', `127.0.0.1:${p3}`, '--socket', pysock, '--listen', '1024', ...PY_APP], { env: { SLOW_START_MS: '0' } });
  try {
    const tcp = backlogs(['-ltn']);
    const unix = backlogs(['-lx']);
    assert.equal(tcp.get(`127.0.0.1:${p1}`), 1024, 'http (Node workers)');
    assert.equal(tcp.get(`127.0.0.1:${p2}`), 1024, 'http-socket');
    assert.equal(tcp.get(`127.0.0.1:${p3}`), 1024, 'http (the HTTP router, Python app)');
    assert.equal(unix.get(sock), 1024, 'socket (Node workers)');
    assert.equal(unix.get(pysock), 1024, 'socket (Python workers)');
  } finally {
    await node.stop();
    await py.stop();
    tmp.remove();
  }
});

test('a unix socket path over 107 bytes is refused at startup, nothing left behind', async () => {
  const tmp = tempDir();
  const sock = join(tmp.dir, `${'x'.repeat(120)}.sock`);
  try {
    const u = startUsher(['--socket', sock, '--pidfile', join(tmp.dir, 'u.pid'), ...NODE_APP]);
    const exit = await u.exited;
    assert.equal(exit.code, 1);
    assert.match(u.output(), /the unix socket path is \d+ bytes, the kernel takes at most 107/);
    assert.match(u.output(), /code=USHER_ERR_BIND/);
    assert.doesNotMatch(u.output(), /^\s+at /m, 'no stack trace');
    assert.deepEqual(readdirSync(tmp.dir), [], 'no socket file (cut or not), no pidfile');
  } finally {
    tmp.remove();
  }
});

test('a socket in a folder that does not exist: "does not exist", not EACCES', async () => {
  const tmp = tempDir();
  try {
    const u = startUsher(['--socket', join(tmp.dir, 'missing', 'app.sock'), '--pidfile', join(tmp.dir, 'u.pid'), ...NODE_APP]);
    const exit = await u.exited;
    assert.equal(exit.code, 1);
    assert.match(u.output(), /socket .*missing\/app\.sock: the folder .*missing does not exist; create it/);
    assert.doesNotMatch(u.output(), /EACCES/);
    assert.deepEqual(readdirSync(tmp.dir), []);
  } finally {
    tmp.remove();
  }
});

test('a stale socket from a dead instance is replaced; a live one is a clear error and stays untouched', async () => {
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  try {
    const dead = await startUsherReady(['--socket', sock, ...NODE_APP], { env: { SLOW_START_MS: '0' } });
    await dead.stop('SIGKILL');
    assert.equal(existsSync(sock), true, 'a killed master leaves its socket file');
    const live = await startUsherReady(['--socket', sock, ...NODE_APP], { env: { SLOW_START_MS: '0' } });
    try {
      assert.equal((await uwsgiRequest(sock, 'GET', '/')).status, 200);
      const second = startUsher(['--socket', sock, ...NODE_APP]);
      assert.equal((await second.exited).code, 1);
      assert.match(second.output(), /cannot bind .*app\.sock: another server is listening on it \(is usher already running\?\)/);
      assert.equal((await uwsgiRequest(sock, 'GET', '/')).status, 200, 'the running instance still serves');
    } finally {
      await live.stop();
    }
  } finally {
    tmp.remove();
  }
});
