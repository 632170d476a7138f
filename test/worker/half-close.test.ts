// Issue #19 (3): a uwsgi peer that half-closes after a complete request gets its response and the
// connection closes at once, also when the app never read the body (the worker used to hold such a
// connection ~10 s, then log a socket-timeout that had nothing to do with it). socket-timeout is logged
// only for a request that really is incomplete: a kept connection the router leaves idle closes quietly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO } from '../helpers/usher.js';
import { startWorker } from '../helpers/worker.js';
import { parseRaw, sendRaw, uwsgiVars } from '../helpers/uwsgi-client.js';
import { encodePacket } from '../../src/protocol/index.js';

const PROBE = join(REPO, 'test/fixtures/apps/worker-probe.mjs');
/** Well below the worker's 10 s drain timer and 30 s socket-timeout: a connection still open then was held. */
const PROMPT_MS = 8_000;
const TIMEOUT_LOG = /uwsgi peer sent no complete request within socket-timeout/;

test('a half-closed peer whose body the app did not read gets the response and the connection closes at once', async () => {
  const w = await startWorker(PROBE, { kind: 'uwsgi' });
  try {
    const big = Buffer.alloc(100_000, 'b');
    const cases: { name: string; bytes: Buffer[] }[] = [
      { name: 'whole body sent', bytes: [encodePacket(uwsgiVars('POST', '/ignore-body', { 'content-type': 'text/plain' }, big.length)), big] },
      { name: 'part of the body sent', bytes: [encodePacket(uwsgiVars('POST', '/ignore-body', { 'content-type': 'text/plain' }, big.length)), big.subarray(0, 1000)] },
      { name: 'small body sent', bytes: [encodePacket(uwsgiVars('POST', '/ignore-body', { 'content-type': 'text/plain' }, 5)), Buffer.from('hello')] },
      { name: 'router keep-alive request, no body', bytes: [encodePacket(uwsgiVars('GET', '/hello'), 0, 1)] },
      { name: 'router keep-alive request, unread body', bytes: [encodePacket(uwsgiVars('POST', '/ignore-body', {}, big.length), 0, 1), big.subarray(0, 5000)] },
    ];
    const results = await Promise.all(cases.map(async (c) => ({ c, raw: parseRaw(await sendRaw(w.target, c.bytes, PROMPT_MS, true)) })));
    for (const { c, raw } of results) assert.equal(raw.status, 200, `${c.name}: answered (closed by the worker within ${PROMPT_MS} ms)`);
    assert.equal((await sendRaw(w.target, [encodePacket(uwsgiVars('GET', '/hello'))], PROMPT_MS, true)).length > 0, true, 'the worker serves on');
    assert.doesNotMatch(w.log(), TIMEOUT_LOG, 'no socket-timeout line for complete requests');
    assert.doesNotMatch(w.log(), /client closed before sending the whole body/, 'the app had answered: not a truncated request');
  } finally {
    await w.stop();
  }
});

test('socket-timeout: logged for an incomplete request, not for a kept connection left idle by the router', async () => {
  const w = await startWorker(PROBE, { kind: 'uwsgi', socketTimeout: 1 });
  try {
    // one kept request, then nothing: the worker closes the idle connection after socket-timeout, quietly
    const kept = parseRaw(await sendRaw(w.target, [encodePacket(uwsgiVars('GET', '/hello'), 0, 1)], 10_000));
    assert.equal(kept.status, 200);
    assert.match(kept.raw.toString('latin1'), /Hello, world!/);
    // half a request head, then nothing: that one is logged
    const head = encodePacket(uwsgiVars('GET', '/hello'));
    assert.equal((await sendRaw(w.target, [head.subarray(0, 20)], 10_000)).length, 0);
    await w.waitForLog(/WARN .*uwsgi peer sent no complete request within socket-timeout; closing seconds=1 got_bytes=20/);
    assert.equal(w.log().split('\n').filter((l) => TIMEOUT_LOG.test(l)).length, 1, 'one line: the incomplete request only');
  } finally {
    await w.stop();
  }
});
