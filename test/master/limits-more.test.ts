// Two more limits/triggers honoured end to end: evil-reload-on-rss kills a worker over the limit at once
// (SIGKILL, as uWSGI) and it is respawned; fs-reload reloads when a watched folder changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');

test('evil-reload-on-rss: a worker over the limit is killed at once and replaced', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '1', '--evil-reload-on-rss', '150', '--app', join(APPS, 'leaky.mjs')]);
  try {
    for (let i = 0; i < 30 && !/killing worker .*reason=evil-reload-on-rss/.test(u.output()); i++) {
      await fetch(`http://127.0.0.1:${port}/leak?mb=16`).then((r) => r.text(), () => '');
      await new Promise((r) => setTimeout(r, 150));
    }
    await u.waitFor(/killing worker .*reason=evil-reload-on-rss detail="rss [\d.]+ MiB ≥ 150 MiB"/, 20_000);
    await u.waitFor(/worker died; respawning .*signal=SIGKILL/, 20_000);
    await u.waitFor(/worker ready id=1 pid=\d+ generation=1 boot_ms/, 20_000);
  } finally {
    await u.stop();
  }
});

test('fs-reload: a change in the watched folder reloads the workers gracefully', async () => {
  const tmp = tempDir();
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--fs-reload', tmp.dir, '--app', join(APPS, 'echo.mjs')]);
  try {
    await u.waitFor(/watching for changes fs-reload=/);
    writeFileSync(join(tmp.dir, 'deployed.txt'), 'new release\n');
    await u.waitFor(/reload requested reason="fs-reload: .* changed"/, 20_000);
    await u.waitFor(/reload complete generation=2/, 20_000);
    assert.equal((await fetch(`http://127.0.0.1:${port}/pid`)).status, 200);
  } finally {
    await u.stop();
    tmp.remove();
  }
});
