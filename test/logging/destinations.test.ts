/**
 * Log destinations end to end, with real usher processes and Python workers: the master is the only
 * writer (children write to its pipe), files reopen after logrotate moves them, log-maxsize rotates
 * without losing a line, req-logger separates access lines, and a bad log file is a startup error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startUsher, tempDir, freePort } from '../helpers/usher.js';
import { PY, PY_APP, readOr, rotationSet, startUsherLogging, waitUntil } from './helpers.js';

function havePython(t: { skip: (m: string) => void }): boolean {
  if (existsSync(PY)) return true;
  if (process.env.CI === 'true') throw new Error(`${PY} is missing`);
  t.skip(`${PY} missing`);
  return false;
}

async function get(port: number, path: string): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  await r.arrayBuffer();
  return r.status;
}

test('an unwritable log file is a startup error naming the option (USHER_ERR_LOG_FILE), nothing left running', async () => {
  const t = tempDir();
  try {
    for (const args of [['--logto', join(t.dir, 'no-such-dir', 'usher.log')], ['--req-logger', `file:${join(t.dir, 'no-such-dir', 'req.log')}`]]) {
      const port = await freePort();
      const u = startUsher(['--http', `127.0.0.1:${port}`, '--wsgi-file', PY_APP, '--python', PY, ...args]);
      const exit = await u.exited;
      assert.notEqual(exit.code, 0);
      assert.match(u.output(), /USHER_ERR_LOG_FILE/);
      assert.match(u.output(), new RegExp(args[0]!.replace(/^--/, '') + ': cannot open'));
      assert.doesNotMatch(u.output(), /worker spawned/);
    }
  } finally {
    t.remove();
  }
});

test('touch-logreopen and log-reopen: after logrotate moves the file, lines go to a new file and none is lost', async (t) => {
  if (!havePython(t)) return;
  const d = tempDir();
  const port = await freePort();
  const log = join(d.dir, 'usher.log');
  const trigger = join(d.dir, 'reopen');
  writeFileSync(trigger, '');
  const u = await startUsherLogging(['--http', `127.0.0.1:${port}`, '--wsgi-file', PY_APP, '--python', PY, '--logto', log,
    '--touch-logreopen', trigger, '--log-reopen', '--log-format', 'ACCESS %(uri) %(status)'], log);
  try {
    assert.equal(await get(port, '/before'), 200);
    await waitUntil(() => readOr(log), (s) => s.includes('ACCESS /before 200'), 'the first access line');
    renameSync(log, `${log}.1`);
    assert.equal(await get(port, '/moved'), 200); // written to the moved file until the reopen
    const future = new Date(Date.now() + 5000);
    utimesSync(trigger, future, future);
    await waitUntil(() => readOr(log), (s) => /log file reopened .*reason=touch-logreopen/.test(s), 'the reopen line in a new file');
    assert.equal(await get(port, '/after-touch'), 200);
    await waitUntil(() => readOr(log), (s) => s.includes('ACCESS /after-touch 200'), 'a line in the new file');
    // log-reopen: a reload reopens too.
    renameSync(log, `${log}.2`);
    process.kill(u.pid, 'SIGHUP');
    await waitUntil(() => readOr(log), (s) => /reason="log-reopen on reload"/.test(s), 'the reopen on reload');
    await waitUntil(() => readOr(log), (s) => s.includes('reload complete'), 'the reload to finish');
    assert.equal(await get(port, '/after-reload'), 200);
    await waitUntil(() => readOr(log), (s) => s.includes('ACCESS /after-reload 200'), 'a line after the reload');
    const all = [readOr(`${log}.1`), readOr(`${log}.2`), readOr(log)].join('');
    for (const p of ['/before', '/moved', '/after-touch', '/after-reload']) assert.equal(all.split(`ACCESS ${p} 200`).length - 1, 1, p);
  } finally {
    await u.stop();
    d.remove();
  }
});

test('log-maxsize rotates under load (FILE.<time>) and loses no line: every request is counted once', async (t) => {
  if (!havePython(t)) return;
  const d = tempDir();
  const port = await freePort();
  const log = join(d.dir, 'usher.log');
  const u = await startUsherLogging(['--http', `127.0.0.1:${port}`, '--wsgi-file', PY_APP, '--python', PY, '--processes', '2', '--threads', '4',
    '--logto', log, '--log-maxsize', '4000', '--log-format', 'ACCESS %(uri) %(status) %(wid)'], log);
  const total = 1200;
  try {
    let next = 0;
    const client = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        assert.equal(await get(port, `/n/${i}`), 200);
      }
    };
    await Promise.all(Array.from({ length: 16 }, client));
  } finally {
    await u.stop();
  }
  try {
    const files = rotationSet(d.dir, 'usher.log');
    assert.ok(files.length >= 3, `rotated several times: ${files.join(', ')}`);
    const text = files.map(readOr).join('');
    const seen = new Map<string, number>();
    for (const m of text.matchAll(/^ACCESS \/n\/(\d+) 200 \d+$/gm)) seen.set(m[1]!, (seen.get(m[1]!) ?? 0) + 1);
    assert.equal(seen.size, total, 'every request has its line');
    assert.ok([...seen.values()].every((n) => n === 1), 'and only one');
    for (const f of files) for (const line of readOr(f).split('\n').filter(Boolean)) assert.match(line, /^(ACCESS \/n\/\d+ 200 \d+|\d{4}-\d\d-\d\dT[\d:.]+Z (INFO |WARN |ERROR) \S)/, `a whole line in ${f}`);
  } finally {
    d.remove();
  }
});

test('req-logger = file: takes the access lines; logger = file: keeps the events', async (t) => {
  if (!havePython(t)) return;
  const d = tempDir();
  const port = await freePort();
  const events = join(d.dir, 'events.log');
  const requests = join(d.dir, 'requests.log');
  const u = await startUsherLogging(['--http', `127.0.0.1:${port}`, '--wsgi-file', PY_APP, '--python', PY,
    '--logger', `file:${events}`, '--req-logger', `file:${requests}`], events);
  try {
    assert.equal(await get(port, '/split'), 200);
    const req = await waitUntil(() => readOr(requests), (s) => s.includes('GET /split =>'), 'the access line');
    assert.match(req, /^\[pid: \d+\|app: 0\|req: 1\/1\] 127\.0\.0\.1 \(\) \{\d+ vars in \d+ bytes\} \[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] GET \/split => generated 6 bytes in \d+ msecs \(HTTP\/1\.1 200\) 2 headers in 64 bytes \(1 switches on core 0\)$/m);
    assert.doesNotMatch(req, /master: /, 'no event line among the access lines');
    assert.match(readOr(events), /master: ready/);
    assert.doesNotMatch(readOr(events), /GET \/split/);
  } finally {
    await u.stop();
    d.remove();
  }
});

test('a log file deleted at run time: the worker keeps serving and the master starts a new file', async (t) => {
  if (!havePython(t)) return;
  const d = tempDir();
  const port = await freePort();
  const log = join(d.dir, 'usher.log');
  const u = await startUsherLogging(['--http', `127.0.0.1:${port}`, '--wsgi-file', PY_APP, '--python', PY, '--logto', log, '--log-format', 'ACCESS %(uri)'], log);
  try {
    execFileSync('rm', ['-f', log]);
    assert.equal(await get(port, '/while-deleted'), 200);
    await waitUntil(() => readOr(log), (s) => s.includes('log file reopened'), 'a new file');
    assert.equal(await get(port, '/new-file'), 200);
    await waitUntil(() => readOr(log), (s) => s.includes('ACCESS /new-file'), 'lines in the new file');
  } finally {
    await u.stop();
    d.remove();
  }
});
