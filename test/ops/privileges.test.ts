// uid / gid / chown-socket / umask, uWSGI's way: as root, usher binds the sockets, chowns and chmods
// them and writes the pidfile, then the master drops to uid/gid (with the user's supplementary
// groups) before any child starts: every usher process runs as www-data, the app says so, and Nginx
// (as www-data) reaches the socket. Bad users and groups stop usher naming the option, with nothing
// left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, copyFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startUsher, startUsherReady, tempDir, freePort, childPids, REPO, USHER_BIN } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';
import { requireTool, startNginx, seedNginxSocket } from '../helpers/fronts.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const PY = '/usr/bin/python3';
const WWW = Number(spawnSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).stdout.trim());

function asRoot(ctx: { skip: (m: string) => void }): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === 'true') throw new Error('the privilege tests need root (CI runs as root)');
  ctx.skip('needs root');
  return false;
}

/** Real, effective, saved and filesystem ids, and supplementary groups, from /proc. */
function ids(pid: number): { uid: string; gid: string; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).join(' ');
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

const seedIni = (dir: string, sock: string, app: string): string => `[uwsgi]
socket = ${sock}
chmod-socket = 660
chown-socket = www-data:www-data
uid = www-data
gid = www-data

chdir = ${dir}
${app}

processes = 2
threads = 2
master = true
vacuum = true
`;

for (const [runtime, app, file] of [
  ['Node', 'app = slow-start.mjs', 'slow-start.mjs'],
  ['Python', `wsgi-file = wsgi_slow_start.py\npython = ${PY}\nhttp = 127.0.0.1:{{PORT}}`, 'wsgi_slow_start.py'],
] as const) {
  test(`${runtime}: seed ini + uid/gid www-data: every usher process is www-data, the socket is www-data's 660, Nginx reaches it`, async (ctx) => {
    if (!asRoot(ctx)) return;
    requireTool('nginx');
    const tmp = tempDir();
    // vacuum as www-data needs the socket folder writable by www-data (systemd: RuntimeDirectory=).
    chownSync(tmp.dir, WWW, WWW);
    const sock = join(tmp.dir, 'guestbook.sock');
    const pidfile = join(tmp.dir, 'usher.pid');
    const port = await freePort();
    copyFileSync(join(APPS, file), join(tmp.dir, file));
    const ini = join(tmp.dir, 'uwsgi.ini');
    writeFileSync(ini, seedIni(tmp.dir, sock, app.replace('{{PORT}}', String(port))));
    const nginx = await startNginx({ serverBlock: seedNginxSocket({ socketPath: sock, staticDir: tmp.dir }) });
    const u = await startUsherReady(['--ini', ini, '--pidfile', pidfile], { env: { SLOW_START_MS: '0' } });
    try {
      assert.match(u.output(), /dropped privileges uid=33 gid=33 user=www-data/);
      assert.doesNotMatch(u.output(), /running as root/);
      assert.equal(readFileSync(pidfile, 'utf8').trim(), String(u.pid), 'the pidfile, written before dropping');
      // Node: 2 workers. Python: the router and the fork-server, whose children are the 2 workers.
      const mine = await childPids(u.pid);
      const kids = [...mine, ...(await Promise.all(mine.map((k) => childPids(k)))).flat()];
      assert.equal(kids.length, runtime === 'Python' ? 4 : 2, 'workers (and the router and fork-server)');
      for (const pid of [u.pid, ...kids]) {
        assert.deepEqual(ids(pid), { uid: `${WWW} ${WWW} ${WWW} ${WWW}`, gid: `${WWW} ${WWW} ${WWW} ${WWW}`, groups: String(WWW) }, `pid ${pid}`);
      }
      const st = statSync(sock);
      assert.equal(st.uid, WWW);
      assert.equal(st.gid, WWW);
      assert.equal(st.mode & 0o777, 0o660);
      const direct = JSON.parse((await uwsgiRequest(sock, 'GET', '/')).body.toString()) as { uid: number; euid: number; gid: number };
      assert.deepEqual([direct.uid, direct.euid, direct.gid], [WWW, WWW, WWW], 'the app runs as www-data');
      const res = await fetch(`${nginx.url}/`);
      assert.equal(res.status, 200, 'Nginx (www-data) reaches the socket');
      assert.equal(((await res.json()) as { uid: number }).uid, WWW);
      if (runtime === 'Python') {
        const viaRouter = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(viaRouter.status, 200, 'the router (www-data) reaches the workers\' private socket');
      }
      const exit = await u.stop('SIGTERM');
      assert.equal(exit.code, 0);
      assert.equal(existsSync(sock), false, 'vacuum removed the socket');
      assert.equal(existsSync(pidfile), false, 'vacuum removed the pidfile');
    } finally {
      await u.stop('SIGKILL');
      await nginx.stop();
      tmp.remove();
    }
  });
}

