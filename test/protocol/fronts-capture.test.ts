// Real Debian Nginx (include uwsgi_params; uwsgi_pass) and Apache (mod_proxy_uwsgi, the seed's
// ProxyPassMatch) in front of a sink that records the uwsgi bytes they send. Each live capture must
// decode to the request stored in test/fixtures/uwsgi/<front>-<name>.json (ports masked), so the corpus
// stays what these fronts really send. `USHER_UPDATE_FIXTURES=1` rewrites the corpus from the captures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool, startApache, startNginx, type Front } from '../helpers/fronts.js';
import { UwsgiRequestParser, cgiToRequest, type CgiRequest } from '../../src/protocol/index.js';
import { UwsgiProtocolError } from '../../src/errors.js';
import { FIXTURES, type Fixture, maskVolatile } from '../helpers/corpus.js';

const UPDATE = process.env.USHER_UPDATE_FIXTURES === '1';
/** A deployment's PATH, not the test runner's: Apache copies PATH into the vars it sends. */
const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface Scenario {
  readonly name: string;
  readonly why: string;
  readonly request: string;
  readonly fronts: readonly ('nginx' | 'apache')[];
}

const BIG = 'b'.repeat(5000);
const SCENARIOS: readonly Scenario[] = [
  {
    name: 'get-query', fronts: ['nginx', 'apache'], why: 'percent-encoded UTF-8 path and query, a cookie, custom header',
    request: 'GET /path/with%20space/caf%C3%A9?x=1&y=%C3%A9 HTTP/1.1\r\nHost: guestbook.local\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nX-Custom-Header: custom value\r\nCookie: a=1; b=2\r\nConnection: close\r\n\r\n',
  },
  {
    name: 'post-form', fronts: ['nginx', 'apache'], why: 'a urlencoded body after the vars; Nginx also sends HTTP_CONTENT_TYPE/HTTP_CONTENT_LENGTH',
    request: 'POST /submit HTTP/1.1\r\nHost: guestbook.local\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 21\r\nConnection: close\r\n\r\nname=Ana&message=hola',
  },
  {
    name: 'dup-headers', fronts: ['nginx', 'apache'], why: 'repeated headers (Nginx 1.22 sends each, Apache joins them), an underscore header both drop, Authorization',
    request: 'GET /dup HTTP/1.1\r\nHost: guestbook.local\r\nX-Dup: one\r\nX-Dup: two\r\nCookie: a=1\r\nCookie: b=2\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.9\r\nAuthorization: Basic dXNlcjpwYXNz\r\nConnection: close\r\n\r\n',
  },
  {
    name: 'head-http10', fronts: ['nginx', 'apache'], why: 'HTTP/1.0 without Host: SERVER_PROTOCOL and SERVER_NAME from the front',
    request: 'HEAD /index.html HTTP/1.0\r\n\r\n',
  },
  {
    name: 'post-chunked', fronts: ['nginx'], why: 'a chunked upload: Nginx buffers it and sends CONTENT_LENGTH with HTTP_TRANSFER_ENCODING still set (Apache answers 411 itself)',
    request: 'POST /upload HTTP/1.1\r\nHost: guestbook.local\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
  },
  {
    name: 'encoded-slash', fronts: ['nginx'], why: 'PATH_INFO is $document_uri: %2F decoded, slashes merged, dot segments resolved; REQUEST_URI raw (Apache answers 404 itself)',
    request: 'GET /a%2Fb//c/./d/../e?q=%2F HTTP/1.1\r\nHost: guestbook.local\r\nConnection: close\r\n\r\n',
  },
  {
    name: 'script-name-30', fronts: ['nginx'], why: 'an app mounted at /app: uwsgi_param SCRIPT_NAME /app with uwsgi_modifier1 30, so PATH_INFO loses the prefix',
    request: 'GET /app/x/y?z=1 HTTP/1.1\r\nHost: guestbook.local\r\nConnection: close\r\n\r\n',
  },
  {
    name: 'big-header', fronts: ['nginx', 'apache'], why: 'a 5000-byte header: vars over the default buffer-size 4096 (413)',
    request: `GET /big HTTP/1.1\r\nHost: guestbook.local\r\nX-Big: ${BIG}\r\nConnection: close\r\n\r\n`,
  },
];

function nginxBlock(sock: string): string {
  return `server {
    listen 127.0.0.1:{{PORT}};
    server_name guestbook.local;
    location / {
        include uwsgi_params;
        uwsgi_pass unix:${sock};
    }
    location /app/ {
        include uwsgi_params;
        uwsgi_param SCRIPT_NAME /app;
        uwsgi_modifier1 30;
        uwsgi_pass unix:${sock};
    }
}`;
}

function apacheBlock(sock: string): string {
  return `<VirtualHost 127.0.0.1:{{PORT}}>
    ServerName guestbook.local
    ProxyPassMatch ^/(.*)$ unix:${sock}|uwsgi://localhost/
</VirtualHost>`;
}

