// The Python runner speaks the contract's messages (src/ipc.ts): `ready` with its contract version,
// `heartbeat` with live counters, `exiting` (reason, detail, counters) before it recycles itself for
// max-requests (exit EXIT.RECYCLE) or dies by harakiri (exit EXIT.HARAKIRI, the request named in the
// log); and it acts on the master's `stop`, `logging` and `reopen-logs`. The runner is started by hand
// with Node's IPC channel and a real socket (test/helpers/python-runner.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { COUNTER_KEYS, CONTRACT_VERSION, EXIT, RT_BUCKETS_US, type ChildCounters } from '../../src/ipc.js';
import { APPS, havePython, startRunner, workerSpec } from '../helpers/python-runner.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

const APP = join(APPS, 'wsgi_runner.py');
type Counters = ChildCounters;
const counters = (m: Record<string, unknown>): Counters => m.counters as Counters;

test('ready carries the contract version; heartbeats carry requests, inflight, oldest, tx, exceptions, rtUs, status classes and the time histogram', async (ctx) => {
  if (!havePython(ctx)) return;
  const r = await startRunner(workerSpec({ wsgiFile: APP, threads: 2 }));
  try {
    const ready = await r.waitMessage((m) => m.type === 'ready');
    assert.equal(ready.contract, CONTRACT_VERSION);
    const before = Date.now();
    const slow = uwsgiRequest(r.target, 'GET', '/sleep/7');
    assert.equal((await uwsgiRequest(r.target, 'GET', '/big/1000')).status, 200);
    assert.equal((await uwsgiRequest(r.target, 'GET', '/error')).status, 500);
    assert.equal((await uwsgiRequest(r.target, 'GET', '/')).status, 200);
    // The first heartbeat comes 5 s after start, while /sleep/7 is still running.
    const busy = counters(await r.waitMessage((m) => m.type === 'heartbeat' && counters(m).inflight === 1, 20_000));
    assert.deepEqual(Object.keys(busy).sort(), [...COUNTER_KEYS].sort(), 'exactly the contract counters');
    assert.equal(busy.requests, 3);
    assert.equal(busy.exceptions, 1, 'the app raised once');
    assert.ok(busy.tx >= 1000 + 2, `body bytes written (${busy.tx})`);
    assert.ok(busy.oldest >= before - 1000 && busy.oldest <= Date.now(), `oldest is the slow request's start, ms since the epoch (${busy.oldest})`);
    assert.ok(busy.rtUs > 0);
    assert.equal((await slow).status, 200);
    const idle = counters(await r.waitMessage((m) => m.type === 'heartbeat' && counters(m).requests === 4, 20_000));
    assert.equal(idle.inflight, 0);
    assert.equal(idle.oldest, 0, 'oldest is 0 when idle');
    assert.ok(idle.rtUs >= 7_000_000, `the 7 s request is in rtUs (${idle.rtUs})`);
    assert.deepEqual(idle.codes, [0, 3, 0, 0, 1], 'by status class: three 200s and one 500');
    assert.equal(idle.rtHist.length, RT_BUCKETS_US.length + 1);
    assert.equal(idle.rtHist.reduce((a, b) => a + b, 0), 4, 'every request in one bucket');
    const sevenS = RT_BUCKETS_US.findIndex((b) => b >= 7_000_000);
    assert.equal(idle.rtHist[sevenS], 1, 'the 7 s request in the 10 s bucket');
  } finally {
    await r.stop();
  }
});

test('max-requests: an `exiting` message (reason max-requests, counters), then exit EXIT.RECYCLE (6)', async (ctx) => {
  if (!havePython(ctx)) return;
  const r = await startRunner(workerSpec({ wsgiFile: APP, maxRequests: 3 }));
  try {
    await r.waitMessage((m) => m.type === 'ready');
    for (let i = 0; i < 3; i++) assert.equal((await uwsgiRequest(r.target, 'GET', '/')).status, 200);
    const exiting = await r.waitMessage((m) => m.type === 'exiting');
    assert.equal(exiting.reason, 'max-requests');
    assert.match(String(exiting.detail), /max-requests 3/);
    assert.equal(counters(exiting).requests, 3);
    assert.equal((await r.exited).code, EXIT.RECYCLE);
  } finally {
    await r.stop();
  }
});

test('harakiri: the log line names method, URI and seconds; `exiting` (reason harakiri), exit EXIT.HARAKIRI (5)', async (ctx) => {
  if (!havePython(ctx)) return;
  const r = await startRunner(workerSpec({ wsgiFile: APP, harakiri: 1 }));
  try {
    await r.waitMessage((m) => m.type === 'ready');
    const res = await uwsgiRequest(r.target, 'GET', '/sleep/10').catch(() => undefined);
    assert.ok(res === undefined || res.status === 0, 'the request gets no answer: its worker is gone');
    const exiting = await r.waitMessage((m) => m.type === 'exiting');
    assert.equal(exiting.reason, 'harakiri');
    assert.match(String(exiting.detail), /GET \/sleep\/10/);
    assert.equal(counters(exiting).inflight, 1);
    assert.equal((await r.exited).code, EXIT.HARAKIRI);
    assert.match(r.stderr(), /ERROR .*harakiri: request took too long; killing this worker method=GET uri=\/sleep\/10 seconds=1$/m);
  } finally {
    await r.stop();
  }
});

test('master messages: `logging` toggles access lines, `reopen-logs` is accepted, `stop` ends the worker (exit 0) naming the reason', async (ctx) => {
  if (!havePython(ctx)) return;
  const r = await startRunner(workerSpec({ wsgiFile: APP }));
  try {
    await r.waitMessage((m) => m.type === 'ready');
    await uwsgiRequest(r.target, 'GET', '/logged-1');
    await r.waitStderr(/GET \/logged-1 => generated \d+ bytes in \d+ msecs \(HTTP\/1\.\d 200\)/);
    r.send({ type: 'logging', enabled: false });
    await r.waitStderr(/request logging disabled by the master/);
    await uwsgiRequest(r.target, 'GET', '/quiet');
    r.send({ type: 'reopen-logs' });
    r.send({ type: 'logging', enabled: true });
    await r.waitStderr(/request logging enabled by the master/);
    await uwsgiRequest(r.target, 'GET', '/logged-2');
    await r.waitStderr(/GET \/logged-2 => generated \d+ bytes in \d+ msecs \(HTTP\/1\.\d 200\)/);
    assert.doesNotMatch(r.stderr(), /\/quiet/, 'no access line while logging is off');
    assert.doesNotMatch(r.stderr(), /unknown message/, 'reopen-logs is a known message');
    r.send({ type: 'stop', reason: 'reload' });
    assert.equal((await r.exited).code, EXIT.OK);
    assert.match(r.stderr(), /the master asks this worker to stop reason=reload/);
  } finally {
    await r.stop();
  }
});
