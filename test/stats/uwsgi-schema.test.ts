// usher's stats document has uWSGI's shape: the same keys, types and nesting as what Debian's
// uWSGI writes for the same ini (captured live when uWSGI is installed, and the stored capture), in
// uWSGI's text layout, minified on request, on TCP and unix sockets, written on connect and closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, freePort, startUsherReady, tempDir } from '../helpers/usher.js';
import { requireTool } from '../helpers/fronts.js';
import { readStats, shapeDiff, shapeOf, startUwsgi, waitForStats } from '../helpers/stats.js';

const FIXTURE = join(REPO, 'test', 'fixtures', 'stats', 'uwsgi-2.0.21-debian.json');

function ini(dir: string, socket: string, stats: string, extra = ''): string {
  const path = join(dir, `app-${Math.random().toString(36).slice(2)}.ini`);
  writeFileSync(path, `[uwsgi]\nplugin = python3\nsocket = ${socket}\nstats = ${stats}\nwsgi-file = ${join(REPO, 'bench', 'apps', 'hello_wsgi.py')}\nprocesses = 2\nmaster = true\n${extra}`);
  return path;
}

interface Doc { workers: { pid: number; status: string; rss: number; last_spawn: number; respawn_count: number }[]; sockets: { name: string; max_queue: number }[]; pid: number; cwd: string }

/** usher on the ini, once both workers are listed with their pids. */
async function usherStats(path: string, stats: string): Promise<{ text: string; pid: number; stop: () => Promise<unknown> }> {
  const u = await startUsherReady(['--ini', path]);
  try {
    const text = await waitForStats(() => readStats(stats), (t) => (JSON.parse(t) as Doc).workers.every((w) => w.pid > 0 && w.rss > 0), 'both workers in usher stats');
    return { text, pid: u.pid, stop: () => u.stop() };
  } catch (err) {
    await u.stop();
    throw err;
  }
}

test('stats JSON: the same keys, types and nesting as Debian uWSGI for the same ini (live capture and stored fixture)', async () => {
  const tmp = tempDir();
  const [a, b, c, d] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  try {
    const stored = JSON.parse(readFileSync(FIXTURE, 'utf8')) as unknown;
    const references: [string, unknown][] = [['stored capture', stored]];
    if (requireTool('uwsgi')) {
      const uw = await startUwsgi(ini(tmp.dir, `127.0.0.1:${a}`, `127.0.0.1:${b}`), `127.0.0.1:${b}`, 2);
      try {
        references.push(['live uWSGI', JSON.parse(await readStats(`127.0.0.1:${b}`))]);
      } finally {
        await uw.stop();
      }
    }
    const u = await usherStats(ini(tmp.dir, `127.0.0.1:${c}`, `127.0.0.1:${d}`), `127.0.0.1:${d}`);
    try {
      const mine = JSON.parse(u.text) as Doc;
      for (const [name, ref] of references) {
        assert.deepEqual(shapeDiff(shapeOf(ref), shapeOf(mine)), [], `usher's stats differ from ${name}`);
        assert.deepEqual(Object.keys(mine), Object.keys(ref as object), `top-level keys in uWSGI's order (${name})`);
        assert.deepEqual(Object.keys(mine.workers[0]!), Object.keys((ref as Doc).workers[0]!), `worker keys in uWSGI's order (${name})`);
      }
      // Figures that are real before any request.
      assert.equal(mine.pid, u.pid);
      assert.equal(mine.workers.length, 2);
      for (const w of mine.workers) {
        assert.equal(w.status, 'idle');
        assert.equal(w.respawn_count, 1, 'uWSGI counts the first spawn');
        assert.ok(Math.abs(w.last_spawn - Date.now() / 1000) < 120, 'last_spawn is a Unix time in seconds');
        const status = readFileSync(`/proc/${w.pid}/status`, 'utf8');
        // a live child of the master, or of its fork-server (Python apps)
        const ppid = Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]);
        const grand = ppid === u.pid ? u.pid : Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${ppid}/status`, 'utf8'))?.[1]);
        assert.equal(grand, u.pid, 'the pid is a live descendant of the usher master');
      }
      assert.equal(mine.sockets[0]!.name, `127.0.0.1:${c}`);
      assert.equal(mine.sockets[0]!.max_queue, 100, 'the listen backlog (uWSGI shows 100 for the default listen)');
      // uWSGI's layout: tab-indented lines, `"key":value`.
      assert.match(u.text, /^\{\n\t"version":"[^"]+",\n\t"listen_queue":0,\n/);
    } finally {
      await u.stop();
    }
  } finally {
    tmp.remove();
  }
});

test('stats-minified on a unix socket: one line, written on connect; nothing answers after usher stops', async () => {
  const tmp = tempDir();
  const sock = join(tmp.dir, 'stats.sock');
  const port = await freePort();
  try {
    const u = await usherStats(ini(tmp.dir, `127.0.0.1:${port}`, sock, 'stats-minified = true\n'), sock);
    let stopped = false;
    try {
      assert.ok(!u.text.includes('\n'), 'no newline in minified stats');
      const doc = JSON.parse(u.text) as Doc;
      assert.equal(doc.workers.length, 2);
      await u.stop();
      stopped = true;
      await assert.rejects(readStats(sock), 'nothing answers once usher has stopped');
      assert.ok(!existsSync(sock), 'the stats socket file is removed');
    } finally {
      if (!stopped) await u.stop();
    }
  } finally {
    tmp.remove();
  }
});
