/**
 * A Node worker's access lines on their way to the master (src/log.ts encodes them into one queue
 * buffer, written in batches of whole lines of at most 4 KiB; src/logging/writer.ts reads the pipe
 * into one buffer): many batches' worth arrive whole, in order, once each, and non-ASCII text as UTF-8.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, freePort } from '../helpers/usher.js';
import { NODE_APP, readOr, startUsherLogging, waitUntil } from './helpers.js';

test('Node access lines over many batches: whole, in order, each once, non-ASCII as UTF-8', async () => {
  const d = tempDir();
  const log = join(d.dir, 'usher.log');
  const port = await freePort();
  const u = await startUsherLogging(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--logto', log,
    '--log-format', 'ACCESS %(uri) %(uagent)'], log);
  // 400 lines of ~230 bytes: about 90 KB, so several 32 KB batches and many 4 KiB writes.
  // The User-Agent carries é as the byte 0xE9 (HTTP headers are latin-1): logged as UTF-8 (C3 A9).
  const agent = 'caf\u00e9-' + 'a'.repeat(200);
  try {
    for (let i = 0; i < 400; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/n/${i}`, { headers: { 'User-Agent': agent } });
      await r.arrayBuffer();
    }
    await waitUntil(() => readOr(log), (s) => s.includes('ACCESS /n/399 '), 'the last access line');
    const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('ACCESS '));
    assert.deepEqual(lines, Array.from({ length: 400 }, (_, i) => `ACCESS /n/${i} ${agent}`));
    assert.ok(readFileSync(log).includes(Buffer.from('caf\xc3\xa9-', 'latin1')), 'é is written as UTF-8');
  } finally {
    await u.stop();
    d.remove();
  }
});
