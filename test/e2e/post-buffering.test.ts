// `post-buffering` set in usher's config reaches the Python workers: through the HTTP router, an app
// that reads wsgi.input, seeks back and reads again gets the same body twice; without the option the
// body streams and seek() fails (a 500 and a traceback, as before).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsherReady, freePort, REPO } from '../helpers/usher.js';

const PY = '/usr/bin/python3';
const APP = join(REPO, 'test', 'fixtures', 'apps', 'wsgi_runner.py');


for (const [label, size] of [['in memory', 'a'.repeat(1000)], ['spilled to a temp file', 'b'.repeat(300_000)]] as const) {
  test(`post-buffering = 65536 in usher's config: wsgi.input is seekable (${label})`, async (ctx) => {
    if (!havePython(ctx)) return;
    const port = await freePort();
    const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--post-buffering', '65536', '--wsgi-file', APP, '--python', PY]);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/seek`, { method: 'POST', body: size });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), `${size.length} ${size.length} same ${size.slice(2, 5)}`);
    } finally {
      await u.stop();
    }
  });
}

test('without post-buffering the body streams: seek() is a 500 with the app\'s traceback in the log', async (ctx) => {
  if (!havePython(ctx)) return;
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--wsgi-file', APP, '--python', PY]);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/seek`, { method: 'POST', body: 'hello' });
    assert.equal(res.status, 500);
    await u.waitFor(/seek/);
  } finally {
    await u.stop();
  }
});
