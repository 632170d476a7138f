/**
 * A Python worker's access lines on their way to the master (python/usher_wsgi/log.py batches them:
 * whole lines, at most 4 KiB per write, written 20 ms after the first or when the next would not fit,
 * and before any event line): many batches' worth arrive whole, in order, once each; an event line the
 * app causes (wsgi.errors) comes after the access lines of the requests before it; the lines still
 * waiting when the worker stops are written before it exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, freePort } from '../helpers/usher.js';
import { PY, PY_APP, readOr, startUsherLogging, waitUntil } from './helpers.js';

test('Python access lines over many batches: whole, in order, each once, events in their place, flushed at stop', async () => {
  const d = tempDir();
  const log = join(d.dir, 'usher.log');
  const port = await freePort();
  const u = await startUsherLogging(['--http', `127.0.0.1:${port}`, '--wsgi-file', PY_APP, '--python', PY,
    '--processes', '1', '--threads', '2', '--logto', log, '--log-format', 'ACCESS %(uri) %(uagent)'], log);
  // 300 lines of ~230 bytes: about 70 KB, so many 4 KiB writes; every 50th request logs an event too.
  const agent = 'py-' + 'a'.repeat(200);
  const uri = (i: number): string => (i % 50 === 25 ? `/warn/m${i}` : `/n/${i}`);
  let stopped = false;
  try {
    for (let i = 0; i < 300; i++) {
      const r = await fetch(`http://127.0.0.1:${port}${uri(i)}`, { headers: { 'User-Agent': agent } });
      await r.arrayBuffer();
    }
    // Stopped at once: the last lines may still be waiting for their batch; the worker writes them as it exits.
    await u.stop();
    stopped = true;
    await waitUntil(() => readOr(log), (s) => s.includes(`ACCESS ${uri(299)} `), 'the last access line');
    const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('ACCESS ') || l.includes('wsgi.errors: marker'));
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) {
      if (i % 50 === 25) expected.push(`wsgi.errors: marker m${i}`);
      expected.push(`ACCESS ${uri(i)} ${agent}`);
    }
    assert.deepEqual(lines.map((l) => l.replace(/^.* WARN  worker 1: /, '')), expected);
  } finally {
    if (!stopped) await u.stop();
    d.remove();
  }
});
