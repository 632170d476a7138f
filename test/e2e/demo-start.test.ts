// What `npm start` runs: usher with examples/guestbook/uwsgi.ini as it ships (only the port moved, by
// a flag, since flags override the file). The page is served, the URL is printed, and a person can add
// an entry through the form; the CSS comes from the app's /static/ when no front is there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir, freePort, childPids, REPO } from '../helpers/usher.js';
import { addEntryFlow } from '../helpers/guestbook-flow.js';

test('npm start: the guestbook demo from its shipped uwsgi.ini serves the form and takes an entry', async () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const ini = /--ini (\S+)/.exec(pkg.scripts.start ?? '')?.[1];
  assert.equal(ini, 'examples/guestbook/uwsgi.ini', 'npm start runs the demo ini');
  assert.match(readFileSync(join(REPO, ini), 'utf8'), /^http = 127\.0\.0\.1:8000$/m, 'the demo listens on 127.0.0.1:8000');

  const tmp = tempDir();
  const port = await freePort();
  const u = await startUsherReady(['--ini', ini, '--http', `127.0.0.1:${port}`], { env: { GUESTBOOK_DB: join(tmp.dir, 'gb.sqlite3') } });
  try {
    assert.match(await u.waitFor(/master: ready/), new RegExp(`url=http://127\\.0\\.0\\.1:${port}/`), 'the ready line prints the URL');
    assert.equal((await childPids(u.pid)).length, 4, 'processes = 4 from the ini');
    const base = `http://127.0.0.1:${port}`;
    await addEntryFlow(base);
    const css = await fetch(`${base}/static/style.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /text\/css/);
    const api = await fetch(`${base}/api/entries`);
    assert.equal(api.status, 200);
    const { entries } = await api.json() as { entries: Array<{ name: string }> };
    assert.ok(entries.some((e) => e.name === 'Ana'), 'the JSON API lists the new entry');
  } finally {
    await u.stop();
    tmp.remove();
  }
});
