// harakiri for Node workers (issue #12): a request older than `harakiri` seconds is cut alone (504, or
// its connection closed when the headers were out), named in an error line and the access log, while
// the worker's other requests go on and the worker is not replaced. A late answer from the app to a
// cut request is ignored (it must not throw and take the worker down). Over HTTP and uwsgi, for a
// (req, res) listener and a fetch handler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { startUsherReady, freePort, tempDir, childPids, REPO, type UsherProc } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const PROBE = join(REPO, 'test/fixtures/apps/worker-probe.mjs');
const FETCH_PROBE = join(REPO, 'test/fixtures/apps/fetch-probe.mjs');
/** harakiri 2 cuts within ~2.5 s; this bound only guards against "never". */
const CUT_WITHIN_MS = 6_000;

function get(port: number, path: string, agent?: http.Agent): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, body, error: e.message }));
    });
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
  });
}

/** Requests /hello back to back on keep-alive connections until `until` settles. */
async function steady(port: number, until: Promise<unknown>): Promise<{ ok: number; failed: string[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const out = { ok: 0, failed: [] as string[] };
  let done = false;
  void until.finally(() => { done = true; });
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (!done) {
      const r = await get(port, '/hello', agent);
      if (r.status === 200 && r.body === 'Hello, world!\n') out.ok++;
      else out.failed.push(`${r.status} ${r.error ?? ''}`);
    }
  }));
  agent.destroy();
  return out;
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await p;
  return { value, ms: Date.now() - t0 };
}

test('HTTP: a request past harakiri is cut alone (504, or its connection closed), the others all succeed', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '1', '--harakiri', '2', '--app', PROBE]);
  try {
    const [worker] = await childPids(u.pid);
    const hang = timed(get(port, '/hang'));
    const afterHeaders = timed(get(port, '/hang-after-headers'));
    const late = timed(get(port, '/late?ms=3500'));
    const others = steady(port, Promise.all([hang, afterHeaders, late]));
    const h = await hang;
    assert.equal(h.value.status, 504, 'the client gets 504');
    assert.match(h.value.body, /harakiri/);
    assert.ok(h.ms <= CUT_WITHIN_MS, `cut after ${h.ms} ms`);
    const a = await afterHeaders;
    assert.equal(a.value.status, 200, 'headers were out before the cut');
    assert.ok(a.value.error, 'the response was cut short: its connection closed mid-body');
    assert.equal(a.value.body, 'started\n');
    assert.ok(a.ms <= CUT_WITHIN_MS, `closed after ${a.ms} ms`);
    assert.equal((await late).value.status, 504);
    const o = await others;
    assert.deepEqual(o.failed, [], 'every other request succeeded');
    assert.ok(o.ok > 0);
    await u.waitFor(/ERROR .*worker 1: harakiri: request cut method=GET url=\/hang seconds=2/);
    await u.waitFor(/ERROR .*worker 1: harakiri: request cut method=GET url=\/hang-after-headers seconds=2 .*headers_sent=true/);
    await u.waitFor(/GET \/hang => generated \d+ bytes in \d+ msecs \(HTTP\/1\.1 504\)/);
    // the app answers the cut /late request after all: ignored, nothing thrown
    await u.waitFor(/probe: late answer done after 3500 ms/, 10_000);
    assert.equal((await get(port, '/hello')).status, 200, 'the worker serves on');
    assert.deepEqual(await childPids(u.pid), [worker], 'the worker was never replaced');
    assert.doesNotMatch(u.output(), /uncaught exception|died|ERR_HTTP_HEADERS_SENT/);
  } finally {
    await u.stop();
  }
});

test('uwsgi and a fetch handler: the request past harakiri gets 504, the worker serves on', async () => {
  const tmp = tempDir();
  const port = await freePort();
  const sock = join(tmp.dir, 'w.sock');
  let u: UsherProc | undefined;
  let f: UsherProc | undefined;
  try {
    [u, f] = await Promise.all([
      startUsherReady(['--socket', sock, '--processes', '1', '--harakiri', '2', '--app', PROBE]),
      startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '1', '--harakiri', '2', '--app', FETCH_PROBE]),
    ]);
    const [viaUwsgi, viaFetch] = await Promise.all([timed(uwsgiRequest(sock, 'GET', '/hang')), timed(get(port, '/hang'))]);
    assert.equal(viaUwsgi.value.status, 504);
    assert.ok(viaUwsgi.ms <= CUT_WITHIN_MS, `uwsgi: cut after ${viaUwsgi.ms} ms`);
    assert.equal(viaFetch.value.status, 504);
    assert.ok(viaFetch.ms <= CUT_WITHIN_MS, `fetch: cut after ${viaFetch.ms} ms`);
    await u.waitFor(/ERROR .*harakiri: request cut method=GET url=\/hang seconds=2/);
    await f.waitFor(/ERROR .*harakiri: request cut method=GET url=\/hang seconds=2/);
    assert.equal((await uwsgiRequest(sock, 'GET', '/hello')).status, 200);
    assert.equal((await get(port, '/ok')).status, 200);
  } finally {
    await Promise.all([u?.stop(), f?.stop()]);
    tmp.remove();
  }
});
