// The dashboard in a real headless Chromium: the page loads with no console error or blocked
// resource (everything is served by usher), shows the workers, and its req/s figure moves from 0
// while load runs. A screenshot is taken (docs/dashboard.png when USHER_DOCS_SCREENSHOT=1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, freePort, startUsherReady } from '../helpers/usher.js';
import { requireTool } from '../helpers/fronts.js';
import { httpGet, run, waitForStats } from '../helpers/stats.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');

/** Chromium, headless, in a throwaway profile; resolves with what it printed and wrote to stderr. */
async function chromium(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'usher-chromium-'));
  try {
    const r = await run('timeout', ['90', 'chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0', ...args]);
    assert.equal(r.code, 0, `chromium failed:\n${r.stderr}`);
    return r;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Console errors, uncaught exceptions, CSP blocks and failed loads in Chromium's log. */
function problems(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /CONSOLE/.test(l) || /Uncaught|violates the following Content Security Policy|Failed to load resource|net::ERR_/.test(l));
}

const text = (dom: string, id: string): string => new RegExp(`id="${id}">([^<]*)<`).exec(dom)?.[1] ?? '';

test('dashboard in headless Chromium: no console error, the workers listed, req/s moves while load runs', async (t) => {
  if (!requireTool('chromium')) { t.skip('chromium not installed'); return; }
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const page = `http://127.0.0.1:${sport}/`;
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs'), '--stats', `127.0.0.1:${sport}`, '--stats-http']);
  let loading = true;
  const load: Promise<void>[] = [];
  try {
    const doc = JSON.parse((await httpGet(page)).body) as { workers: { pid: number }[] };
    const idle = await chromium(['--virtual-time-budget=3000', '--dump-dom', page]);
    assert.deepEqual(problems(idle.stderr), [], 'no console message while idle');
    assert.equal(text(idle.stdout, 'rps'), '0', 'no traffic: 0 req/s');
    assert.match(text(idle.stdout, 'summary'), /2\/2 workers ready/);
    for (const w of doc.workers) assert.match(idle.stdout, new RegExp(`<td>${w.pid}</td>`), `worker pid ${w.pid} in the table`);

    for (let i = 0; i < 4; i++) {
      load.push((async () => {
        while (loading) await fetch(`http://127.0.0.1:${port}/${i % 2 === 0 ? 'pid' : 'slow?ms=20'}`).then((r) => r.text()).catch(() => undefined);
      })());
    }
    const live = await waitForStats(async () => JSON.parse((await httpGet(`${page}live.json`)).body) as { history: { rps: number; p50Ms: number; p95Ms: number; p99Ms: number }[] },
      (d) => (d.history.at(-1)?.rps ?? 0) > 0 && (d.history.at(-1)?.p50Ms ?? 0) > 0, 'the server\'s req/s and latency above 0');
    const last = live.history.at(-1)!;
    assert.ok(last.p50Ms <= last.p95Ms && last.p95Ms <= last.p99Ms, `percentiles in order: ${JSON.stringify(last)}`);
    const busy = await chromium(['--virtual-time-budget=3000', '--dump-dom', page]);
    assert.deepEqual(problems(busy.stderr), [], 'no console message under load');
    const rps = Number(text(busy.stdout, 'rps').replace(/,/g, ''));
    assert.ok(rps > 0, `req/s under load (${text(busy.stdout, 'rps')})`);
    assert.match(text(busy.stdout, 'latency'), /^[\d.,]+ \/ [\d.,]+ ms$/, 'p50 / p99');

    const shot = process.env.USHER_DOCS_SCREENSHOT === '1' ? join(REPO, 'docs', 'dashboard.png') : join(mkdtempSync(join(tmpdir(), 'usher-shot-')), 'dashboard.png');
    await new Promise((r) => setTimeout(r, 0));
    const taken = await chromium(['--hide-scrollbars', '--window-size=1200,1100', '--virtual-time-budget=4000', `--screenshot=${shot}`, page]);
    assert.deepEqual(problems(taken.stderr), []);
    assert.deepEqual([...readFileSync(shot).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    if (process.env.USHER_DOCS_SCREENSHOT !== '1') rmSync(join(shot, '..'), { recursive: true, force: true });
  } finally {
    loading = false;
    await Promise.all(load);
    await u.stop();
  }
});

test('dashboard on a phone-sized window: one column, no console error', async (t) => {
  if (!requireTool('chromium')) { t.skip('chromium not installed'); return; }
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const page = `http://127.0.0.1:${sport}/`;
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', join(APPS, 'echo.mjs'), '--stats', `127.0.0.1:${sport}`, '--stats-http']);
  const dir = mkdtempSync(join(tmpdir(), 'usher-shot-'));
  try {
    const r = await chromium(['--hide-scrollbars', '--window-size=390,844', '--virtual-time-budget=3000', `--screenshot=${join(dir, 'phone.png')}`, page]);
    assert.deepEqual(problems(r.stderr), []);
    const png = readFileSync(join(dir, 'phone.png'));
    assert.equal(png.readUInt32BE(16), 390, 'rendered at phone width');
    const css = (await httpGet(`${page}dashboard.css`)).body;
    assert.match(css, /@media \(max-width: 700px\)[^}]*\{[^}]*grid-template-columns: repeat\(2, 1fr\)/, 'figures in two columns on a phone');
    assert.match((await httpGet(page, { accept: 'text/html' })).body, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await u.stop();
  }
});
