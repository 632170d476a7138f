/**
 * The router's memory reclaim (src/router/reclaim.ts), on this process's real V8: the collections it
 * forces are read back from the `gc` performance entries (kind and the "forced" flag), so a call that
 * asks for one kind and gets the other fails here (Node 20's V8 reads any argument to gc(), even
 * `{ type: 'major' }`, as a young collection).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { QUIET_WINDOW_MS, RECLAIM_BYTES, passed, reclaimWhenIdle } from '../../src/router/reclaim.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collections forced in this process from now on: 'minor' or 'major', in order. */
function forcedCollections(): { seen: () => Promise<string[]>; stop: () => void } {
  const got: string[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const { kind, flags } = (e as unknown as { detail: { kind: number; flags: number } }).detail;
      if ((flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) === 0) continue;
      got.push(kind === constants.NODE_PERFORMANCE_GC_MAJOR ? 'major' : kind === constants.NODE_PERFORMANCE_GC_MINOR ? 'minor' : `kind ${kind}`);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  // Entries reach the observer a tick or so after the collection.
  return { seen: async () => { await sleep(30); return [...got]; }, stop: () => obs.disconnect() };
}

test('body bytes through the router: one young collection per RECLAIM_BYTES, none before', async () => {
  const gc = forcedCollections();
  try {
    passed(RECLAIM_BYTES - 1);
    assert.deepEqual(await gc.seen(), [], 'nothing forced below the threshold');
    passed(1);
    assert.deepEqual(await gc.seen(), ['minor'], 'one young collection at the threshold');
    passed(RECLAIM_BYTES * 2);
    assert.deepEqual(await gc.seen(), ['minor', 'minor'], 'one per crossing, however large the chunk');
  } finally {
    gc.stop();
  }
});

test('quiet after traffic: a young collection at the first quiet check, one full collection QUIET_WINDOW_MS later, then nothing more', async () => {
  let requests = 0;
  const gc = forcedCollections();
  const timer = reclaimWhenIdle(() => requests, 25);
  try {
    await sleep(150);
    assert.deepEqual(await gc.seen(), [], 'no traffic yet: nothing to give back');
    for (let i = 0; i < 10; i++) { requests++; await sleep(10); }
    await sleep(150);
    assert.deepEqual(await gc.seen(), ['minor'], 'the first quiet check collects the young generation');
    await sleep(QUIET_WINDOW_MS - 500);
    assert.deepEqual(await gc.seen(), ['minor'], 'no full collection inside the quiet window');
    await sleep(900);
    assert.deepEqual(await gc.seen(), ['minor', 'major'], 'one full collection once the window has passed');
    await sleep(300);
    assert.deepEqual(await gc.seen(), ['minor', 'major'], 'once per quiet spell');
  } finally {
    clearInterval(timer);
    gc.stop();
  }
});
