/**
 * Node workers that append to the log file themselves (no relay through the master's pipe): only for a
 * plain `logto` file without log-master, log-maxsize or req-logger; lines of many workers stay whole;
 * touch-logreopen, log-reopen, the master fifo and a deleted file reopen it in every worker, with no
 * line lost. Real usher processes, the fd table read from /proc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, readdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { childPids, tempDir, freePort, startUsher } from '../helpers/usher.js';
import { NODE_APP, readOr, startUsherLogging, waitUntil } from './helpers.js';

/** Whether process `pid` holds `path` open (any fd). */
function holds(pid: number, path: string): boolean {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try { if (readlinkSync(`/proc/${pid}/fd/${fd}`) === path) return true; } catch { /* closed meanwhile */ }
  }
  return false;
}

async function get(port: number, path: string): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  await r.arrayBuffer();
  assert.equal(r.status, 200, path);
}

test('Node workers hold a plain logto file themselves; log-master, log-maxsize and req-logger keep the master the only writer', async () => {
  const d = tempDir();
  try {
    const cases: [string, string[], boolean][] = [
      ['plain logto', [], true],
      ['log-master', ['--log-master'], false],
      ['log-maxsize', ['--log-maxsize', '100000000'], false],
      ['req-logger', ['--req-logger', `file:${join(d.dir, 'req.log')}`], false],
    ];
    for (const [name, extra, direct] of cases) {
      const log = join(d.dir, `${name.replace(/ /g, '-')}.log`);
      const port = await freePort();
      const u = await startUsherLogging(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--processes', '2', '--logto', log, ...extra], log);
      try {
        await waitUntil(() => readOr(log), (s) => (s.match(/worker ready/g) ?? []).length === 2, `${name}: two workers ready`);
        const workers = await childPids(u.pid);
        assert.equal(workers.length, 2, name);
        for (const w of workers) assert.equal(holds(w, log), direct, `${name}: worker ${w} ${direct ? 'holds' : 'does not hold'} the log file`);
        await get(port, `/${name.replace(/ /g, '-')}`);
        const target = name === 'req-logger' ? join(d.dir, 'req.log') : log;
        await waitUntil(() => readOr(target), (s) => s.includes(`GET /${name.replace(/ /g, '-')} =>`), `${name}: the access line`);
      } finally {
        await u.stop();
      }
    }
  } finally {
    d.remove();
  }
});

test('logto /dev/null: Node workers hold it themselves where they would hold a log file (no relay through the master)', async () => {
  const d = tempDir();
  /** Each worker's fds that point at `path`. */
  const fdsOf = (workers: number[], path: string): string[][] => workers.map((w) => readdirSync(`/proc/${w}/fd`).filter((fd) => {
    try { return readlinkSync(`/proc/${w}/fd/${fd}`) === path; } catch { return false; }
  }));
  try {
    // A plain file first: both workers say ready in it, and then each holds it at one fd.
    const log = join(d.dir, 'usher.log');
    let port = await freePort();
    let u = await startUsherLogging(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--processes', '2', '--logto', log], log);
    let fileFds: string[][];
    try {
      await waitUntil(() => readOr(log), (s) => (s.match(/worker ready/g) ?? []).length === 2, 'two workers ready');
      const workers = await childPids(u.pid);
      assert.equal(workers.length, 2);
      fileFds = fdsOf(workers, log);
      for (const fds of fileFds) assert.equal(fds.length, 1, 'a worker holds the plain file once');
    } finally {
      await u.stop();
    }
    // /dev/null: its own lines go nowhere to read, so wait (bounded) until two workers hold it at the
    // fd where they held the file. A relay through the master would never put it there.
    port = await freePort();
    u = startUsher(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--processes', '2', '--logto', '/dev/null']);
    try {
      let seen = '';
      for (let tries = 0; ; tries++) {
        const workers = await childPids(u.pid);
        const held = fdsOf(workers, '/dev/null');
        seen = `workers ${workers.join(',') || 'none'} hold /dev/null at ${held.map((f) => f.join(',')).join(' / ')}`;
        if (workers.length === 2 && fileFds.every((fds, i) => held[i]?.includes(fds[0] as string))) break;
        assert.ok(tries < 200, `each worker holds /dev/null at the log's fd ${fileFds.map((f) => f[0]).join('/')}: ${seen}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let i = 0; i < 10; i++) await get(port, `/n/${i}`); // and it serves
    } finally {
      await u.stop();
    }
  } finally {
    d.remove();
  }
});

test('Node workers writing the file directly: lines of two workers under concurrent load arrive whole, each once', async () => {
  const d = tempDir();
  const log = join(d.dir, 'usher.log');
  const port = await freePort();
  const u = await startUsherLogging(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--processes', '2', '--logto', log,
    '--log-format', 'ACCESS %(uri) %(wid) %(uagent)'], log);
  const agent = 'x'.repeat(300); // ~330-byte lines: a 32 KB batch is one write of ~100 lines
  try {
    const n = 2000;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: 50 }, async (_, j) => {
        const r = await fetch(`http://127.0.0.1:${port}/c/${i + j}`, { headers: { 'User-Agent': agent } });
        await r.arrayBuffer();
      }));
    }
    await waitUntil(() => readOr(log), (s) => (s.match(/^ACCESS /gm) ?? []).length >= n, 'every access line');
    const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('ACCESS'));
    const seen = new Set<number>();
    const wids = new Set<string>();
    for (const l of lines) {
      const m = /^ACCESS \/c\/(\d+) ([12]) (x+)$/.exec(l);
      assert.ok(m !== null && (m[3] as string).length === 300, `a whole line: ${l.slice(0, 80)}`);
      assert.ok(!seen.has(Number(m[1])), `once: ${m[1]}`);
      seen.add(Number(m[1]));
      wids.add(m[2] as string);
    }
    assert.equal(seen.size, n);
    assert.equal(wids.size, 2, 'both workers logged');
  } finally {
    await u.stop();
    d.remove();
  }
});

test('Node workers writing the file directly: touch-logreopen, log-reopen, the master fifo and a deleted file reopen it in every worker; no line lost', async () => {
  const d = tempDir();
  const port = await freePort();
  const log = join(d.dir, 'usher.log');
  const trigger = join(d.dir, 'reopen');
  const fifo = join(d.dir, 'fifo');
  writeFileSync(trigger, '');
  const u = await startUsherLogging(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--processes', '2', '--logto', log,
    '--touch-logreopen', trigger, '--log-reopen', '--master-fifo', fifo, '--log-format', 'ACCESS %(uri) %(status)'], log);
  const reopenedByWorkers = (s: string): boolean => (s.match(/worker \d: log file reopened/g) ?? []).length >= 2;
  const sent: string[] = [];
  const hit = async (p: string): Promise<void> => { await get(port, p); sent.push(p); };
  try {
    await waitUntil(() => readOr(log), (s) => (s.match(/worker ready/g) ?? []).length === 2, 'two workers ready');
    for (let i = 0; i < 4; i++) await hit(`/before/${i}`);
    // logrotate's move, then touch-logreopen.
    renameSync(log, `${log}.1`);
    for (let i = 0; i < 4; i++) await hit(`/moved/${i}`); // to the moved file until the reopen
    const future = new Date(Date.now() + 5000);
    utimesSync(trigger, future, future);
    await waitUntil(() => readOr(log), reopenedByWorkers, 'both workers reopen on touch-logreopen');
    for (let i = 0; i < 4; i++) await hit(`/after-touch/${i}`);
    await waitUntil(() => readOr(log), (s) => s.includes('ACCESS /after-touch/3 200'), 'lines in the new file');
    // The master fifo's `l`.
    renameSync(log, `${log}.2`);
    writeFileSync(fifo, 'l');
    await waitUntil(() => readOr(log), reopenedByWorkers, 'both workers reopen on the fifo');
    for (let i = 0; i < 4; i++) await hit(`/after-fifo/${i}`);
    // A deleted file: the master notices within a second and the workers follow.
    await waitUntil(() => readOr(log), (s) => s.includes('ACCESS /after-fifo/3 200'), 'lines after the fifo');
    const kept = readOr(log);
    execFileSync('rm', ['-f', log]);
    await waitUntil(() => readOr(log), reopenedByWorkers, 'both workers reopen after the delete');
    for (let i = 0; i < 4; i++) await hit(`/after-delete/${i}`);
    // log-reopen: a reload reopens too (the new workers open the new file anyway).
    renameSync(log, `${log}.3`);
    process.kill(u.pid, 'SIGHUP');
    await waitUntil(() => readOr(log), (s) => /reason="log-reopen on reload"/.test(s) && s.includes('reload complete'), 'the reload');
    for (let i = 0; i < 4; i++) await hit(`/after-reload/${i}`);
    await waitUntil(() => readOr(log), (s) => s.includes('ACCESS /after-reload/3 200'), 'a line after the reload');
    const all = [readOr(`${log}.1`), readOr(`${log}.2`), kept, readOr(`${log}.3`), readOr(log)].join('');
    for (const p of sent) assert.equal(all.split(`ACCESS ${p} 200\n`).length - 1, 1, p);
    for (const p of sent.filter((s) => s.startsWith('/after-delete/'))) assert.ok(readOr(`${log}.3`).includes(`ACCESS ${p} 200\n`), `${p} in the file made after the delete`);
  } finally {
    await u.stop();
    d.remove();
  }
});
