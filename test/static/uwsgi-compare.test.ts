// usher's static files next to real uWSGI (Debian's 2.0, `static-map` on an http-socket) on the same
// folder: where the README says usher does as uWSGI does, status, body and the shared headers must be
// the same; where it says usher differs (ranges, segment-wise mounts, symlinks out of the root,
// unknown types), each side must do what the README says it does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, tempDir } from '../helpers/usher.js';
import { staticFirst, type StaticSpec } from '../../src/static/index.js';

interface Answer { status: number; headers: Record<string, string | undefined>; body: string }

/**
 * One request on its own connection, written by hand (Node's http client meets resets from uWSGI 2.0's
 * http-socket on static GETs that raw clients do not, so both servers get the same raw bytes).
 */
function ask(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(port, '127.0.0.1', () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      sock.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const raw = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = raw.split(/\r\n\r\n([\s\S]*)/);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const h: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        h[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers: h, body: method === 'HEAD' ? '' : body });
    });
  });
}

/** uWSGI binds before it loads the app: wait for its own "app ready" line, not just the port. */
async function waitForLine(read: () => string, re: RegExp, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!re.test(read())) {
    if (Date.now() > until) throw new Error(`uWSGI never logged ${re}:\n${read()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const SAME = ['content-type', 'content-length', 'last-modified', 'content-encoding'];

test('static files: usher answers as real uWSGI does where the README says so, and differs only where it says so', async (ctx) => {
  const hasUwsgi = spawnSync('uwsgi', ['--version']).status === 0;
  if (!hasUwsgi) {
    if (process.env.CI === 'true') throw new Error('uwsgi is missing (CI must install uwsgi and uwsgi-plugin-python3)');
    ctx.skip('uwsgi is missing');
    return;
  }
  const tmp = tempDir('usher-static-uwsgi-');
  const root = join(tmp.dir, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(join(tmp.dir, 'outside'));
  writeFileSync(join(root, 'a.txt'), 'hello, static\n');
  writeFileSync(join(root, 's.css'), 'body { color: red }\n');
  writeFileSync(join(root, 's.css.gz'), 'GZ-BYTES');
  writeFileSync(join(root, 'sub', 'index.html'), '<h1>i</h1>\n');
  writeFileSync(join(root, 'x.txt'), 'x\n');
  writeFileSync(join(root, 'blob.unknownext'), 'blob');
  writeFileSync(join(tmp.dir, 'outside', 'secret.txt'), 'SECRET\n');
  symlinkSync('../outside/secret.txt', join(root, 'out'));
  const app = join(tmp.dir, 'app.py');
  writeFileSync(app, 'def application(environ, start_response):\n    start_response("404 Not Found", [("Content-Type", "text/plain")])\n    return [b"app"]\n');

  const uPort = await freePort();
  const uwsgi = spawn('uwsgi', ['--plugin', 'python3', '--http-socket', `127.0.0.1:${uPort}`, '--wsgi-file', app, '--static-map', `/static=${root}`,
    '--static-gzip-all', '--static-index', 'index.html', '--disable-logging', '--die-on-term'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let uwsgiLog = '';
  uwsgi.stderr!.on('data', (c: Buffer) => { uwsgiLog += c.toString(); });
  const spec: StaticSpec = { maps: [{ mount: '/static', root, keepMount: false }], index: ['index.html'], skipExt: [], safe: [], gzipAll: true, gzipDirs: [], mimefiles: [], expires: [] };
  const usher = createServer(staticFirst(spec, (_req, res) => res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': '3' }).end('app')));
  usher.listen(0, '127.0.0.1');
  await once(usher, 'listening');
  const sPort = (usher.address() as AddressInfo).port;
  try {
    await waitForLine(() => uwsgiLog, /WSGI app 0 \(mountpoint=''\) ready/, 30_000);
    const lm = (await ask(uPort, 'HEAD', '/static/a.txt')).headers['last-modified'] as string;
    const same: [string, string, Record<string, string>?][] = [
      ['GET', '/static/a.txt'],
      ['HEAD', '/static/a.txt'],
      ['GET', '/static/s.css', { 'accept-encoding': 'gzip' }],
      ['GET', '/static/s.css'],
      ['GET', '/static/sub/'],
      ['GET', '/static/nope.txt'],
      ['POST', '/static/a.txt'],
      ['GET', '/elsewhere'],
      ['GET', '/static/a.txt', { 'if-modified-since': lm }],
      ['GET', '/static/a.txt', { 'if-modified-since': 'Tue, 14 Nov 2000 22:13:20 GMT' }],
    ];
    for (const [method, path, headers] of same) {
      const [u, s] = [await ask(uPort, method, path, headers), await ask(sPort, method, path, headers)];
      const where = `${method} ${path} ${JSON.stringify(headers ?? {})}`;
      assert.equal(s.status, u.status, `${where}: status`);
      assert.equal(s.body, u.body, `${where}: body`);
      // uWSGI's 304 carries no headers; usher's carries the validators (RFC 9110 15.4.5), so only 200s are compared.
      if (s.status === 200) for (const h of SAME) assert.equal(s.headers[h], u.headers[h], `${where}: ${h}`);
    }
    // Differences the README states.
    const range = { range: 'bytes=0-4' };
    assert.equal((await ask(uPort, 'GET', '/static/a.txt', range)).status, 200, 'uWSGI 2.0 ignores Range on static files');
    const part = await ask(sPort, 'GET', '/static/a.txt', range);
    assert.equal(part.status, 206, 'usher answers a single range');
    assert.equal(part.body, 'hello');
    assert.equal((await ask(uPort, 'GET', '/staticx.txt')).body, 'x\n', 'uWSGI: a mountpoint is a plain string prefix');
    assert.equal((await ask(sPort, 'GET', '/staticx.txt')).body, 'app', 'usher: whole segments only');
    assert.equal((await ask(uPort, 'GET', '/static/out')).body, 'app', 'uWSGI: a symlink out of the root goes to the app');
    const out = await ask(sPort, 'GET', '/static/out');
    assert.equal(out.status, 403, 'usher: refused');
    assert.ok(!out.body.includes('SECRET'));
    assert.equal((await ask(uPort, 'GET', '/static/blob.unknownext')).headers['content-type'], undefined, 'uWSGI: no Content-Type for an unknown type');
    assert.equal((await ask(sPort, 'GET', '/static/blob.unknownext')).headers['content-type'], 'application/octet-stream');
  } finally {
    usher.close();
    uwsgi.kill('SIGTERM');
    if (uwsgi.exitCode === null && uwsgi.signalCode === null) await once(uwsgi, 'exit');
    tmp.remove();
  }
});
