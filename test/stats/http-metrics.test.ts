// `stats-http`: `/` is JSON for clients and the dashboard for browsers, `/metrics` is valid Prometheus
// exposition (promtool check metrics), nothing is writable (405), and counters only go up across a
// reload (retired workers' counts are kept) and a respawn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, freePort, startUsherReady } from '../helpers/usher.js';
import { requireTool } from '../helpers/fronts.js';
import { httpGet, run, waitForStats } from '../helpers/stats.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');

test('stats-http: JSON for clients, the dashboard for browsers, its assets, 405 for anything but GET/HEAD', async () => {
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const base = `http://127.0.0.1:${sport}`;
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs'), '--stats', `127.0.0.1:${sport}`, '--stats-http']);
  try {
    const json = await httpGet(`${base}/`);
    assert.equal(json.status, 200);
    assert.equal(json.headers['content-type'], 'application/json');
    const doc = JSON.parse(json.body) as { workers: unknown[]; pid: number };
    assert.equal(doc.workers.length, 2);
    assert.equal(doc.pid, u.pid);
    assert.equal((await httpGet(`${base}/`, { accept: 'application/json' })).headers['content-type'], 'application/json');

    const page = await httpGet(`${base}/`, { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<script src="\/dashboard\.js"><\/script>/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/, 'the page may load nothing from elsewhere');
    assert.doesNotMatch(page.body, /https?:\/\//, 'no external URL in the page');
    for (const [path, type] of [['/dashboard.js', /javascript/], ['/dashboard.css', /text\/css/], ['/live.json', /json/], ['/metrics', /text\/plain; version=0.0.4/]] as const) {
      const r = await httpGet(`${base}${path}`);
      assert.equal(r.status, 200, path);
      assert.match(String(r.headers['content-type']), type, path);
    }
    const head = await httpGet(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const path of ['/', '/metrics', '/live.json']) {
        const r = await httpGet(`${base}${path}`, { method });
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.allow, 'GET, HEAD');
      }
    }
    assert.equal((await httpGet(`${base}/nothing-here`)).status, 404);
  } finally {
    await u.stop();
  }
});

type Scrape = Map<string, number>;

/** Samples of a scrape (`name{labels}` -> value) and the names of counter-like series. */
function parse(text: string): { samples: Scrape; monotonic: Set<string> } {
  const samples: Scrape = new Map();
  const counters = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (counter|summary)$/.exec(line);
    if (t) counters.add(t[1]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    samples.set(m[1]!, Number(m[2]));
  }
  const monotonic = new Set([...samples.keys()].filter((k) => {
    const name = k.replace(/\{.*$/, '');
    return counters.has(name) || counters.has(name.replace(/_(sum|count)$/, ''));
  }));
  return { samples, monotonic };
}

const total = (s: Scrape, name: string): number => [...s].filter(([k]) => k === name || k.startsWith(`${name}{`)).reduce((a, [, v]) => a + v, 0);

test('/metrics passes promtool; counters only go up across a reload and a respawn', async (t) => {
  if (!requireTool('promtool')) { t.skip('promtool not installed (Debian package prometheus)'); return; }
  const [port, sport] = await Promise.all([freePort(), freePort()]);
  const metrics = `http://127.0.0.1:${sport}/metrics`;
  const scrape = async (): Promise<Scrape> => parse((await httpGet(metrics)).body).samples;
  const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '2', '--app', join(APPS, 'echo.mjs'), '--stats', `127.0.0.1:${sport}`, '--stats-http']);
  const promtool = async (): Promise<void> => {
    const body = (await httpGet(metrics)).body;
    const r = await run('promtool', ['check', 'metrics'], body);
    assert.equal(r.code, 0, `promtool check metrics:\n${r.stdout}${r.stderr}\n${body}`);
  };
  try {
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) assert.equal((await fetch(`http://127.0.0.1:${port}/pid`).then(async (r) => { await r.text(); return r.status; })), 200);
    };
    await send(5);
    const first = await waitForStats(scrape, (s) => total(s, 'usher_worker_requests_total') >= 5, '5 requests in /metrics');
    assert.equal(total(first, 'usher_worker_requests_total'), 5);
    assert.equal(total(first, 'usher_worker_request_duration_seconds_count'), 5);
    assert.ok(total(first, 'usher_worker_request_duration_seconds_sum') > 0);
    assert.ok(total(first, 'usher_worker_resident_memory_bytes') > 0);
    assert.equal(first.get('usher_spawns_total{role="worker"}'), 2);
    assert.equal(first.get('usher_reloads_total{result="ok"}'), 0);
    await promtool();
    const firstText = (await httpGet(metrics)).body;

    process.kill(u.pid, 'SIGHUP');
    await u.waitFor(/reload complete/);
    const reloaded = await waitForStats(scrape, (s) => s.get('usher_child_exits_total{role="worker",reason="retired"}') === 2, 'the old generation retired');
    assert.equal(reloaded.get('usher_reloads_total{result="ok"}'), 1);
    assert.equal(total(reloaded, 'usher_worker_requests_total'), 5, 'the retired workers\' requests are still counted');
    await send(3);
    await waitForStats(scrape, (s) => total(s, 'usher_worker_requests_total') >= 8, '8 requests after the reload');

    const victim = JSON.parse((await httpGet(`http://127.0.0.1:${sport}/`)).body).workers[0].pid as number;
    process.kill(victim, 'SIGKILL');
    const after = await waitForStats(scrape, (s) => s.get('usher_spawns_total{role="worker"}') === 5 && total(s, 'usher_workers') === 2 && (s.get('usher_workers{state="ready"}') ?? 0) === 2, 'the killed worker replaced');
    assert.equal(total(after, 'usher_worker_requests_total'), 8, 'a killed worker\'s requests are still counted');
    assert.ok([...after.keys()].some((k) => /^usher_child_exits_total\{role="worker",reason="(?!retired)[^"]+"\} 1$/.test(`${k} ${after.get(k)}`)), 'the kill is counted by reason');
    await promtool();

    const before = parse(firstText);
    for (const key of before.monotonic) {
      if (!after.has(key)) continue;
      assert.ok(after.get(key)! >= before.samples.get(key)!, `${key} went down: ${before.samples.get(key)} -> ${after.get(key)}`);
    }
    assert.ok(before.monotonic.size >= 10, 'counters were compared');
  } finally {
    await u.stop();
  }
});
