/**
 * The access-log options that the corpus tests render in-process, checked end to end with real usher
 * processes and a Node worker: log-style = usher, log-encoder = json, log-big and log-zero with
 * disable-logging, and log-backupname with log-maxsize.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir, freePort } from '../helpers/usher.js';
import { NODE_APP, readOr, startUsherLogging, waitUntil } from './helpers.js';

async function get(port: number, path: string): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  await r.arrayBuffer();
  return r.status;
}

test('log-style = usher: the access line has the event-line shape (ISO time, INFO, worker, key=value)', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--log-style', 'usher']);
  try {
    assert.equal(await get(port, '/status/404'), 404);
    const out = await waitUntil(() => u.output(), (s) => s.includes('GET /status/404'), 'the access line');
    const line = out.split('\n').find((l) => l.includes('GET /status/404'));
    assert.match(line ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  worker 1: GET \/status\/404 404 bytes=6 ms=\d+\.\d addr=127\.0\.0\.1$/);
    assert.doesNotMatch(out, /\[pid: \d+\|app: /, 'no uWSGI-shaped line');
  } finally {
    await u.stop();
  }
});

test('log-encoder = json: each access line is one JSON object keyed by the log-format variables', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--log-encoder', 'json',
    '--log-format', '%(method) %(uri) %(status) %(size) %(uagent)']);
  try {
    const r = await fetch(`http://127.0.0.1:${port}/big/10?q="x"`, { headers: { 'user-agent': 'tab\there "quoted"' } });
    await r.arrayBuffer();
    const out = await waitUntil(() => u.output(), (s) => s.includes('"uri":'), 'the JSON access line');
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    assert.equal(lines.length, 1, out);
    const obj = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(obj['method'], 'GET');
    assert.equal(obj['uri'], '/big/10?q=%22x%22');
    assert.equal(obj['status'], 200);
    assert.equal(typeof obj['size'], 'number');
    assert.equal(obj['uagent'], 'tab\there "quoted"');
  } finally {
    await u.stop();
  }
});

test('disable-logging with log-big and log-zero: only big and empty responses are logged', async () => {
  const port = await freePort();
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--disable-logging',
    '--log-big', '50000', '--log-zero', '--log-format', 'ACCESS %(uri) %(status) %(rsize)']);
  try {
    for (const path of ['/small', '/big/100', '/big/60000', '/empty', '/status/404']) await get(port, path);
    await get(port, '/big/50000');
    const out = await waitUntil(() => u.output(), (s) => s.includes('ACCESS /big/50000'), 'the last access line');
    const lines = out.split('\n').filter((l) => l.startsWith('ACCESS '));
    assert.deepEqual(lines, ['ACCESS /big/60000 200 60000', 'ACCESS /empty 204 0', 'ACCESS /big/50000 200 50000']);
  } finally {
    await u.stop();
  }
});

test('log-backupname: each log-maxsize rotation renames the log to that one name, replacing the previous backup', async () => {
  const d = tempDir();
  const port = await freePort();
  const log = join(d.dir, 'usher.log');
  const backup = join(d.dir, 'usher.old');
  const u = await startUsherLogging(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--logto', log,
    '--log-maxsize', '2000', '--log-backupname', backup, '--log-format', 'ACCESS %(uri) %(status)'], log);
  try {
    let i = 0;
    // Enough lines for at least two rotations (each line is ~20 bytes; 2000 bytes per file).
    for (; i < 300; i++) assert.equal(await get(port, `/n/${i}`), 200);
    // The last line may sit in the backup: a rotation can fall right after it.
    await waitUntil(() => readOr(log) + readOr(backup), (s) => s.includes(`ACCESS /n/${i - 1} 200`), 'the last line');
    assert.ok(existsSync(backup), 'the backup exists under its given name');
    const names = readFileSync(log, 'utf8') + readFileSync(backup, 'utf8');
    // Only two files: the backup was replaced, not numbered (no usher.log.<time> files).
    const others = readdirSync(d.dir).filter((n) => n.startsWith('usher.log.'));
    assert.deepEqual(others, []);
    // The newest lines are in the two files; the first ones went with a replaced backup.
    assert.ok(names.includes(`ACCESS /n/${i - 1} 200`));
    assert.ok(!names.includes('ACCESS /n/0 200'), 'the first backup was replaced by a later one');
  } finally {
    await u.stop();
    d.remove();
  }
});

test('log-date sets %(ftime) (strftime), log-micros gives the default line in microseconds', async () => {
  const port = await freePort();
  const dated = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--log-date', '%d/%m/%Y %H:%M:%S', '--log-format', 'ACCESS %(ftime) %(uri)']);
  try {
    assert.equal(await get(port, '/dated'), 200);
    const out = await waitUntil(() => dated.output(), (s) => s.includes(' /dated'), 'the dated line');
    const m = /^ACCESS (\d\d)\/(\d\d)\/(\d{4}) \d\d:\d\d:\d\d \/dated$/m.exec(out);
    assert.ok(m, out);
    const now = new Date();
    assert.equal(Number(m[3]), now.getFullYear());
    assert.equal(Number(m[2]), now.getMonth() + 1);
  } finally {
    await dated.stop();
  }
  const port2 = await freePort();
  const micros = await startUsherReady(['--http-socket', `127.0.0.1:${port2}`, '--app', NODE_APP, '--log-micros']);
  try {
    assert.equal(await get(port2, '/slow/30'), 200);
    const out = await waitUntil(() => micros.output(), (s) => s.includes('GET /slow/30'), 'the access line');
    const m = /GET \/slow\/30 => generated 6 bytes in (\d+) micros \(HTTP\/1\.1 200\)/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) >= 30_000, 'a 30 ms response is at least 30000 µs');
  } finally {
    await micros.stop();
  }
});
