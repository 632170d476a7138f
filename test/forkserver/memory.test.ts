// Workers forked from the fork-server share the pages of the loaded app with it and with each other
// (what /proc/PID/smaps_rollup says); workers that load the app themselves (lazy-apps) share only the
// interpreter's files. Figures against uWSGI: dist/test/forkserver/compare-uwsgi.js (a measurement).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startUsherReady, tempDir, REPO } from '../helpers/usher.js';
import { havePython } from '../helpers/python-runner.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';
import { rollup, sharedFraction, type Rollup } from '../helpers/memory.js';

const PY = '/usr/bin/python3';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const requirePython = havePython;

/** usher on a uwsgi socket, warmed up; each worker's smaps_rollup. */
async function workersAfterWarmUp(extra: string[], env: NodeJS.ProcessEnv = {}): Promise<Rollup[]> {
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '4', '--threads', '2', '--python', PY, '--disable-logging', ...extra], { env, timeoutMs: 60_000 });
  try {
    for (let i = 0; i < 20; i++) {
      const statuses = await Promise.all(Array.from({ length: 8 }, () => uwsgiRequest(sock, 'GET', '/').then((r) => r.status)));
      assert.deepEqual(statuses, Array(8).fill(200));
    }
    await sleep(500);
    const pids = [...u.output().matchAll(/worker spawned id=\d+ pid=(\d+)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 4);
    return pids.map((p) => rollup(p)!);
  } finally {
    await u.stop();
    tmp.remove();
  }
}

const describe = (rs: Rollup[]): string => rs.map((r) => `rss=${r.rss} shared=${r.sharedClean + r.sharedDirty} anon=${r.anonymous} pss_anon=${r.pssAnon}`).join('; ');

test('hello app: forked workers share most of their memory, anonymous pages included; lazy-apps workers do not share the anonymous ones', async (ctx) => {
  if (!requirePython(ctx)) return;
  const app = ['--wsgi-file', join(REPO, 'bench', 'apps', 'hello_wsgi.py')];
  const forked = await workersAfterWarmUp(app);
  ctx.diagnostic(`forked: ${describe(forked)}`);
  for (const r of forked) {
    assert.ok(sharedFraction(r) >= 0.5, `shared part of RSS: ${describe([r])}`);
    assert.ok(r.pssAnon <= 0.8 * r.anonymous, `anonymous pages shared with the fork-server: ${describe([r])}`);
  }
  const lazy = await workersAfterWarmUp([...app, '--lazy-apps', 'true']);
  ctx.diagnostic(`lazy-apps: ${describe(lazy)}`);
  for (const r of lazy) assert.ok(r.pssAnon > 0.9 * r.anonymous, `a lazy worker's anonymous pages are its own: ${describe([r])}`);
});

test('Django guestbook: forked workers share a large part of their memory after warm-up', async (ctx) => {
  if (!requirePython(ctx)) return;
  let django = true;
  try { execFileSync(PY, ['-c', 'import django'], { stdio: 'ignore' }); } catch { django = false; }
  if (!django) {
    if (process.env.CI === 'true') throw new Error('Django is missing for /usr/bin/python3 (apt-get install python3-django)');
    ctx.skip('Django is not installed for /usr/bin/python3');
    return;
  }
  const tmp = tempDir('usher-django-mem-');
  const project = join(REPO, 'examples', 'django-guestbook');
  const env = { GUESTBOOK_DB: join(tmp.dir, 'db.sqlite3'), DJANGO_STATIC_ROOT: join(tmp.dir, 'static') };
  try {
    execFileSync(PY, ['manage.py', 'migrate', '--noinput', '-v0'], { cwd: project, env: { ...process.env, ...env } });
    const forked = await workersAfterWarmUp(['--chdir', project, '--wsgi-file', 'guestbook_project/wsgi.py'], env);
    ctx.diagnostic(`forked: ${describe(forked)}`);
    for (const r of forked) assert.ok(sharedFraction(r) >= 0.5, `shared part of RSS: ${describe([r])}`);
  } finally {
    tmp.remove();
  }
});
