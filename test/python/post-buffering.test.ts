// `post-buffering = N`: the Python runner reads the whole body before the app runs and hands it a
// seekable wsgi.input (up to N bytes in memory, more spilled to a temp file, as uWSGI does); without it
// the body streams and wsgi.input cannot seek. The value travels in the spec as `postBuffering` (not a
// contract key yet: the runner is started by hand here, see test/helpers/python-runner.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../../src/ipc.js';
import { APPS, havePython, startRunner, workerSpec } from '../helpers/python-runner.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';
import { tempDir } from '../helpers/usher.js';

const APP = join(APPS, 'wsgi_runner.py');
const kib = (pid: number, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

test('post-buffering: wsgi.input can be read, rewound with seek(0) and read again (in memory and spilled)', async (ctx) => {
  if (!havePython(ctx)) return;
  const r = await startRunner(workerSpec({ wsgiFile: APP, postBuffering: 4096 }));
  try {
    await r.waitMessage((m) => m.type === 'ready');
    const small = await uwsgiRequest(r.target, 'POST', '/seek', { body: Buffer.from('hello world') });
    assert.equal(small.body.toString(), '11 11 same llo');
    const big = await uwsgiRequest(r.target, 'POST', '/seek', { body: Buffer.from('0123456789'.repeat(1000)) });
    assert.equal(big.body.toString(), '10000 10000 same 234', 'a body over post-buffering spills to a file, seekable all the same');
    assert.equal((await uwsgiRequest(r.target, 'GET', '/')).body.toString(), 'ok', 'no body: nothing buffered');
  } finally {
    await r.stop();
  }
});

test('without post-buffering the body streams: wsgi.input has no seek (a 500 and a traceback naming it)', async (ctx) => {
  if (!havePython(ctx)) return;
  const r = await startRunner(workerSpec({ wsgiFile: APP }));
  try {
    await r.waitMessage((m) => m.type === 'ready');
    assert.equal((await uwsgiRequest(r.target, 'POST', '/seek', { body: Buffer.from('hello') })).status, 500);
    await r.waitStderr(/AttributeError: .*'seek'/);
  } finally {
    await r.stop();
  }
});

test('post-buffering: a 100 MB body spills to disk; the worker RSS grows by a few MiB at most', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  const r = await startRunner(workerSpec({ wsgiFile: APP, postBuffering: 65536 }), { env: { TMPDIR: tmp.dir } });
  try {
    await r.waitMessage((m) => m.type === 'ready');
    const pid = r.proc.pid!;
    await uwsgiRequest(r.target, 'POST', '/sum', { body: Buffer.alloc(200_000, 1) }); // warm up the code paths
    const before = kib(pid, 'VmRSS');
    const piece = randomBytes(1 << 20);
    const body = Buffer.concat(Array.from({ length: 100 }, () => piece));
    const sha = createHash('sha256').update(body).digest('hex');
    // While the upload is buffered, a temp file in TMPDIR is open in the worker (already unlinked).
    let sawTemp = false;
    const watch = setInterval(() => {
      try {
        sawTemp ||= readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${tmp.dir}/`); } catch { return false; } });
      } catch { /* the worker is gone: the assertions below say so */ }
    }, 5);
    const res = await uwsgiRequest(r.target, 'POST', '/sum', { body });
    clearInterval(watch);
    assert.equal(res.body.toString(), `${body.length} ${sha}`, 'the app read the whole body, intact');
    const peak = kib(pid, 'VmHWM');
    assert.ok(peak - before < 8 * 1024, `peak RSS ${peak} KiB vs ${before} KiB before: the body is not held in memory`);
    assert.ok(sawTemp, 'the body went through a temp file');
    assert.doesNotMatch(r.stderr(), /Traceback/);
    assert.deepEqual(readdirSync(tmp.dir), [], 'nothing left in TMPDIR');
  } finally {
    await r.stop();
    tmp.remove();
  }
});

test('a bad postBuffering value is a boot error naming it', async (ctx) => {
  if (!havePython(ctx)) return;
  const r = await startRunner(workerSpec({ postBuffering: -1 }));
  assert.equal((await r.exited).code, EXIT.BOOT);
  assert.match(r.stderr(), /postBuffering must be a byte count/);
});
