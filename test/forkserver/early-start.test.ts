// A plain Python app's fork-server is started as soon as the config is read, before the master binds
// (spawn.ts spawnEarlyForkServer); the master hands it the bound sockets over its IPC channel and the
// log pipe by /proc. It must end up exactly as a fork-server spawned afterwards: the same sockets at
// the same fds, the app's output in usher's log, `env` and `chdir` applied. A master that fails before
// the hand-over leaves no Python process behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startUsher, startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';
import { havePython } from '../helpers/python-runner.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const PY = '/usr/bin/python3';
const HELLO = join(REPO, 'bench', 'apps', 'hello_wsgi.py');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Says at import what it was started with (on stderr: usher's log), answers its pid.
const APP = `import os, sys
sys.stderr.write('imported in %s with TAG=%s\\n' % (os.path.basename(os.getcwd()), os.environ.get('TAG')))
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [str(os.getpid()).encode()]
`;

function socketInode(pid: number, fd: number): string | undefined {
  try {
    return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
  } catch {
    return undefined;
  }
}

/** Pids of processes whose environment holds `entry` (the test's own tag: nothing else has it). */
function tagged(entry: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(entry)) pids.push(Number(name));
    } catch { /* gone, or not ours to read */ }
  }
  return pids;
}

test('the early fork-server gets the master\'s sockets at the spawn fds, the log file, env and chdir, and serves on both sockets', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  const appDir = join(tmp.dir, 'appdir');
  const tag = randomUUID();
  try {
    mkdirSync(appDir);
    writeFileSync(join(appDir, 'app.py'), APP);
    const port = await freePort();
    const unix = join(tmp.dir, 'app.sock');
    const logFile = join(tmp.dir, 'usher.log');
    const u = startUsher(['--socket', `127.0.0.1:${port}`, '--socket', unix, '--chdir', appDir, '--wsgi-file', 'app.py', '--python', PY,
      '--processes', '2', '--env', `TAG=${tag}`, '--logto', logFile]);
    try {
      const read = (): string => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } };
      for (let i = 0; i < 400 && !/master: ready/.test(read()) && u.proc.exitCode === null; i++) await sleep(50);
      const log = read();
      assert.match(log, /master: ready/, u.output());
      const fsPid = Number(/fork-server spawned pid=(\d+) generation=1 early=true/.exec(log)?.[1]);
      assert.ok(fsPid > 0, `an early fork-server in the log:\n${log}`);
      assert.match(log, new RegExp(`imported in appdir with TAG=${tag}`), 'the app\'s import output went to the log file, with env and chdir applied');
      // The fork-server holds the master's two sockets where a spawned one would: fds 4 and 5.
      const master = new Set(readdirSync(`/proc/${u.pid}/fd`).map((fd) => socketInode(u.pid, Number(fd))).filter(Boolean));
      for (const fd of [4, 5]) {
        const ino = socketInode(fsPid, fd);
        assert.ok(ino !== undefined && master.has(ino), `fd ${fd} of the fork-server is one of the master's sockets (${ino})`);
      }
      // stdout and stderr: the master's log pipe (a FIFO whose name is removed at once), as the workers'.
      const out = readlinkSync(`/proc/${fsPid}/fd/1`);
      const masterFds = readdirSync(`/proc/${u.pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${u.pid}/fd/${fd}`); } catch { return ''; } });
      assert.ok(/usher-log-/.test(out) && masterFds.includes(out), `fd 1 of the fork-server is the master's log pipe (${out})`);
      assert.equal(readlinkSync(`/proc/${fsPid}/fd/2`), out);
      for (const target of [`127.0.0.1:${port}`, unix]) {
        const r = await uwsgiRequest(target, 'GET', '/');
        assert.equal(r.status, 200, target);
        assert.equal(readlinkSync(`/proc/${Number(r.body.toString())}/fd/1`), out, 'a worker writes to that pipe too');
      }
    } finally {
      await u.stop();
    }
  } finally {
    tmp.remove();
  }
});

test('a master that fails after starting the fork-server early (address in use) leaves no Python process and no word from it', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const port = (busy.address() as { port: number }).port;
  const tag = `TAG=${randomUUID()}`;
  try {
    writeFileSync(join(tmp.dir, 'app.py'), APP);
    const u = startUsher(['--socket', `127.0.0.1:${port}`, '--wsgi-file', join(tmp.dir, 'app.py'), '--python', PY, '--env', tag]);
    const exit = await u.exited;
    assert.equal(exit.code, 1, u.output());
    assert.match(u.output(), /cannot bind socket 127\.0\.0\.1:\d+: EADDRINUSE/);
    assert.doesNotMatch(u.output(), /fork-server|Traceback|imported in/, 'the early fork-server leaves without a word');
    let left = tagged(tag);
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await sleep(50);
      left = tagged(tag);
    }
    assert.deepEqual(left, [], 'no process of that usher is left');
  } finally {
    busy.close();
    tmp.remove();
  }
});

test('a process that needs setting up first (umask) gets its fork-server started the usual way', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  try {
    writeFileSync(join(tmp.dir, 'app.py'), APP);
    const sock = join(tmp.dir, 'app.sock');
    const u = await startUsherReady(['--socket', sock, '--wsgi-file', join(tmp.dir, 'app.py'), '--python', PY, '--processes', '1', '--umask', '027']);
    try {
      assert.match(u.output(), /fork-server spawned pid=\d+ generation=1\n/);
      assert.equal((await uwsgiRequest(sock, 'GET', '/')).status, 200);
    } finally {
      await u.stop();
    }
  } finally {
    tmp.remove();
  }
});

test('an interpreter that is not there: the fork-server\'s spawn error and what to check, exit 1', async () => {
  const tmp = tempDir();
  try {
    writeFileSync(join(tmp.dir, 'app.py'), APP);
    const u = startUsher(['--socket', join(tmp.dir, 'app.sock'), '--wsgi-file', join(tmp.dir, 'app.py'), '--python', join(tmp.dir, 'no-python')]);
    const exit = await u.exited;
    assert.equal(exit.code, 1, u.output());
    assert.match(u.output(), /cannot start the fork-server; stopping usher .*error="spawn \S+no-python ENOENT; check `python`\/`home`/);
  } finally {
    tmp.remove();
  }
});

test('workers forked at once that say hello and ready before the master has read `loaded`: every one is seen ready', async (ctx) => {
  if (!havePython(ctx)) return;
  // The fork-server sends `loaded` (with the pids) after its last fork; with many workers the first ones
  // are serving, and have said `ready` on their control connection, well before that. Three starts of
  // sixteen: a lost `ready` leaves usher waiting for that worker (seen once in five starts of eight).
  const tmp = tempDir();
  try {
    for (let round = 0; round < 3; round++) {
      const sock = join(tmp.dir, `r${round}.sock`);
      const u = await startUsherReady(['--socket', sock, '--wsgi-file', HELLO, '--python', PY, '--processes', '16', '--threads', '1'], { timeoutMs: 20_000 });
      try {
        assert.equal((u.output().match(/worker ready id=\d+/g) ?? []).length, 16);
        assert.equal((await uwsgiRequest(sock, 'GET', '/')).status, 200);
      } finally {
        await u.stop();
      }
    }
  } finally {
    tmp.remove();
  }
});
