// `socket-timeout`: a uwsgi peer that connects and goes quiet before its request is complete is closed
// after that many seconds, with a log line, and the worker (one process, one thread) serves on. Both
// runtimes: the Python worker reads without a timeout first and sets it only when a read has to wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir, childPids, REPO } from '../helpers/usher.js';
import { sendRaw, uwsgiRequest, uwsgiVars } from '../helpers/uwsgi-client.js';
import { encodePacket } from '../../src/protocol/index.js';

const PY = '/usr/bin/python3';
const RUNTIMES = [
  { name: 'Node worker', args: ['--app', join(REPO, 'test/fixtures/apps/echo.mjs')], path: '/echo' },
  { name: 'Python worker', args: ['--wsgi-file', join(REPO, 'test/fixtures/apps/wsgi_suite.py'), '--python', PY], path: '/echo' },
];

/** Resolves with what the server sent and how long it took to close the connection. */
async function timedRaw(sock: string, bytes: Buffer[]): Promise<{ raw: string; ms: number }> {
  const t0 = Date.now();
  const raw = await sendRaw(sock, bytes, 10_000);
  return { raw: raw.toString('latin1'), ms: Date.now() - t0 };
}

for (const rt of RUNTIMES) {
  test(`${rt.name}: a peer quiet mid-request is closed after socket-timeout; the worker serves on`, async (t) => {
    if (rt.name.startsWith('Python') && !existsSync(PY)) {
      if (process.env.CI === 'true') throw new Error(`${PY} is missing (CI must install python3)`);
      t.skip(`${PY} is missing`);
      return;
    }
    const tmp = tempDir();
    const sock = join(tmp.dir, 'w.sock');
    const u = await startUsherReady(['--socket', sock, '--processes', '1', '--threads', '1', '--socket-timeout', '1', ...rt.args]);
    try {
      const [worker] = await childPids(u.pid);
      const full = encodePacket(uwsgiVars('POST', rt.path, { 'content-type': 'text/plain' }, 10));
      // connects and sends nothing; sends half the vars; sends the vars and 3 of 10 body bytes (Python
      // workers time out the body read too; a Node worker leaves the body to the app)
      const silent = timedRaw(sock, []);
      const halfVars = timedRaw(sock, [full.subarray(0, 20)]);
      const pending: Promise<{ raw: string; ms: number }>[] = [silent, halfVars];
      if (rt.name.startsWith('Python')) pending.push(timedRaw(sock, [full, Buffer.from('abc')]));
      const quiet = await Promise.all(pending);
      assert.equal(quiet[0]!.raw, '', 'nothing is sent to a peer that sent nothing');
      assert.equal(quiet[1]!.raw, '', 'nothing is sent to a peer whose vars never completed');
      if (quiet[2]) assert.match(quiet[2].raw, /^HTTP\/1\.1 408 /, 'a body that stops coming: 408, the peer\'s fault');
      for (const q of quiet) assert.ok(q.ms >= 900, `closed by the timeout, not at once (${q.ms} ms)`);
      await u.waitFor(/WARN .*uwsgi peer sent no complete request within socket-timeout; closing seconds=1/, 5_000);
      if (quiet[2]) await u.waitFor(/WARN .*uwsgi peer stopped sending the request body; closing/, 5_000);

      const ok = await uwsgiRequest(sock, 'GET', '/');
      assert.equal(ok.status, 200, 'the same worker answers the next request');
      assert.deepEqual(await childPids(u.pid), [worker], 'the worker was never replaced');
    } finally {
      await u.stop();
      tmp.remove();
    }
  });
}
