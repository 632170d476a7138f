// The seed itself: its Django guestbook, its two uwsgi.ini files (paths aside) run by usher with
// Debian's /usr/bin/python3 + Django, directly over `http` and behind real Nginx and Apache in both
// seed modes. List page, add-entry (Django's CSRF cookie and token, redirect after POST), static CSS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startUsherReady, tempDir, freePort, REPO, type UsherProc } from '../helpers/usher.js';
import { haveDjango } from '../helpers/python-runner.js';
import { addEntryFlow } from '../helpers/guestbook-flow.js';
import { startNginx, startApache, seedNginxHttp, seedNginxSocket, seedApacheHttp, seedApacheSocket, requireTool, type Front } from '../helpers/fronts.js';

const PY = '/usr/bin/python3';
const PROJECT = join(REPO, 'examples', 'django-guestbook');
const tmp = tempDir('usher-django-');
const env = { GUESTBOOK_DB: join(tmp.dir, 'db.sqlite3'), DJANGO_STATIC_ROOT: join(tmp.dir, 'static') };

const HAVE_DJANGO = haveDjango();

before(() => {
  if (!HAVE_DJANGO) return;
  execFileSync(PY, ['manage.py', 'migrate', '--noinput', '-v0'], { cwd: PROJECT, env: { ...process.env, ...env } });
  execFileSync(PY, ['manage.py', 'collectstatic', '--noinput', '-v0'], { cwd: PROJECT, env: { ...process.env, ...env } });
});
after(() => tmp.remove());

async function usherFor(mode: 'http' | 'socket'): Promise<{ u: UsherProc; upstream: string; sock: string }> {
  const sock = join(tmp.dir, `guestbook-${Math.random().toString(36).slice(2)}.sock`);
  const upstream = `127.0.0.1:${await freePort()}`;
  // The seed's ini files as they are; the CLI moves the address (flags override the file).
  const args = mode === 'http'
    ? ['--ini', join(PROJECT, 'uwsgi-http.ini'), '--http', upstream]
    : ['--ini', join(PROJECT, 'uwsgi-socket.ini'), '--socket', sock];
  const u = await startUsherReady([...args, '--python', PY], { env, timeoutMs: 60_000 });
  return { u, upstream, sock };
}

test('Django guestbook directly over http (seed mode 1, no front)', async (ctx) => {
  if (!HAVE_DJANGO) { ctx.skip('Django is not installed for /usr/bin/python3'); return; }
  const { u, upstream } = await usherFor('http');
  try {
    const list = await fetch(`http://${upstream}/`);
    assert.equal(list.status, 200);
    assert.match(await list.text(), /<h1>Guestbook<\/h1>/);
    await addEntryFlow(`http://${upstream}`, { tokenField: 'csrfmiddlewaretoken' });
    // uWSGI's request line, as usher writes it by default
    await u.waitFor(/\] POST \/ => generated \d+ bytes in \d+ msecs \(HTTP\/1\.1 302\)/, 5_000);
  } finally {
    await u.stop();
  }
});

const FRONTS = [
  { name: 'Nginx proxy_pass', tool: 'nginx', mode: 'http' },
  { name: 'Nginx uwsgi_pass', tool: 'nginx', mode: 'socket' },
  { name: 'Apache ProxyPass', tool: 'apache2', mode: 'http' },
  { name: 'Apache mod_proxy_uwsgi', tool: 'apache2', mode: 'socket' },
] as const;

for (const f of FRONTS) {
  test(`Django guestbook behind ${f.name} (seed config)`, async (ctx) => {
    if (!HAVE_DJANGO) { ctx.skip('Django is not installed for /usr/bin/python3'); return; }
    if (!requireTool(f.tool)) { ctx.skip(`${f.tool} is not installed`); return; }
    const { u, upstream, sock } = await usherFor(f.mode);
    let front: Front | undefined;
    try {
      const staticDir = env.DJANGO_STATIC_ROOT;
      const block = f.tool === 'nginx'
        ? (f.mode === 'http' ? seedNginxHttp({ upstream, staticDir }) : seedNginxSocket({ socketPath: sock, staticDir }))
        : (f.mode === 'http' ? seedApacheHttp({ upstream, staticDir }) : seedApacheSocket({ socketPath: sock, staticDir }));
      front = f.tool === 'nginx' ? await startNginx({ serverBlock: block }) : await startApache({ serverBlock: block });
      const list = await fetch(`${front.url}/`, { headers: { host: 'guestbook.local' } });
      assert.equal(list.status, 200);
      await addEntryFlow(front.url, { tokenField: 'csrfmiddlewaretoken' });
      const css = await fetch(`${front.url}/static/guestbook/style.css`);
      assert.equal(css.status, 200);
      assert.match(await css.text(), /--accent/);
      assert.doesNotMatch(u.output(), /GET \/static\//, 'static files never reach usher');
    } finally {
      await front?.stop();
      await u.stop();
    }
  });
}
