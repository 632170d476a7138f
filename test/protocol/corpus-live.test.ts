// The uwsgi corpus (test/fixtures/uwsgi: real Nginx and Apache captures plus malformed packets) sent
// byte for byte to live workers of both runtimes: a Node worker (echo.mjs) and a Python worker
// (wsgi_environ.py). Each well-formed packet reaches the app as the corpus says; each bad one gets
// its 400/413, or a plain close when the peer hung up mid-packet; and both workers serve the next one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir, REPO, type UsherProc } from '../helpers/usher.js';
import { parseRaw, sendRaw, uwsgiRequest } from '../helpers/uwsgi-client.js';
import { loadCorpus, type Fixture } from '../helpers/corpus.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const PY = '/usr/bin/python3';

interface Echoed { method: string; url: string; headers: Record<string, string>; body: string | null }
interface PyEchoed { environ: Record<string, string>; scheme: string; body: string }

/** What the peer should see for a fixture that must be refused. */
function expectRefusal(f: Fixture, raw: Buffer, where: string): void {
  const err = f.error!;
  if (err.code === 'USHER_ERR_UWSGI_TRUNCATED') {
    assert.equal(raw.length, 0, `${where}: a peer that hung up mid-packet gets no answer, just the close`);
    return;
  }
  assert.equal(parseRaw(raw).status, err.status, `${where}: ${err.code} is answered ${err.status}`);
}

/** The app's JSON answer to a well-formed packet; undefined for HEAD, whose answer has no body. */
function answer<T>(f: Fixture, raw: Buffer, where: string): T | undefined {
  const res = parseRaw(raw);
  assert.equal(res.status, 200, where);
  if (f.expect!.method === 'HEAD') {
    assert.equal(res.body.length, 0, `${where}: a HEAD answer carries no body`);
    return undefined;
  }
  return JSON.parse(res.body.toString('utf8')) as T;
}

function checkNode(f: Fixture, raw: Buffer, where: string): void {
  const got = answer<Echoed>(f, raw, where);
  if (got === undefined) return;
  const want = f.expect!;
  assert.equal(got.method, want.method, where);
  assert.equal(got.url, want.url, where);
  for (let i = 0; i + 1 < want.rawHeaders.length; i += 2) {
    assert.equal(got.headers[want.rawHeaders[i]!.toLowerCase()], want.rawHeaders[i + 1], `${where}: header ${want.rawHeaders[i]}`);
  }
  assert.ok(!Object.keys(got.headers).some((h) => h.startsWith('uwsgi')), `${where}: no UWSGI_* var is exposed as a header`);
  if (want.contentLength > 0 && want.contentLength <= 65536) assert.equal(Buffer.from(got.body ?? '', 'utf8').toString('latin1'), f.body, `${where}: body`);
}

function checkPython(f: Fixture, raw: Buffer, where: string): void {
  const got = answer<PyEchoed>(f, raw, where);
  if (got === undefined) return;
  const want = f.expect!;
  const env = got.environ;
  assert.equal(env.REQUEST_METHOD, want.method, where);
  assert.equal(env.PATH_INFO, want.pathInfo, `${where}: PATH_INFO`);
  assert.equal(env.SCRIPT_NAME ?? '', want.scriptName, `${where}: SCRIPT_NAME`);
  assert.equal(env.QUERY_STRING ?? '', want.queryString, `${where}: QUERY_STRING`);
  assert.equal(got.scheme, want.scheme, `${where}: wsgi.url_scheme`);
  if (want.remoteAddress !== undefined) assert.equal(env.REMOTE_ADDR, want.remoteAddress, `${where}: REMOTE_ADDR`);
  for (let i = 0; i + 1 < want.rawHeaders.length; i += 2) {
    const name = want.rawHeaders[i]!.toUpperCase().replace(/-/g, '_');
    const key = name === 'CONTENT_TYPE' || name === 'CONTENT_LENGTH' ? name : `HTTP_${name}`;
    assert.equal(env[key], want.rawHeaders[i + 1], `${where}: ${key}`);
  }
  assert.equal(got.body, f.body ?? '', `${where}: body`);
}

test('the uwsgi corpus against live Node and Python workers: same requests, same refusals, and they keep serving', async (ctx) => {
  if (!existsSync(PY)) {
    if (process.env.CI === 'true') throw new Error(`${PY} is missing (CI must install python3)`);
    ctx.skip(`${PY} is missing`);
    return;
  }
  const tmp = tempDir();
  const nodeSock = join(tmp.dir, 'node.sock');
  const pySock = join(tmp.dir, 'py.sock');
  let node: UsherProc | undefined;
  let py: UsherProc | undefined;
  try {
    // buffer-size 4096 is every fixture's (the default, uWSGI's too)
    [node, py] = await Promise.all([
      startUsherReady(['--socket', nodeSock, '--processes', '1', '--app', join(APPS, 'echo.mjs'), '--disable-logging']),
      startUsherReady(['--socket', pySock, '--processes', '1', '--threads', '2', '--wsgi-file', join(APPS, 'wsgi_environ.py'), '--python', PY, '--disable-logging']),
    ]);
    const corpus = loadCorpus();
    assert.ok(corpus.length >= 25, `the corpus is there (${corpus.length} packets)`);
    for (const { name, bytes, fixture } of corpus) {
      assert.equal(fixture.bufferSize, 4096, `${name} is meant for buffer-size 4096`);
      // Every packet is sent whole and then the peer half-closes, as a proxy that has nothing more to say.
      const [fromNode, fromPy] = await Promise.all([sendRaw(nodeSock, bytes, 10_000, true), sendRaw(pySock, bytes, 10_000, true)]);
      if (fixture.error !== undefined) {
        expectRefusal(fixture, fromNode, `${name} (Node)`);
        expectRefusal(fixture, fromPy, `${name} (Python)`);
      } else {
        checkNode(fixture, fromNode, `${name} (Node)`);
        checkPython(fixture, fromPy, `${name} (Python)`);
      }
      assert.equal((await uwsgiRequest(nodeSock, 'GET', '/pid')).status, 200, `the Node worker serves after ${name}`);
      assert.equal((await uwsgiRequest(pySock, 'GET', '/')).status, 200, `the Python worker serves after ${name}`);
    }
    assert.doesNotMatch(node.output() + py.output(), /worker died|Traceback/, 'no worker crashed');
  } finally {
    await Promise.all([node?.stop(), py?.stop()]);
    tmp.remove();
  }
});
