// py-autoreload / node-autoreload: an edit to one of the app's source files reloads the workers
// gracefully, and the next requests see the new code within a few seconds — an edit made while usher is
// still starting included (it is kept until a reload can start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsher, tempDir, freePort } from '../helpers/usher.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(url: string, want: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    try {
      last = await (await fetch(url)).text();
      if (last === want) return Date.now() - t0;
    } catch { /* not up yet */ }
    await sleep(100);
  }
  throw new Error(`${url} never answered ${JSON.stringify(want)} (last: ${JSON.stringify(last)})`);
}

function edit(path: string, text: string): void {
  writeFileSync(path, text);
  const t = new Date(Date.now() + 1000); // a distinct mtime even on a coarse clock
  utimesSync(path, t, t);
}

test('py-autoreload = 1: an edit right after start, and a later one, are served within seconds', async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  const port = await freePort();
  writeFileSync(join(tmp.dir, 'greeting.py'), 'TEXT = "one"\n');
  writeFileSync(join(tmp.dir, 'app.py'), 'from greeting import TEXT\n\ndef application(environ, start_response):\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    return [TEXT.encode()]\n');
  const u = startUsher(['--http', `127.0.0.1:${port}`, '--processes', '2', '--chdir', tmp.dir, '--wsgi-file', 'app.py', '--python', '/usr/bin/python3', '--py-autoreload', '1']);
  try {
    await u.waitFor(/watching the app's sources for changes py-autoreload=1 files=2/);
    edit(join(tmp.dir, 'greeting.py'), 'TEXT = "two"\n'); // while the workers are still starting
    await u.waitFor(/master: ready/);
    await until(`http://127.0.0.1:${port}/`, 'two', 15_000);
    await u.waitFor(/reload requested reason="py-autoreload: \S+greeting\.py changed"/);
    edit(join(tmp.dir, 'greeting.py'), 'TEXT = "three"\n');
    const ms = await until(`http://127.0.0.1:${port}/`, 'three', 15_000);
    assert.ok(ms < 15_000);
    assert.doesNotMatch(u.output(), /Traceback|died; respawning/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

test('node-autoreload = 1: an edit to an imported module reloads the Node workers', async () => {
  const tmp = tempDir();
  const port = await freePort();
  writeFileSync(join(tmp.dir, 'greeting.mjs'), 'export const TEXT = "one";\n');
  writeFileSync(join(tmp.dir, 'app.mjs'), 'import { TEXT } from "./greeting.mjs";\nexport default (req, res) => res.end(TEXT);\n');
  const u = startUsher(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(tmp.dir, 'app.mjs'), '--node-autoreload', '1']);
  try {
    await u.waitFor(/master: ready/);
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'one');
    edit(join(tmp.dir, 'greeting.mjs'), 'export const TEXT = "two";\n');
    await until(`http://127.0.0.1:${port}/`, 'two', 15_000);
    assert.match(u.output(), /reload complete generation=2/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});
