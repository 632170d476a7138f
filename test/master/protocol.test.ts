// `protocol`: what `socket` addresses speak. `protocol = http` makes them HTTP (Node workers speak it
// themselves; for a Python app the router takes the address); an unsupported protocol is refused at
// startup naming the option, with nothing left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsher, startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';

test('protocol = http: a `socket` address speaks HTTP (Node app)', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--socket', `127.0.0.1:${port}`, '--protocol', 'http', '--app', join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs')]);
  try {
    const r = await fetch(`http://127.0.0.1:${port}/pid`);
    assert.equal(r.status, 200);
  } finally {
    await u.stop();
  }
});

test('protocol = http for a Python app: the router takes the socket address', async (ctx) => {
  if (!havePython(ctx)) return;
  const port = await freePort();
  const u = await startUsherReady(['--socket', `127.0.0.1:${port}`, '--protocol', 'http', '--wsgi-file', join(REPO, 'bench', 'apps', 'hello_wsgi.py'), '--python', '/usr/bin/python3']);
  try {
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'Hello, world!\n');
  } finally {
    await u.stop();
  }
});

test('protocol = fastcgi is refused at startup with the file, line and reason; no socket is left', async () => {
  const tmp = tempDir();
  const sock = join(tmp.dir, 'app.sock');
  const ini = join(tmp.dir, 'app.ini');
  writeFileSync(ini, `[uwsgi]\nsocket = ${sock}\nprotocol = fastcgi\napp = ${join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs')}\n`);
  const u = startUsher(['--ini', ini]);
  const exit = await u.exited;
  assert.equal(exit.code, 1);
  assert.match(u.output(), /app\.ini:3.*protocol = fastcgi: usher speaks uwsgi and http/);
  assert.ok(!existsSync(sock));
  tmp.remove();
});
