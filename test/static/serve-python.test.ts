// The Python sender (python/usher_wsgi/static.py: Handler.serve -> send, os.sendfile) on a real
// socket pair, driven by test/static/py_serve_check.py under Debian's /usr/bin/python3: whole files,
// ranges, HEAD, 304, refusals, the app's requests left alone; a 1 GiB sparse file to a client that
// reads in pauses without the server's RSS following; a file truncated or replaced mid-send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO, tempDir } from '../helpers/usher.js';

const PY = '/usr/bin/python3';
const CHECK = join(REPO, 'test', 'static', 'py_serve_check.py');

async function scenario<T>(name: string): Promise<T> {
  const tmp = tempDir('usher-static-py-');
  try {
    mkdirSync(join(tmp.dir, 'root'));
    mkdirSync(join(tmp.dir, 'outside'));
    writeFileSync(join(tmp.dir, 'root', 'a.txt'), 'hello, static\n');
    utimesSync(join(tmp.dir, 'root', 'a.txt'), 1600000000, 1600000000);
    writeFileSync(join(tmp.dir, 'outside', 'canary.txt'), 'CANARY\n');
    const { stdout } = await promisify(execFile)(PY, [CHECK, REPO, tmp.dir, name], { encoding: 'utf8', timeout: 180_000 });
    return JSON.parse(stdout) as T;
  } finally {
    tmp.remove();
  }
}

function needPython(ctx: { skip: (m: string) => void }): boolean {
  if (existsSync(PY)) return true;
  if (process.env.CI === 'true') throw new Error(`${PY} is missing (CI must install python3)`);
  ctx.skip(`${PY} is missing`);
  return false;
}

interface One { status: string; headers: Record<string, string>; total: number; body: string; result: [number, number, boolean] | null }

test('python static sender: 200, 206, HEAD, 304 and 403 as raw HTTP/1.1 on the uwsgi connection; other requests untouched', async (ctx) => {
  if (!needPython(ctx)) return;
  const r = await scenario<Record<string, One> & { post: null; missing: null; targets: string[] }>('basic');
  assert.equal(r.get!.status, 'HTTP/1.1 200 OK');
  assert.equal(r.get!.body, 'hello, static\n');
  assert.equal(r.get!.headers['Content-Length'], '14');
  assert.equal(r.get!.headers['Connection'], 'close', 'without keep-alive from the peer, the response says close');
  assert.equal(r.range!.status, 'HTTP/1.1 206 Partial Content');
  assert.equal(r.range!.body, 'stati');
  assert.equal(r.range!.headers['Content-Range'], 'bytes 7-11/14');
  assert.equal(r.head!.total, 0, 'HEAD: no body');
  assert.equal(r.head!.headers['Content-Length'], '14', 'HEAD: the length GET would have');
  assert.equal(r.notmod!.status, 'HTTP/1.1 304 Not Modified');
  assert.equal(r.notmod!.total, 0);
  assert.equal(r.refused!.status, 'HTTP/1.1 403 Forbidden');
  assert.ok(!r.refused!.body.includes('CANARY'));
  assert.equal(r.post, null, 'POST is the app\'s');
  assert.equal(r.missing, null, 'a missing file is the app\'s');
  const keep = r.keep as unknown as { head: string; body: string; result: [number, number, boolean] }[];
  assert.equal(keep.length, 2, 'two answers on one kept connection');
  assert.match(keep[0]!.head, /^HTTP\/1\.1 206 /);
  assert.equal(keep[0]!.body, 'hello', 'the Range came from the HTTP_RANGE var');
  assert.doesNotMatch(keep[0]!.head, /Connection: close/, 'kept: no close');
  assert.equal(keep[1]!.body, 'hello, static\n');
  assert.deepEqual(r.targets, ['/static/a%20b?x=1', '/static/caf%C3%A9%20%25.txt'], 'REQUEST_URI as sent, else PATH_INFO encoded again');
});

test('python static sender: a 1 GiB sparse file to a client reading in pauses; sendfile keeps the RSS flat', async (ctx) => {
  if (!needPython(ctx)) return;
  const r = await scenario<{ status: string; length: string; total: number; rssBeforeKiB: number; rssPeakKiB: number; result: [number, number, boolean] }>('big');
  assert.equal(r.status, 'HTTP/1.1 200 OK');
  assert.equal(r.length, String(2 ** 30));
  assert.equal(r.total, 2 ** 30, 'every byte arrived');
  assert.deepEqual(r.result, [200, 2 ** 30, true]);
  const grewMiB = (r.rssPeakKiB - r.rssBeforeKiB) / 1024;
  ctx.diagnostic(`python RSS grew ${grewMiB.toFixed(2)} MiB while sending 1 GiB`);
  assert.ok(grewMiB < 4, `RSS grew ${grewMiB} MiB`);
});

test('python static sender: a file truncated mid-send stops at what is there and reports the connection must close', async (ctx) => {
  if (!needPython(ctx)) return;
  const r = await scenario<{ head: string; total: number; result: [number, number, boolean]; logs: [string, string, Record<string, unknown>][] }>('shrink');
  assert.match(r.head, /Content-Length: 67108864/);
  assert.equal(r.result[2], false, 'not complete: the caller closes the connection');
  assert.ok(r.total < 64 * 2 ** 20 && r.total >= 2 ** 20, `got ${r.total} bytes`);
  assert.ok(r.logs.some(([level, msg]) => level === 'WARN' && msg.includes('not sent whole')));
});

test('python static sender: a file replaced by rename mid-send is sent whole from the fd opened first', async (ctx) => {
  if (!needPython(ctx)) return;
  const r = await scenario<{ head: string; total: number; allA: boolean; result: [number, number, boolean] }>('replace');
  assert.match(r.head, /Content-Length: 8388608/);
  assert.equal(r.total, 8 * 2 ** 20);
  assert.equal(r.allA, true, 'the old content, not a mix');
  assert.equal(r.result[2], true);
});
