// systemd: Type=notify through a test-owned $NOTIFY_SOCKET (READY once the workers serve,
// RELOADING/READY around SIGHUP, STOPPING on SIGTERM, in order; WATCHDOG at half $WATCHDOG_USEC),
// socket activation with Debian's systemd-socket-activate (usher serves on the passed fd and binds
// nothing), LISTEN_PID of another process ignored with a warning, and `usher deploy systemd`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startUsher, startUsherReady, tempDir, freePort, REPO, USHER_BIN } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';
import { requireTool } from '../helpers/fronts.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const APP = ['--app', join(APPS, 'slow-start.mjs')];
const ENV = { SLOW_START_MS: '0' };

interface Note { readonly pid: number | null; readonly t: number; readonly msg: string }

/** The Python stand-in for systemd's notify socket; `notes` fills as messages arrive. */
async function receiver(path: string): Promise<{ notes: Note[]; stop: () => void }> {
  const p = spawn('/usr/bin/python3', [join(REPO, 'test', 'fixtures', 'ops', 'notify_receiver.py'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const notes: Note[] = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    p.once('exit', (c) => reject(new Error(`receiver exited ${c}`)));
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'listening') resolve();
        else notes.push(JSON.parse(line) as Note);
      }
    });
  });
  return { notes, stop: () => { p.kill('SIGKILL'); } };
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const kind = (n: Note): string => n.msg.split('\n').filter((l) => /^(READY|RELOADING|STOPPING|WATCHDOG)=1$/.test(l)).map((l) => l.slice(0, -2)).join(',');

test('Type=notify: READY when the workers serve, RELOADING then READY on SIGHUP, STOPPING on SIGTERM; WATCHDOG at half WATCHDOG_USEC', async () => {
  requireTool('systemd-notify');
  const tmp = tempDir();
  const r = await receiver(join(tmp.dir, 'notify.sock'));
  const sock = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '2', ...APP], { env: { ...ENV, NOTIFY_SOCKET: join(tmp.dir, 'notify.sock'), WATCHDOG_USEC: '2000000' } });
  try {
    await until(() => r.notes.some((n) => kind(n) === 'READY'), 'READY=1');
    const ready = r.notes.find((n) => kind(n) === 'READY') as Note;
    assert.match(ready.msg, new RegExp(`^MAINPID=${u.pid}$`, 'm'));
    assert.match(ready.msg, /^STATUS=2 workers ready, serving .*app\.sock$/m);
    assert.equal(ready.pid, u.pid, 'sent on behalf of the master (as root, systemd-notify --pid can)');
    await until(() => r.notes.filter((n) => kind(n) === 'WATCHDOG').length >= 3, 'three WATCHDOG=1');
    process.kill(u.pid, 'SIGHUP');
    await u.waitFor(/reload complete/);
    await until(() => r.notes.filter((n) => kind(n) === 'READY').length >= 2, 'READY=1 after the reload');
    const reloading = r.notes.find((n) => kind(n) === 'RELOADING') as Note;
    assert.match(reloading.msg, /^MONOTONIC_USEC=\d+$/m);
    assert.equal((await u.stop('SIGTERM')).code, 0);
    await until(() => r.notes.some((n) => kind(n) === 'STOPPING'), 'STOPPING=1');
    const sequence = r.notes.map(kind).filter((k) => k !== '' && k !== 'WATCHDOG');
    assert.deepEqual(sequence, ['READY', 'RELOADING', 'READY', 'STOPPING']);
    // Pings every ~1 s: each gap well under WATCHDOG_USEC (2 s), so systemd never fires.
    const pings = r.notes.filter((n) => kind(n) === 'WATCHDOG').map((n) => n.t);
    const gaps = pings.slice(1).map((t, i) => t - (pings[i] as number)).sort((a, b) => a - b);
    const median = gaps[Math.floor(gaps.length / 2)] as number;
    assert.ok(median > 700 && median < 1600, `median gap ${median} ms for WATCHDOG_USEC=2 s`);
  } finally {
    await u.stop('SIGKILL');
    r.stop();
    tmp.remove();
  }
});

