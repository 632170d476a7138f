// The seed's four topologies with real Nginx and real Apache in front of usher running a Node app:
// Nginx proxy_pass and uwsgi_pass, Apache ProxyPass (mod_proxy_http) and ProxyPassMatch unix:|uwsgi://
// (mod_proxy_uwsgi), each with the seed's own site config (paths and ports substituted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir, freePort, REPO, type UsherProc } from '../helpers/usher.js';
import { addEntryFlow } from '../helpers/guestbook-flow.js';
import { startNginx, startApache, seedNginxHttp, seedNginxSocket, seedApacheHttp, seedApacheSocket, requireTool, type Front } from '../helpers/fronts.js';

const ECHO = join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs');
const GUESTBOOK = join(REPO, 'examples', 'guestbook');

interface Topology {
  readonly name: string;
  readonly tool: 'nginx' | 'apache2';
  readonly mode: 'http' | 'socket';
}

const TOPOLOGIES: Topology[] = [
  { name: 'Nginx proxy_pass -> usher http', tool: 'nginx', mode: 'http' },
  { name: 'Nginx uwsgi_pass -> usher socket', tool: 'nginx', mode: 'socket' },
  { name: 'Apache ProxyPass -> usher http', tool: 'apache2', mode: 'http' },
  { name: 'Apache mod_proxy_uwsgi -> usher socket', tool: 'apache2', mode: 'socket' },
];

