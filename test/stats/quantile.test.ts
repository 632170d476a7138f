// Latency percentiles on the dashboard come from the workers' response-time histograms, estimated
// as Prometheus' histogram_quantile() does: linear inside the bucket holding the rank, the open last
// bucket answered by its lower bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RT_BUCKETS_US } from '../../src/ipc.js';
import { quantileMs } from '../../src/stats/totals.js';

const hist = (counts: Record<number, number>): number[] => {
  const h = new Array<number>(RT_BUCKETS_US.length + 1).fill(0);
  for (const [i, n] of Object.entries(counts)) h[Number(i)] = n;
  return h;
};

test('percentiles interpolate inside the bucket that holds the rank', () => {
  assert.equal(quantileMs(hist({}), 0.5), 0, 'no requests: 0');
  // 100 requests in (0, 5 ms]: the median is half way, p99 near the top.
  assert.equal(quantileMs(hist({ 0: 100 }), 0.5), 2.5);
  assert.equal(quantileMs(hist({ 0: 100 }), 0.99), 4.95);
  // 90 fast, 10 in (100, 250 ms]: p50 among the fast, p95 half way through the slow bucket.
  const mixed = hist({ 0: 90, 5: 10 });
  assert.ok(quantileMs(mixed, 0.5) <= 5);
  assert.equal(quantileMs(mixed, 0.95), 175);
  // Slower than the last bound (10 s): the answer is the bound, not an invented figure.
  assert.equal(quantileMs(hist({ [RT_BUCKETS_US.length]: 3 }), 0.99), 10_000);
});
