/**
 * One fixture corpus (test/fixtures/logging/corpus.json: request facts -> expected line, per access-log
 * spec) replayed against the TypeScript compiler (src/logging/format.ts) and the Python one
 * (python/usher_wsgi/access_log.py, run with Debian's /usr/bin/python3): a line renders the same from a Node
 * worker, a Python worker or any other usher process. Times are fixed in the facts and TZ=UTC.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileAccessLog } from '../../src/logging/format.js';
import { DEFAULT_ACCESS_LOG, type AccessLogSpec } from '../../src/logging/spec.js';
import type { RequestFacts } from '../../src/logging/facts.js';
import { REPO } from '../helpers/usher.js';
import { PY, havePython } from '../helpers/python-runner.js';

interface Case { name: string; spec: Partial<AccessLogSpec>; proc: string; facts: RequestFacts; expected: string; warnings: string[] }
const CORPUS = join(REPO, 'test', 'fixtures', 'logging', 'corpus.json');
const cases = JSON.parse(readFileSync(CORPUS, 'utf8')) as Case[];

function renderTs(c: Case): { line: string; warnings: readonly string[] } {
  const saved = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    const compiled = compileAccessLog({ ...DEFAULT_ACCESS_LOG, ...c.spec }, c.proc);
    return { line: compiled.render({ ...c.facts, lookup: null }), warnings: compiled.warnings };
  } finally {
    if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved;
  }
}

const PY_REPLAY = `
import json, sys
from usher_wsgi.log import AccessLog
base = {'style': 'uwsgi', 'format': None, 'encoder': None, 'strftime': None, 'micros': False, 'enabled': True,
        'log4xx': False, 'log5xx': False, 'slowMs': 0, 'bigBytes': 0, 'zero': False, 'xForwardedFor': False, 'tag': ''}
out = []
for c in json.load(open(sys.argv[1])):
    a = AccessLog(dict(base, **c['spec']), c['proc'])
    out.append({'line': a.render(c['facts']), 'warnings': a.warnings})
sys.stdout.write(json.dumps(out))
`;

test('the corpus covers the default line, every variable, JSON, and forged-line attempts', () => {
  const names = cases.map((c) => c.name);
  for (const want of ['default uwsgi line', 'every variable', 'json default keys', 'json template', 'injection, default line']) assert.ok(names.includes(want), want);
  const every = cases.find((c) => c.name === 'every variable');
  for (const v of ['addr', 'user', 'ltime', 'time', 'ctime', 'epoch', 'method', 'uri', 'proto', 'status', 'size', 'rsize', 'hsize', 'cl', 'referer',
    'uagent', 'host', 'msecs', 'micros', 'pid', 'wid', 'core', 'switches', 'vars', 'headers', 'rss', 'vsz', 'var.HTTP_X_REQUEST_ID']) {
    assert.ok(every?.spec.format?.includes(`%(${v})`), v);
  }
});

test('uWSGI\'s default request line has the shape of core/logging.c', () => {
  const c = cases.find((x) => x.name === 'default uwsgi line') as Case;
  assert.equal(renderTs(c).line, '[pid: 4242|app: 0|req: 7/7] 203.0.113.9 () {17 vars in 512 bytes} [Wed Dec  2 03:14:00 2026] GET /hello?x=1 => generated 12 bytes in 1 msecs (HTTP/1.1 200) 2 headers in 78 bytes (1 switches on core 0)\n');
});

test('the TypeScript renderer gives every expected line of the corpus', () => {
  for (const c of cases) {
    const got = renderTs(c);
    assert.equal(got.line, c.expected, c.name);
    assert.deepEqual([...got.warnings], c.warnings, c.name);
  }
});

test('the Python renderer gives every expected line of the corpus', (t) => {
  if (!havePython(t)) return;
  const out = execFileSync(PY, ['-c', PY_REPLAY, CORPUS], { env: { ...process.env, TZ: 'UTC', PYTHONPATH: join(REPO, 'python') }, encoding: 'utf8' });
  const got = JSON.parse(out) as { line: string; warnings: string[] }[];
  assert.equal(got.length, cases.length);
  cases.forEach((c, i) => {
    assert.equal(got[i]?.line, c.expected, c.name);
    assert.deepEqual(got[i]?.warnings, c.warnings, c.name);
  });
});

test('a URI or User-Agent carrying \\n, \\r or ANSI escapes stays on one line in every encoding', () => {
  for (const c of cases.filter((x) => x.name.startsWith('injection'))) {
    const { line } = renderTs(c);
    assert.equal(line.indexOf('\n'), line.length - 1, c.name);
    assert.doesNotMatch(line.slice(0, -1), /[\x00-\x1f\x7f-\x9f\u2028\u2029]/, c.name);
    if (c.spec.encoder === 'json') assert.equal(JSON.parse(line).uri, c.facts.uri, c.name);
  }
});

test('disable-logging with log-4xx/5xx/slow/big/zero logs only the requests they name', () => {
  const off = { ...DEFAULT_ACCESS_LOG, enabled: false };
  assert.equal(compileAccessLog(off, 'w').active, false);
  const a = compileAccessLog({ ...off, log4xx: true, log5xx: true, slowMs: 100, bigBytes: 1000, zero: false }, 'w');
  assert.equal(a.active, true);
  assert.equal(a.wants(200, 5_000, 10), false);
  assert.equal(a.wants(404, 5_000, 10), true);
  assert.equal(a.wants(503, 5_000, 10), true);
  assert.equal(a.wants(200, 100_000, 10), true);
  assert.equal(a.wants(200, 99_999, 10), false);
  assert.equal(a.wants(200, 5_000, 1000), true);
  const z = compileAccessLog({ ...off, zero: true }, 'w');
  assert.equal(z.wants(204, 1, 0), true);
  assert.equal(z.wants(200, 1, 1), false);
  assert.equal(compileAccessLog({ ...DEFAULT_ACCESS_LOG, log4xx: true }, 'w').wants(200, 1, 1), true, 'logging on: every request, as uWSGI');
});