for (const t of TOPOLOGIES) {
  test(`seed topology: ${t.name}`, async (ctx) => {
    if (!requireTool(t.tool)) { ctx.skip(`${t.tool} is not installed`); return; }
    const tmp = tempDir();
    let usher: UsherProc | undefined;
    let front: Front | undefined;
    try {
      const staticDir = join(tmp.dir, 'static');
      mkdirSync(staticDir);
      writeFileSync(join(staticDir, 'style.css'), 'body { color: #333; }\n');
      const sock = join(tmp.dir, 'guestbook.sock');
      const port = await freePort();
      const upstream = `127.0.0.1:${port}`;
      usher = await startUsherReady(t.mode === 'http'
        ? ['--http', upstream, '--processes', '4', '--threads', '2', '--master', '--vacuum', '--app', ECHO]
        : ['--socket', sock, '--chmod-socket', '660', '--processes', '4', '--threads', '2', '--master', '--vacuum', '--app', ECHO]);
      const block = t.tool === 'nginx'
        ? (t.mode === 'http' ? seedNginxHttp({ upstream, staticDir }) : seedNginxSocket({ socketPath: sock, staticDir }))
        : (t.mode === 'http' ? seedApacheHttp({ upstream, staticDir }) : seedApacheSocket({ socketPath: sock, staticDir }));
      front = t.tool === 'nginx' ? await startNginx({ serverBlock: block }) : await startApache({ serverBlock: block });
      const base = front.url;

      // GET with a query string and custom headers.
      const g = await fetch(`${base}/path/with%20space?x=1&y=%C3%A9`, { headers: { 'x-custom-header': 'custom value', 'user-agent': 'usher-test' } });
      assert.equal(g.status, 200);
      const gb = await g.json() as { method: string; url: string; headers: Record<string, string> };
      assert.equal(gb.method, 'GET');
      assert.equal(gb.url, '/path/with%20space?x=1&y=%C3%A9');
      assert.equal(gb.headers['x-custom-header'], 'custom value');
      assert.equal(gb.headers['user-agent'], 'usher-test');
      assert.equal(g.headers.get('x-echo'), 'yes', 'app response headers pass through');

      // POST with a form body.
      const p = await fetch(`${base}/submit`, { method: 'POST', body: new URLSearchParams({ name: 'Ana', message: 'hola & adiós' }) });
      const pb = await p.json() as { method: string; body: string; headers: Record<string, string> };
      assert.equal(pb.method, 'POST');
      assert.equal(pb.body, 'name=Ana&message=hola+%26+adi%C3%B3s');
      assert.match(pb.headers['content-type'] ?? '', /application\/x-www-form-urlencoded/);

      // A 10 MB upload arrives intact.
      const big = randomBytes(10 * 1024 * 1024);
      const up = await fetch(`${base}/upload`, { method: 'POST', body: big, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(up.status, 200);
      const ub = await up.json() as { size: number; sha256: string };
      assert.equal(ub.size, big.length);
      assert.equal(ub.sha256, createHash('sha256').update(big).digest('hex'));

      // A streamed response (no Content-Length) arrives whole.
      const s = await fetch(`${base}/stream`);
      assert.equal(s.status, 200);
      assert.equal(await s.text(), 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\ndone\n');

      // HEAD carries no body; a body the app ignores does not break the proxy.
      const h = await fetch(`${base}/`, { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(await h.text(), '');
      const ig = await fetch(`${base}/ignore-body`, { method: 'POST', body: randomBytes(3 * 1024 * 1024) });
      assert.equal(ig.status, 200);
      assert.equal(await ig.text(), 'ignored\n');

      // Static files come from the front's alias, not from usher.
      const css = await fetch(`${base}/static/style.css`);
      assert.equal(css.status, 200);
      assert.equal(await css.text(), 'body { color: #333; }\n');
      assert.doesNotMatch(usher.output(), /GET \/static\/style\.css/, 'usher never saw the static request');

      // The seed's site logs: the front's access log has both the proxied and the static requests,
      // and usher's own log has an access line for the proxied one.
      // A front writes its access line once the response is out, so it can trail the client a little.
      const accessLog = join(front.root, 'logs', 'guestbook_access.log');
      const logged = [/"POST \/submit HTTP\/1\.1" 200/, /"GET \/static\/style\.css HTTP\/1\.1" 200/];
      let access = '';
      for (let i = 0; i < 40; i++) {
        access = existsSync(accessLog) ? readFileSync(accessLog, 'utf8') : '';
        if (logged.every((re) => re.test(access))) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const re of logged) assert.match(access, re);
      assert.ok(existsSync(join(front.root, 'logs', 'guestbook_error.log')), 'the site error log is open');
      await usher.waitFor(/\] POST \/submit => generated \d+ bytes in \d+ msecs \(HTTP\/1\.[01] 200\)/, 5_000); // uWSGI's request line
    } finally {
      await front?.stop();
      await usher?.stop();
      tmp.remove();
    }
  });
}

for (const t of TOPOLOGIES) {
  test(`guestbook add-entry flow: ${t.name}`, async (ctx) => {
    if (!requireTool(t.tool)) { ctx.skip(`${t.tool} is not installed`); return; }
    const tmp = tempDir();
    let usher: UsherProc | undefined;
    let front: Front | undefined;
    try {
      const sock = join(tmp.dir, 'guestbook.sock');
      const upstream = `127.0.0.1:${await freePort()}`;
      const staticDir = join(GUESTBOOK, 'static');
      const env = { GUESTBOOK_DB: join(tmp.dir, 'gb.sqlite3') };
      usher = await startUsherReady(t.mode === 'http'
        ? ['--http', upstream, '--processes', '2', '--app', join(GUESTBOOK, 'app.ts')]
        : ['--socket', sock, '--chmod-socket', '660', '--processes', '2', '--app', join(GUESTBOOK, 'app.ts')], { env });
      const block = t.tool === 'nginx'
        ? (t.mode === 'http' ? seedNginxHttp({ upstream, staticDir }) : seedNginxSocket({ socketPath: sock, staticDir }))
        : (t.mode === 'http' ? seedApacheHttp({ upstream, staticDir }) : seedApacheSocket({ socketPath: sock, staticDir }));
      front = t.tool === 'nginx' ? await startNginx({ serverBlock: block }) : await startApache({ serverBlock: block });
      await addEntryFlow(front.url);
      const css = await fetch(`${front.url}/static/style.css`);
      assert.equal(css.status, 200);
      assert.match(await css.text(), /--accent/);
    } finally {
      await front?.stop();
      await usher?.stop();
      tmp.remove();
    }
  });
}
