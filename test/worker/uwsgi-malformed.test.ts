// Bad uwsgi input never takes a worker down: each malformed packet gets its connection closed (with a
// 400/413 answer where one can be written) and a log line, and the same single worker serves next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startUsherReady, tempDir, childPids, REPO } from '../helpers/usher.js';
import { sendRaw, uwsgiRequest, uwsgiVars } from '../helpers/uwsgi-client.js';
import { encodePacket } from '../../src/protocol/index.js';

const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const header = (size: number, m1 = 0): Buffer => Buffer.from([m1, size & 0xff, size >> 8, 0]);

test('malformed uwsgi packets: no crash, the worker keeps serving', async () => {
  const tmp = tempDir();
  const sock = join(tmp.dir, 'w.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--buffer-size', '4096', '--app', join(REPO, 'test/fixtures/apps/echo.mjs')]);
  try {
    const [worker] = await childPids(u.pid);
    const good = encodePacket(uwsgiVars('GET', '/'));
    const keyPastBlock = Buffer.concat([header(6), u16(200), Buffer.from('ABCD')]);
    const cases: { name: string; bytes: Buffer; expect: RegExp }[] = [
      { name: 'truncated header', bytes: Buffer.from([0, 10]), expect: /^$|HTTP\/1\.1 400/ },
      { name: 'datasize past the end', bytes: Buffer.concat([header(1000), good.subarray(4, 40)]), expect: /^$|HTTP\/1\.1 400/ },
      { name: 'key length past the block', bytes: keyPastBlock, expect: /HTTP\/1\.1 400/ },
      { name: '0-length vars block', bytes: header(0), expect: /HTTP\/1\.1 400/ },
      { name: 'vars larger than buffer-size', bytes: Buffer.concat([header(8000), randomBytes(8000)]), expect: /HTTP\/1\.1 413/ },
      { name: 'random bytes', bytes: randomBytes(3000), expect: /^$|HTTP\/1\.1 4\d\d/ },
    ];
    for (const c of cases) {
      // Half-close after sending, as a peer that gave up would: the worker must not wait forever.
      const raw = await sendRaw(sock, c.bytes, 10_000, true);
      assert.match(raw.toString('latin1'), c.expect, c.name);
      const ok = await uwsgiRequest(sock, 'GET', '/after');
      assert.equal(ok.status, 200, `served after: ${c.name}`);
    }
    assert.deepEqual(await childPids(u.pid), [worker], 'the same worker, never replaced');
    await u.waitFor(/raise `?buffer-size/, 5_000);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('a body the app never reads is drained, so the peer sees the response and a clean close', async () => {
  const tmp = tempDir();
  const sock = join(tmp.dir, 'w.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--app', join(REPO, 'test/fixtures/apps/echo.mjs')]);
  try {
    const body = randomBytes(2 * 1024 * 1024);
    const res = await uwsgiRequest(sock, 'POST', '/ignore-body', { body, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'ignored\n');
  } finally {
    await u.stop();
    tmp.remove();
  }
});