for (const [name, args, option] of [
  ['a user that does not exist', ['--uid', 'no-such-user-x'], 'uid'],
  ['a group that does not exist', ['--uid', 'www-data', '--gid', 'no-such-group-x'], 'gid'],
  ['chown-socket to a user that does not exist', ['--chown-socket', 'no-such-user-x:www-data'], 'chown-socket'],
  ['a umask that is not octal', ['--umask', '0999'], 'umask'],
] as const) {
  test(`${name}: a clear error naming \`${option}\`, nothing left behind`, async (ctx) => {
    if (!asRoot(ctx)) return;
    const tmp = tempDir();
    try {
      const u = startUsher(['--socket', join(tmp.dir, 'a.sock'), '--pidfile', join(tmp.dir, 'u.pid'), '--app', join(APPS, 'slow-start.mjs'), ...args]);
      const exit = await u.exited;
      assert.equal(exit.code, 1);
      assert.match(u.output(), new RegExp(`config error: ${option} = `));
      assert.match(u.output(), /code=USHER_ERR_CONFIG_BAD_VALUE/);
      assert.doesNotMatch(u.output(), /^\s+at /m);
      assert.doesNotMatch(u.output(), /worker spawned/);
      assert.deepEqual(readdirSync(tmp.dir), [], 'no socket, no pidfile');
    } finally {
      tmp.remove();
    }
  });
}

test('a non-root user asking for another uid: a clear error naming `uid`, nothing left behind', async (ctx) => {
  if (!asRoot(ctx)) return;
  const tmp = tempDir();
  chownSync(tmp.dir, WWW, WWW);
  try {
    const p = spawn(process.execPath, [USHER_BIN, '--socket', join(tmp.dir, 'a.sock'), '--pidfile', join(tmp.dir, 'u.pid'), '--app', join(APPS, 'slow-start.mjs'), '--uid', 'root'],
      { uid: WWW, gid: WWW, cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((r) => p.once('exit', r));
    assert.equal(code, 1);
    assert.match(out, /uid = root: only root can switch users/);
    assert.match(out, /code=USHER_ERR_CONFIG_CONFLICT/);
    assert.deepEqual(readdirSync(tmp.dir), []);
  } finally {
    tmp.remove();
  }
});

test('root without uid: a loud warning; umask applies to what usher creates', async (ctx) => {
  if (!asRoot(ctx)) return;
  const tmp = tempDir();
  const sock = join(tmp.dir, 'a.sock');
  const pidfile = join(tmp.dir, 'u.pid');
  const u = await startUsherReady(['--socket', sock, '--pidfile', pidfile, '--umask', '077', '--app', join(APPS, 'slow-start.mjs')], { env: { SLOW_START_MS: '0' } });
  try {
    assert.match(u.output(), /WARN .*running as root: the app and every request run as root; set `uid` and `gid`/);
    assert.equal(statSync(pidfile).mode & 0o777, 0o600);
    assert.equal(statSync(sock).mode & 0o077, 0, 'no access for group or others');
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('uid with vacuum and a socket folder the dropped user cannot write: a warning that says what to do', async (ctx) => {
  if (!asRoot(ctx)) return;
  const tmp = tempDir(); // root's, 0755
  const sock = join(tmp.dir, 'a.sock');
  const u = await startUsherReady(['--socket', sock, '--uid', 'www-data', '--vacuum', '--app', join(APPS, 'slow-start.mjs')], { env: { SLOW_START_MS: '0' } });
  try {
    assert.match(u.output(), new RegExp(`WARN .*vacuum: ${sock} cannot be removed on exit: its folder is not writable by uid ${WWW}; use a folder that user owns \\(systemd: RuntimeDirectory=\\)`));
  } finally {
    await u.stop();
    tmp.remove();
  }
});
