// A Node worker's heartbeat carries live counters (src/ipc.ts ChildCounters): requests completed,
// requests in flight and the start of the oldest, response body bytes actually written (not the
// Content-Length header: a HEAD writes none), exceptions (an app that throws, a fetch handler that
// rejects: 500) and the summed response time. Over HTTP and over uwsgi, the test in the master's seat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { REPO } from '../helpers/usher.js';
import { startWorker } from '../helpers/worker.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const PROBE = join(REPO, 'test/fixtures/apps/worker-probe.mjs');
const FETCH_PROBE = join(REPO, 'test/fixtures/apps/fetch-probe.mjs');

/** One HTTP request on its own connection; resolves with the status and the body. */
function get(base: string, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// 3 x 14 (/hello) + 0 (HEAD /hello, Content-Length 14 but no body) + 45 (/stream) + 22 (the 500's body)
const EXPECTED_TX = 3 * 14 + 45 + 'Internal Server Error\n'.length;

test('HTTP: heartbeat counts requests, body bytes written, exceptions, response time and the request in flight', async () => {
  const w = await startWorker(PROBE, { kind: 'http' });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await get(w.target, '/hello')).status, 200);
    const head = await get(w.target, '/hello', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal((await get(w.target, '/stream')).body.length, 45);
    assert.equal((await get(w.target, '/throw')).status, 500);
    const before = Date.now();
    const hung = http.request(`${w.target}/hang`, { agent: false });
    hung.on('error', () => { /* cut at the end of the test */ });
    hung.end();
    const c = await w.heartbeat((k) => k.inflight === 1 && k.requests === 6);
    assert.equal(c.tx, EXPECTED_TX, 'response body bytes actually written');
    assert.equal(c.exceptions, 1);
    assert.ok(c.rtUs > 0, 'response times are summed');
    assert.ok(c.oldest >= before - 1000 && c.oldest <= Date.now(), `oldest is the hung request's start (${c.oldest} vs ${before})`);
    hung.destroy();
    const after = await w.heartbeat((k) => k.inflight === 0);
    assert.equal(after.oldest, 0, 'idle: no oldest');
    assert.equal(after.requests, 7, 'a request whose client went away is over too');
    assert.match(w.log(), /ERROR .*app raised while handling request .*url=\/throw/);
    assert.match(w.log(), /INFO  worker 1: client went away mid-response method=GET url=\/hang/, 'an event line says the request was cut');
    assert.match(w.log(), /GET \/hang => generated 0 bytes in \d+ msecs \(HTTP\/1\.1 200\)/, 'and it has its access line');
  } finally {
    await w.stop();
  }
});

test('uwsgi: the same counters, and a slow request in flight shows as `oldest`', async () => {
  const w = await startWorker(PROBE, { kind: 'uwsgi' });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await uwsgiRequest(w.target, 'GET', '/hello')).status, 200);
    assert.equal((await uwsgiRequest(w.target, 'HEAD', '/hello')).body.length, 0);
    assert.equal((await uwsgiRequest(w.target, 'GET', '/stream')).body.length, 45);
    assert.equal((await uwsgiRequest(w.target, 'GET', '/throw')).status, 500);
    const before = Date.now();
    // in flight for longer than a heartbeat interval, so a heartbeat sees it
    const slow = uwsgiRequest(w.target, 'GET', '/slow?ms=7000');
    const c = await w.heartbeat((k) => k.inflight === 1 && k.requests === 6);
    assert.equal(c.tx, EXPECTED_TX);
    assert.equal(c.exceptions, 1);
    assert.ok(c.rtUs > 0);
    assert.ok(c.oldest >= before - 1000 && c.oldest <= Date.now());
    assert.equal((await slow).status, 200);
    const after = await w.heartbeat((k) => k.inflight === 0);
    assert.equal(after.requests, 7);
    assert.equal(after.tx, EXPECTED_TX + 3);
  } finally {
    await w.stop();
  }
});

test('fetch handler: a rejection is a logged 500 and counts as an exception', async () => {
  const w = await startWorker(FETCH_PROBE, { kind: 'http' });
  try {
    const r = await get(w.target, '/reject');
    assert.equal(r.status, 500);
    assert.equal((await get(w.target, '/ok')).status, 200);
    const c = await w.heartbeat((k) => k.requests === 2);
    assert.equal(c.exceptions, 1);
    assert.equal(c.tx, 'Internal Server Error\n'.length + 'fetch ok\n'.length);
    assert.match(w.log(), /ERROR .*fetch handler failed .*rejected \(on purpose\)/);
  } finally {
    await w.stop();
  }
});

test('max-requests: after N completed requests the worker says so (with its counters) and exits 0', async () => {
  const w = await startWorker(PROBE, { kind: 'http', maxRequests: 3, disableLogging: true });
  try {
    const exit = new Promise<number | null>((resolve) => w.proc.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 3; i++) assert.equal((await get(w.target, '/hello')).status, 200);
    assert.equal(await exit, 0);
    const exiting = w.messages.find((m) => m.type === 'exiting');
    assert.ok(exiting && exiting.type === 'exiting');
    assert.equal(exiting.reason, 'max-requests');
    assert.equal(exiting.counters.requests, 3);
    assert.equal(exiting.counters.tx, 3 * 14);
  } finally {
    await w.stop();
  }
});
