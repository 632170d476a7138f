// `stats-http`: `/` is JSON for clients and the dashboard for browsers, `/metrics` is valid Prometheus
// exposition (promtool check metrics), nothing is writable (405), and counters only go up across a
// reload (retired workers' counts are kept) and a respawn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, freePort, startUsherReady, tempDir } from '../helpers/usher.js';
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
    const t = /^# TYPE (\S+) (counter|summary|histogram)$/.exec(line);
    if (t) counters.add(t[1]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    samples.set(m[1]!, Number(m[2]));
  }
  const monotonic = new Set([...samples.keys()].filter((k) => {
    const name = k.replace(/\{.*$/, '');
    return counters.has(name) || counters.has(name.replace(/_(sum|count|bucket)$/, ''));
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

/** A histogram's cumulative bucket counts of one series, in `le` order (label set without `le`). */
function buckets(s: Scrape, name: string, labels: string): [string, number][] {
  const rows: [string, number][] = [];
  for (const [k, v] of s) {
    const m = new RegExp(`^${name}_bucket\\{${labels},le="([^"]+)"\\}$`).exec(k);
    if (m) rows.push([m[1]!, v]);
  }
  return rows.sort((a, b) => (a[0] === '+Inf' ? 1 : b[0] === '+Inf' ? -1 : Number(a[0]) - Number(b[0])));
}

function assertHistogram(s: Scrape, name: string, labels: string, count: number, slowSeconds: number): void {
  const rows = buckets(s, name, labels);
  assert.equal(rows.length, 12, `${name}{${labels}}: Prometheus' 11 default bounds and +Inf`);
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i]![1] >= rows[i - 1]![1], `cumulative: ${JSON.stringify(rows)}`);
  assert.equal(rows.at(-1)![1], count, '+Inf holds every request');
  assert.equal(s.get(`${name}_count{${labels}}`), count);
  const below = rows.filter(([le]) => le !== '+Inf' && Number(le) < slowSeconds);
  assert.ok(below.every(([, n]) => n <= count - 1), `the slow request (>= ${slowSeconds} s) is in no bucket below it: ${JSON.stringify(rows)}`);
}

test('/metrics: response-time histograms and responses by status class, for Node workers and for the router and its Python workers', async (t) => {
  if (!requireTool('promtool')) { t.skip('promtool not installed (Debian package prometheus)'); return; }
  const [port, sport, pport, psport] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const node = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--processes', '1', '--app', join(APPS, 'echo.mjs'), '--stats', `127.0.0.1:${sport}`, '--stats-http']);
  const py = await startUsherReady(['--http', `127.0.0.1:${pport}`, '--processes', '1', '--wsgi-file', join(APPS, 'wsgi_runner.py'), '--stats', `127.0.0.1:${psport}`, '--stats-http']);
  try {
    const get = async (url: string): Promise<number> => fetch(url).then(async (r) => { await r.text(); return r.status; });
    for (const [base, slow, fail] of [[`http://127.0.0.1:${port}`, '/slow?ms=300', '/throw'], [`http://127.0.0.1:${pport}`, '/sleep/0.3', '/error']] as const) {
      for (let i = 0; i < 3; i++) assert.equal(await get(`${base}/pid`), 200);
      assert.equal(await get(`${base}${slow}`), 200);
      assert.equal(await get(`${base}${fail}`), 500);
    }
    for (const [sp, who] of [[sport, 'node'], [psport, 'python']] as const) {
      const url = `http://127.0.0.1:${sp}/metrics`;
      const s = await waitForStats(async () => parse((await httpGet(url)).body).samples, (x) => total(x, 'usher_worker_requests_total') >= 5, `${who}: 5 requests in /metrics`);
      assert.equal(s.get('usher_worker_responses_total{worker="1",code="2xx"}'), 4, who);
      assert.equal(s.get('usher_worker_responses_total{worker="1",code="5xx"}'), 1, who);
      assert.equal(s.get('usher_worker_responses_total{worker="1",code="4xx"}'), 0, `${who}: every class has a series`);
      assertHistogram(s, 'usher_worker_request_duration_seconds', 'worker="1"', 5, 0.3);
      const body = (await httpGet(url)).body;
      const r = await run('promtool', ['check', 'metrics'], body);
      assert.equal(r.code, 0, `promtool check metrics (${who}):\n${r.stdout}${r.stderr}`);
      if (who === 'python') {
        const withRouter = await waitForStats(async () => parse((await httpGet(url)).body).samples, (x) => total(x, 'usher_router_requests_total') >= 5, 'the router\'s 5 requests');
        assert.equal(withRouter.get('usher_router_responses_total{router="1",code="2xx"}'), 4);
        assert.equal(withRouter.get('usher_router_responses_total{router="1",code="5xx"}'), 1);
        assertHistogram(withRouter, 'usher_router_request_duration_seconds', 'router="1"', 5, 0.3);
      }
    }
  } finally {
    await Promise.all([node.stop(), py.stop()]);
  }
});

test('/metrics: a label value with a quote, a backslash or a newline is escaped (a socket path), and promtool accepts it', async (t) => {
  if (!requireTool('promtool')) { t.skip('promtool not installed (Debian package prometheus)'); return; }
  const d = tempDir();
  const sport = await freePort();
  // A path no one would choose, but a legal one: the label must not end early or break the line.
  const sock = join(d.dir, 'we"ird\\name\nx.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--app', join(APPS, 'echo.mjs'), '--stats', `127.0.0.1:${sport}`, '--stats-http']);
  try {
    const body = (await httpGet(`http://127.0.0.1:${sport}/metrics`)).body;
    const escaped = sock.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
    assert.ok(body.includes(`usher_listen_queue_max{socket="${escaped}",proto="uwsgi"} `), body);
    const r = await run('promtool', ['check', 'metrics'], body);
    assert.equal(r.code, 0, `promtool check metrics:\n${r.stdout}${r.stderr}\n${body}`);
  } finally {
    await u.stop();
    d.remove();
  }
});
