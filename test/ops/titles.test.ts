// Process titles as `ps -o args` shows them: `usher master`, `usher worker N`, `usher router`, with
// uWSGI's procname-prefix / procname-prefix-spaced / procname-master; auto-procname = false leaves them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsherReady, freePort, childPids, REPO } from '../helpers/usher.js';

const APP = ['--app', join(REPO, 'test', 'fixtures', 'apps', 'slow-start.mjs')];
const ENV = { env: { SLOW_START_MS: '0' } };

function args(pid: number): string {
  return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
}

async function titles(extra: string[]): Promise<{ master: string; children: string[] }> {
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--http-router', '--processes', '2', ...APP, ...extra], ENV);
  try {
    return { master: args(u.pid), children: (await childPids(u.pid)).map(args).sort() };
  } finally {
    await u.stop();
  }
}

test('ps -o args shows usher master, usher worker N, usher router', async () => {
  const t = await titles([]);
  assert.equal(t.master, 'usher master');
  assert.deepEqual(t.children, ['usher router', 'usher worker 1', 'usher worker 2']);
});

test('procname-prefix-spaced, procname-prefix and procname-master', async () => {
  const spaced = await titles(['--procname-prefix-spaced', 'guestbook', '--procname-master', 'boss']);
  assert.equal(spaced.master, 'guestbook boss');
  assert.deepEqual(spaced.children, ['guestbook usher router', 'guestbook usher worker 1', 'guestbook usher worker 2']);
  const plain = await titles(['--procname-prefix', 'gb-']);
  assert.equal(plain.master, 'gb-usher master');
  assert.ok(plain.children.includes('gb-usher worker 2'));
});

test('auto-procname = false leaves the command lines as they are', async () => {
  const t = await titles(['--auto-procname', 'false']);
  assert.match(t.master, /bin\/usher\.js/);
  assert.ok(t.children.every((c) => /node .*main\.js/.test(c)), t.children.join(' | '));
});

test('Python workers show usher worker N too (argv memory rewritten with the standard library)', async (ctx) => {
  if (!havePython(ctx)) return;
  const port = await freePort();
  const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--processes', '2', '--wsgi-file', join(REPO, 'bench', 'apps', 'hello_wsgi.py'), '--python', '/usr/bin/python3', '--procname-prefix-spaced', 'hello']);
  try {
    const children = (await childPids(u.pid)).map(args).sort();
    assert.deepEqual(children, ['hello usher router', 'hello usher worker 1', 'hello usher worker 2']);
    const comm = (await childPids(u.pid)).map((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim());
    assert.ok(comm.some((c) => c.startsWith('hello usher wor')), `short names: ${comm.join(', ')}`);
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200, 'and they still serve');
  } finally {
    await u.stop();
  }
});