/** Start a command under systemd-socket-activate, collecting its output. */
function activate(listen: string, args: string[]): { proc: ChildProcess; output: () => string; waitFor: (re: RegExp) => Promise<void>; stop: () => Promise<number | null> } {
  const proc = spawn('systemd-socket-activate', ['-l', listen, '--fdname=web', process.execPath, USHER_BIN, ...args], { env: { ...process.env, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return {
    proc,
    output: () => out,
    waitFor: (re) => until(() => re.test(out) || proc.exitCode !== null, `${re}`).then(() => { if (!re.test(out)) throw new Error(`exited before ${re}:\n${out}`); }),
    stop: async () => { if (proc.exitCode === null) proc.kill('SIGTERM'); const t = setTimeout(() => proc.kill('SIGKILL'), 15_000); const c = await exited; clearTimeout(t); return c; },
  };
}

test('socket activation (systemd-socket-activate, unix socket): usher serves on the passed fd and binds nothing', async () => {
  requireTool('systemd-socket-activate');
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const a = activate(sock, ['--socket', sock, '--vacuum', '--processes', '2', ...APP]);
  try {
    // systemd-socket-activate starts usher on the first connection, which waits in the backlog.
    await a.waitFor(/Listening on/);
    const inode = statSync(sock).ino;
    const first = await uwsgiRequest(sock, 'GET', '/');
    assert.equal(first.status, 200);
    await a.waitFor(/master: ready/);
    assert.match(a.output(), /using the socket systemd passed socket=.*app\.sock fd=3 name=web/);
    assert.doesNotMatch(a.output(), /master: bound socket=/);
    const res = await uwsgiRequest(sock, 'GET', '/');
    assert.equal(res.status, 200);
    assert.equal(statSync(sock).ino, inode, 'the same socket file: not bound again');
    assert.equal(await a.stop(), 0);
    assert.equal(existsSync(sock), true, 'vacuum leaves systemd\'s socket alone');
  } finally {
    await a.stop();
    tmp.remove();
  }
});

test('socket activation (TCP): the passed port is adopted', async () => {
  requireTool('systemd-socket-activate');
  const port = await freePort();
  const a = activate(`127.0.0.1:${port}`, ['--http', `127.0.0.1:${port}`, ...APP]);
  try {
    await a.waitFor(/Listening on/);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    await a.waitFor(/master: ready/);
    assert.match(a.output(), new RegExp(`using the socket systemd passed http=127\\.0\\.0\\.1:${port} fd=3`));
    assert.doesNotMatch(a.output(), /master: bound/);
  } finally {
    await a.stop();
  }
});

test('LISTEN_PID of another process: ignored with a warning, the configured socket is bound', async () => {
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--socket', sock, ...APP], { env: { ...ENV, LISTEN_FDS: '1', LISTEN_PID: '1', LISTEN_FDNAMES: 'x' } });
  try {
    assert.match(u.output(), /WARN .*ignoring LISTEN_FDS: LISTEN_PID names another process.* LISTEN_PID=1/);
    assert.match(u.output(), /master: bound socket=/);
    assert.equal((await uwsgiRequest(sock, 'GET', '/')).status, 200);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('usher deploy systemd: Type=notify; --socket-unit adds a matching .socket unit', () => {
  const ini = join(REPO, 'examples', 'django-guestbook', 'uwsgi-socket.ini');
  const unit = execFileSync(process.execPath, [USHER_BIN, 'deploy', 'systemd', '--ini', ini], { encoding: 'utf8' }).split('\n');
  for (const line of ['Type=notify', 'NotifyAccess=all']) assert.ok(unit.includes(line), line);
  const both = execFileSync(process.execPath, [USHER_BIN, 'deploy', 'systemd', '--ini', ini, '--socket-unit'], { encoding: 'utf8' });
  const [service, socket] = both.split(/^# \S+\.socket$/m) as [string, string];
  assert.match(service, /^Requires=uwsgi-socket\.socket$/m);
  assert.doesNotMatch(service, /^RuntimeDirectory=/m);
  assert.match(socket, /^\[Socket\]\nListenStream=\/.*guestbook\.sock$/m);
  assert.match(socket, /^SocketMode=0660$/m);
  assert.match(socket, /^Backlog=\d+$/m);
});

test('startUsher without NOTIFY_SOCKET sends nothing and does not fail', async () => {
  const port = await freePort();
  const u = startUsher(['--http', `127.0.0.1:${port}`, ...APP], { env: ENV });
  await u.waitFor(/master: ready/);
  assert.doesNotMatch(u.output(), /systemd/);
  await u.stop();
});
