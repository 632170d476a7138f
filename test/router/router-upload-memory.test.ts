// The HTTP router streams request bodies with bounded memory: a 100 MB upload, chunked or with a
// Content-Length, grows the router and the worker that reads it by a few MiB, not by the body's size
// (the router used to hold a chunked body whole: +204 MiB for 100 MB). A chunked body is spilled to
// an unlinked temp file past a small in-memory part, because the uwsgi protocol needs CONTENT_LENGTH
// before the body. Dead chunk buffers used to pile up to V8's external-memory limit (+31 MiB for a
// 100 MB Content-Length body, measured); the router now collects them (router/reclaim).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUsherReady, freePort, childPids, REPO } from '../helpers/usher.js';

const APP = join(REPO, 'test', 'fixtures', 'apps', 'wsgi_router.py');
const MB = 1024 * 1024;
const BODY = 100 * 1000 * 1000;
const PIECE = Buffer.alloc(64 * 1024, 0x61);

/** Upload `size` bytes of generated data (chunked when `chunked`), with back-pressure; the answer's text. */
export function upload(port: number, path: string, size: number, chunked: boolean): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(size) };
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    let left = size;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, PIECE.length);
        left -= n;
        const ok = req.write(n === PIECE.length ? PIECE : PIECE.subarray(0, n));
        if (!ok) { req.once('drain', pump); return; }
      }
      req.end();
    };
    pump();
  });
}

function kib(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Reset each process's peak RSS (Linux: clear_refs 5) so VmHWM afterwards is the peak of what follows. */
export function resetPeaks(pids: readonly number[]): number {
  let rss = 0;
  for (const p of pids) {
    writeFileSync(`/proc/${p}/clear_refs`, '5');
    rss += kib(p, 'VmRSS');
  }
  return rss;
}

export function peaks(pids: readonly number[]): number {
  return pids.reduce((sum, p) => sum + kib(p, 'VmHWM'), 0);
}

test('router: a 100 MB upload, chunked or with Content-Length, grows the router and its worker by < 16 MiB', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--wsgi-file', APP, '--processes', '1', '--disable-logging']);
  try {
    const pids = await childPids(u.pid);
    console.log(`# before: ${pids.map((p) => (kib(p, 'VmRSS') / 1024).toFixed(1)).join(' ')}`);
    assert.equal(pids.length, 2, 'one router and one worker');
    // warm both up (first request, first body) before the baseline
    assert.equal((await upload(port, '/count', 4 * MB, false)).text, String(4 * MB));
    assert.equal((await upload(port, '/count', 4 * MB, true)).text, String(4 * MB));
    for (const chunked of [false, true]) { // Content-Length first: its figure is a fresh router's
      const before = resetPeaks(pids);
      const r = await upload(port, '/count', BODY, chunked);
      const growth = (peaks(pids) - before) / 1024;
      const each = pids.map((p) => `${readFileSync(`/proc/${p}/comm`, 'utf8').trim()}=${(kib(p, 'VmHWM') / 1024).toFixed(1)}`).join(' ');
      console.log(`# router+worker peak growth, 100 MB ${chunked ? 'chunked' : 'Content-Length'} upload: ${growth.toFixed(1)} MiB (peaks MiB: ${each})`);
      assert.equal(r.status, 200);
      assert.equal(r.text, String(BODY), 'the worker read every byte');
      assert.ok(growth < 16, `${chunked ? 'chunked' : 'Content-Length'} upload grew router+worker by ${growth.toFixed(1)} MiB`);
    }
  } finally {
    await u.stop();
  }
});

test('router: chunked bodies reach the worker whole, with CONTENT_LENGTH, from memory or from the spool file', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--wsgi-file', APP, '--processes', '2', '--disable-logging']);
  try {
    // empty, in memory (< 256 KiB), just past it, and well into the temp file; twice each, so kept connections are reused
    for (const size of [0, 1, 100_000, 256 * 1024 + 1, 3 * MB + 17, 0, 100_000, 5 * MB]) {
      const body = randomBytes(size);
      const r = await new Promise<string>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/sha', method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => { text += d; });
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        // odd-sized writes: chunk boundaries that do not line up with anything
        for (let i = 0; i < size; i += 40_000 + 7) req.write(body.subarray(i, Math.min(size, i + 40_000 + 7)));
        req.end();
      });
      assert.equal(r, `${size} ${size} ${createHash('sha256').update(body).digest('hex')}`, `a ${size}-byte chunked body`);
    }
    assert.deepEqual(readdirSync(tmpdir()).filter((n) => n.startsWith('usher-body-')), [], 'no spool file left behind');
  } finally {
    await u.stop();
  }
});
