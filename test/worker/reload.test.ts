// Issue #19 (10): a reload (SIGHUP) under load is not held up by the old Node workers: requests in
// flight when the stop begins answer with `Connection: close`, idle keep-alive connections are closed
// after a short grace (and again at that interval), and the router's kept uwsgi connections that are
// idle are closed at once. Asserted on events: zero failed requests, and every old worker retires
// (exit 0) well before reload-mercy would kill it. (The time it takes is measured, not asserted.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { startUsherReady, freePort, REPO, type UsherProc } from '../helpers/usher.js';

const PROBE = join(REPO, 'test/fixtures/apps/worker-probe.mjs');

interface Outcome { ok: number; failed: string[]; closeHeaders: string[] }

function request(agent: http.Agent, port: number, path: string): Promise<{ status: number; connection: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: String(res.headers.connection ?? '') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** `n` keep-alive clients requesting `path` back to back until `until` settles. */
async function clients(port: number, n: number, path: string, until: Promise<unknown>, out: Outcome): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  let done = false;
  void until.finally(() => { done = true; });
  await Promise.all(Array.from({ length: n }, async () => {
    while (!done) {
      try {
        const r = await request(agent, port, path);
        if (r.status === 200) out.ok++;
        else out.failed.push(`status ${r.status}`);
      } catch (err) {
        out.failed.push((err as Error).message);
      }
    }
  }));
  agent.destroy();
}

/** Both old workers retired: resolves with the master's lines, fails on reload-mercy kills. */
async function oldGenerationRetired(u: UsherProc): Promise<string[]> {
  const lines = [await u.waitFor(/worker retired id=1 .*generation=1/, 25_000), await u.waitFor(/worker retired id=2 .*generation=1/, 25_000)];
  return lines;
}

for (const mode of ['http-socket', 'http router'] as const) {
  test(`SIGHUP under load (${mode}): zero failed requests, the old workers retire on their own`, async () => {
    const port = await freePort();
    const args = mode === 'http-socket' ? ['--http-socket', `127.0.0.1:${port}`] : ['--http', `127.0.0.1:${port}`, '--http-router'];
    const u = await startUsherReady([...args, '--processes', '2', '--app', PROBE, '--disable-logging']);
    try {
      const out: Outcome = { ok: 0, failed: [], closeHeaders: [] };
      // Fill every pool (router -> workers too) with kept connections, then keep one client busy: the
      // other kept connections sit idle on the old workers while they stop.
      const warm = Promise.resolve().then(() => new Promise((r) => setTimeout(r, 500)));
      await clients(port, 16, '/hello', warm, out);
      let release!: () => void;
      const finished = new Promise<void>((r) => { release = r; });
      const busy = clients(port, 1, '/hello', finished, out);
      // requests in flight when the stop begins, on keep-alive connections
      const slowAgent = new http.Agent({ keepAlive: true });
      let slowSettled = false;
      const slow = [request(slowAgent, port, '/slow?ms=6000'), request(slowAgent, port, '/slow?ms=6000')];
      void Promise.allSettled(slow).then(() => { slowSettled = true; });
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      process.kill(u.pid, 'SIGHUP');
      await u.waitFor(/reload complete generation=2/, 25_000);
      const slowInFlightAtStop = !slowSettled;
      const retired = await oldGenerationRetired(u);
      const seconds = (Date.now() - t0) / 1000;
      release();
      await busy;
      const slowDone = await Promise.all(slow);
      slowAgent.destroy();
      for (const l of retired) assert.match(l, /exit=0/, 'exited on its own, not killed');
      assert.doesNotMatch(u.output(), /did not stop within reload-mercy/);
      assert.deepEqual(out.failed, [], 'no request failed');
      assert.ok(out.ok > 16, `requests were served (${out.ok})`);
      for (const r of slowDone) assert.equal(r.status, 200, 'the requests in flight finished');
      if (mode === 'http-socket') {
        assert.ok(slowInFlightAtStop, 'precondition: the slow requests were still running when the old workers were told to stop');
        for (const r of slowDone) assert.equal(r.connection, 'close', 'a request in flight at the stop answers with Connection: close');
      }
      process.stdout.write(`# ${mode}: SIGHUP -> old generation retired in ${seconds.toFixed(2)} s\n`);
    } finally {
      await u.stop();
    }
  });
}
