/**
 * A log file on a full disk (a real tmpfs, mounted for the test, filled up): every request is still
 * served, the lines that could not be written are counted and the count logged once the disk has room
 * again, and what is written after is whole. Both writers: Node workers appending to the file
 * themselves, and the master alone (log-master). Needs root (mount).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir } from '../helpers/usher.js';
import { NODE_APP, readOr, startUsherLogging, waitUntil } from './helpers.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') throw new Error('the full-disk log test needs root (it mounts a small tmpfs)');

/** Fill the file system holding `dir` to the last byte; returns the filler's path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096, 0x66);
  try {
    for (;;) {
      try {
        if (writeSync(fd, chunk) < chunk.length) break;
      } catch {
        break; // ENOSPC
      }
    }
    for (;;) { // the last bytes, one at a time
      try { if (writeSync(fd, chunk, 0, 1) < 1) break; } catch { break; }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

async function get(port: number, path: string): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  await r.arrayBuffer();
  return r.status;
}

for (const [name, extra] of [['Node workers write the file', []], ['the master writes the file (log-master)', ['--log-master']]] as const) {
  test(`full disk, ${name}: requests are served, lost lines are counted and reported, later lines are whole`, async (t) => {
    if (!isRoot) { t.skip('needs root (mount -t tmpfs)'); return; }
    const d = tempDir();
    const fs = join(d.dir, 'fs');
    mkdirSync(fs);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'usher-test-full', fs]);
    const log = join(fs, 'usher.log');
    const port = await freePort();
    try {
      const u = await startUsherLogging(['--http-socket', `127.0.0.1:${port}`, '--app', NODE_APP, '--processes', '2', '--logto', log,
        '--log-format', 'ACCESS %(uri) %(status)', ...extra], log);
      try {
        const filler = fill(fs);
        const full = 300;
        for (let i = 0; i < full; i += 10) {
          const codes = await Promise.all(Array.from({ length: 10 }, (_, j) => get(port, `/full/${i + j}`)));
          assert.deepEqual(codes, Array(10).fill(200), 'served while the log cannot be written');
        }
        // Let the batches of the full disk be tried (access lines wait up to 20 ms, the master's reads 10 ms).
        await new Promise((r) => setTimeout(r, 300));
        rmSync(filler);
        const after = 20;
        for (let i = 0; i < after; i++) assert.equal(await get(port, `/after/${i}`), 200);
        const lostIn = (s: string): number => [...s.matchAll(/log lines were lost[^\n]* lost=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
        const wholeIn = (s: string): number => (s.match(/^ACCESS \/full\/\d+ 200$/gm) ?? []).length;
        await waitUntil(() => readOr(log), (s) => Array.from({ length: after }, (_, i) => i).every((i) => new RegExp(`ACCESS /after/${i} 200$`, 'm').test(s)),
          'every line after the disk has room again');
        // A worker that serves none of the later requests reports its loss on its own, a second later.
        const text = await waitUntil(() => readOr(log), (s) => wholeIn(s) + lostIn(s) >= full, 'every loss reported', 5000).catch(() => readOr(log));
        const lost = lostIn(text);
        const whole = wholeIn(text);
        assert.ok(lost > 0, `the loss is reported:\n${text.slice(-2000)}`);
        // Every request of the full disk has its line, or is counted among the lost ones (a line cut
        // short by the full disk counts as lost).
        assert.ok(whole + lost >= full, `whole ${whole} + lost ${lost} >= ${full}:\n${text.split('\n').filter((l) => !/^ACCESS \/full\/\d+ 200$/.test(l)).join('\n')}`);
        // Whole lines, but for the line the full disk cut short (counted as lost): it ends where the
        // disk did, and the loss report starts the next line.
        const lines = text.split('\n').filter(Boolean);
        // Checked for the master, the single writer: Node workers writing the file themselves may glue
        // another worker's line onto the cut one (as uWSGI's workers can; the README says so).
        if (extra.length > 0) lines.forEach((l, i) => {
          if (/^(ACCESS \/(full|after)\/\d+ 200|\d{4}-\d\d-\d\dT[\d:.]+Z (INFO |WARN |ERROR) \S.*)$/.test(l)) return;
          assert.ok('ACCESS /full/'.startsWith(l) || /^ACCESS \/full\/\d+( 2?0?0?)?$/.test(l), `a cut line, or a whole one: ${JSON.stringify(l)}`);
          assert.match(lines[i + 1] ?? '', /WARN .*log lines were lost/, `the cut line ${JSON.stringify(l)} is followed by the loss report`);
        });
      } finally {
        await u.stop();
      }
    } finally {
      try { execFileSync('umount', [fs]); } catch { execFileSync('umount', ['-l', fs]); }
      d.remove();
    }
  });
}