/** Records each connection's bytes; answers once a whole head has come and the peer has gone quiet. */
async function startSink(path: string): Promise<{ captures: Buffer[]; close: () => Promise<void> }> {
  const captures: Buffer[] = [];
  const server = net.createServer((c) => {
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    c.on('data', (d: Buffer) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (all.length < 4 || all.length < 4 + all.readUInt16LE(1)) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        captures.push(Buffer.concat(chunks));
        c.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n');
      }, 100);
    });
    c.on('error', () => undefined);
    c.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  chmodSync(path, 0o666); // the fronts' workers run as www-data
  return { captures, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function sendRaw(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => { c.destroy(); reject(new Error('front did not answer')); }, 10_000);
    c.on('connect', () => c.write(Buffer.from(raw, 'latin1')));
    c.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    c.on('close', () => { clearTimeout(t); resolve(out); });
    c.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

function version(front: 'nginx' | 'apache'): string {
  const r = front === 'nginx' ? spawnSync('nginx', ['-v'], { encoding: 'utf8' }) : spawnSync('apache2', ['-v'], { encoding: 'utf8' });
  return (r.stderr + r.stdout).split('\n').find((l) => /nginx\/|Apache\//.test(l))?.replace(/^.*?: */, '').trim() ?? front;
}

/** What the corpus expects of one capture, computed by the codec and then reviewed by a person (git diff). */
function describe(front: 'nginx' | 'apache', s: Scenario, bytes: Buffer): Fixture {
  const base = { source: `${version(front)}, ${front === 'nginx' ? 'include uwsgi_params; uwsgi_pass unix:...' : 'ProxyPassMatch ^/(.*)$ unix:...|uwsgi://localhost/'}`, why: s.why, request: s.request.length > 600 ? `${s.request.slice(0, 200)}...` : s.request };
  try {
    const p = new UwsgiRequestParser({ bufferSize: 4096 }).push(bytes);
    assert.ok(p, 'a whole packet was captured');
    const expect: CgiRequest = cgiToRequest(p.vars, p.modifier1);
    return { ...base, bufferSize: 4096, modifier1: p.modifier1, modifier2: p.modifier2, body: p.rest.toString('latin1'), expect };
  } catch (e) {
    if (!(e instanceof UwsgiProtocolError)) throw e;
    return { ...base, bufferSize: 4096, error: { code: e.code, status: e.status } };
  }
}

test('live Nginx and Apache packets decode to the stored corpus', async (t) => {
  const have = { nginx: requireTool('nginx'), apache: requireTool('apache2') };
  if (!have.nginx && !have.apache) {
    t.skip('neither nginx nor apache2 is installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'usher-capture-'));
  chmodSync(dir, 0o755);
  const sink = await startSink(join(dir, 'sink.sock'));
  const fronts: Front[] = [];
  try {
    for (const front of ['nginx', 'apache'] as const) {
      if (!have[front === 'nginx' ? 'nginx' : 'apache']) continue;
      const savedPath = process.env.PATH;
      process.env.PATH = SERVICE_PATH;
      let f: Front;
      try {
        f = front === 'nginx' ? await startNginx({ serverBlock: nginxBlock(join(dir, 'sink.sock')) }) : await startApache({ serverBlock: apacheBlock(join(dir, 'sink.sock')) });
      } finally {
        process.env.PATH = savedPath;
      }
      fronts.push(f);
      for (const s of SCENARIOS.filter((x) => x.fronts.includes(front))) {
        sink.captures.length = 0;
        const response = await sendRaw(f.port, s.request);
        assert.match(response, /^HTTP\/1\.1 200 /, `${front} ${s.name}: the front reached the sink`);
        assert.equal(sink.captures.length, 1, `${front} ${s.name}: one uwsgi connection`);
        const bytes = sink.captures[0]!;
        const name = `${front}-${s.name}`;
        const live = describe(front, s, bytes);
        if (UPDATE) {
          writeFileSync(join(FIXTURES, `${name}.bin`), bytes);
          writeFileSync(join(FIXTURES, `${name}.json`), `${JSON.stringify(live, null, 2)}\n`);
          continue;
        }
        const jsonPath = join(FIXTURES, `${name}.json`);
        assert.ok(existsSync(jsonPath), `${name}.json is in the corpus (run with USHER_UPDATE_FIXTURES=1 to add it)`);
        const stored = JSON.parse(readFileSync(jsonPath, 'utf8')) as Fixture;
        // Compare what the front sends, not which build sent it: `source` names the version that was
        // captured (Apache/2.4.71 here), and another Debian build of the same front must still pass.
        const behaviour = (f: Fixture): Fixture => ({ ...maskVolatile(f), source: front });
        assert.deepEqual(behaviour(live), behaviour(stored), `${name}: what ${front} sends today is what the corpus says`);
      }
    }
  } finally {
    for (const f of fronts) await f.stop();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
