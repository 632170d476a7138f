// The shared static corpus (test/fixtures/static/corpus.json, traversal.json) replayed against both
// resolvers: the TypeScript one in this process, the Python one (python/usher_wsgi/static.py) under
// Debian's /usr/bin/python3. Each must reach the corpus's decision, and the two must agree on every
// field of every decision. The traversal corpus also proves nothing outside the root is ever read:
// the canary's atime (reset to 0, so relatime updates it on any read) must stay 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO } from '../helpers/usher.js';
import { StaticResolver, type StaticDecision } from '../../src/static/index.js';
import { BUILTIN_MIME, loadMimeTable } from '../../src/static/mime.js';
import { buildTree, loadCorpus, type CorpusCase } from './tree.js';

const PY = '/usr/bin/python3';
const REPLAY = join(REPO, 'test', 'static', 'replay_static.py');

type Normal = Record<string, unknown>;

function needPython(ctx: { skip: (m: string) => void }): boolean {
  if (existsSync(PY)) return true;
  if (process.env.CI === 'true') throw new Error(`${PY} is missing (CI must install python3)`);
  ctx.skip(`${PY} is missing`);
  return false;
}

async function normalize(d: StaticDecision, dir: string): Promise<Normal> {
  if (d.kind === 'pass') return { pass: d.reason };
  const headers = Object.fromEntries(d.headers);
  if (d.kind === 'respond') return { status: d.status, headers, reason: d.reason };
  if (d.fd >= 0) closeSync(d.fd); // -1: the bytes came from the resolver's cache
  const file = d.path.startsWith(`${dir}/`) ? relative(dir, d.path) : d.path;
  return { status: d.status, headers, file, start: d.start, length: d.length, head: d.head };
}

async function replayTs(files: string[], dir: string): Promise<{ cases: CorpusCase[]; results: Normal[] }> {
  const cases: CorpusCase[] = [];
  const results: Normal[] = [];
  for (const f of files) {
    const corpus = loadCorpus(f, dir);
    const resolvers = new Map(Object.entries(corpus.specs).map(([k, s]) => [k, new StaticResolver(s)]));
    for (const c of corpus.cases) {
      const headers = Object.fromEntries(Object.entries(c.request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
      const d = await resolvers.get(c.spec ?? 'main')!.resolve({ method: c.request.method, target: c.request.target, headers, now: corpus.now });
      cases.push(c);
      results.push(await normalize(d, dir));
    }
  }
  return { cases, results };
}

function replayPython(files: string[], dir: string): { results: Normal[]; leakedFds: number } {
  return JSON.parse(execFileSync(PY, [REPLAY, REPO, dir, ...files], { encoding: 'utf8' })) as { results: Normal[]; leakedFds: number };
}

function checkExpect(c: CorpusCase, got: Normal, who: string): void {
  const where = `${who}: ${c.name} (${c.request.method} ${JSON.stringify(c.request.target)})`;
  for (const [k, want] of Object.entries(c.expect)) {
    if (k === 'headers') {
      for (const [h, v] of Object.entries(want as Record<string, string>)) assert.equal((got.headers as Record<string, string> | undefined)?.[h], v, `${where}: header ${h}`);
    } else if (k === 'noHeaders') {
      for (const h of want as string[]) assert.ok(!(h in ((got.headers as object | undefined) ?? {})), `${where}: no ${h} header`);
    } else {
      assert.deepEqual(got[k], want, `${where}: ${k} (got ${JSON.stringify(got)})`);
    }
  }
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

test('static corpus: the TypeScript resolver reaches every expected decision and leaks no fd', async () => {
  const tree = buildTree();
  try {
    const before = openFds();
    const { cases, results } = await replayTs(['corpus.json'], tree.dir);
    assert.ok(cases.length >= 90, 'the corpus is whole');
    cases.forEach((c, i) => checkExpect(c, results[i]!, 'ts'));
    assert.equal(openFds(), before, 'every fd the resolver opened was closed');
  } finally {
    tree.remove();
  }
});

test('static corpus: the Python resolver reaches the same decisions as the TypeScript one, field for field', async (ctx) => {
  if (!needPython(ctx)) return;
  const tree = buildTree();
  try {
    const ts = await replayTs(['corpus.json'], tree.dir);
    const py = replayPython(['corpus.json'], tree.dir);
    assert.equal(py.results.length, ts.cases.length);
    ts.cases.forEach((c, i) => {
      checkExpect(c, py.results[i]!, 'python');
      assert.deepEqual(py.results[i], ts.results[i], `python vs ts: ${c.name}`);
    });
    assert.equal(py.leakedFds, 0, 'the Python resolver closed every fd it opened');
  } finally {
    tree.remove();
  }
});

test('static traversal corpus: 50+ crafted paths and symlinks out of the root are refused by both resolvers; the canary is never read', async (ctx) => {
  if (!needPython(ctx)) return;
  const tree = buildTree();
  try {
    // Control: on this filesystem a read does move an atime of 0 (relatime), so an unchanged one means unread.
    const control = join(tree.dir, 'root', 'a.txt');
    utimesSync(control, 0, statSync(control).mtime);
    readFileSync(control);
    assert.notEqual(statSync(control).atimeMs, 0, 'atime tracking works here');
    utimesSync(tree.canary, 0, statSync(tree.canary).mtime);

    const ts = await replayTs(['traversal.json'], tree.dir);
    const py = replayPython(['traversal.json'], tree.dir);
    assert.ok(ts.cases.filter((c) => c.expect.status === 403).length >= 40, 'at least 40 crafted paths must be refused');
    ts.cases.forEach((c, i) => {
      checkExpect(c, ts.results[i]!, 'ts');
      checkExpect(c, py.results[i]!, 'python');
      assert.deepEqual(py.results[i], ts.results[i], `python vs ts: ${c.name}`);
      assert.ok(!('file' in ts.results[i]!), `${c.name}: nothing is served`);
    });
    assert.equal(statSync(tree.canary).atimeMs, 0, 'the canary outside the root was never read');
  } finally {
    tree.remove();
  }
});

test('static MIME tables: the built-in fallbacks are the same list, and a mime.types file parses the same (first mention wins)', (ctx) => {
  if (!needPython(ctx)) return;
  const tree = buildTree();
  try {
    const py = JSON.parse(execFileSync(PY, [REPLAY, REPO, tree.dir, '--mime'], { encoding: 'utf8' })) as { builtin: Record<string, string>; parsed: Record<string, string> };
    assert.deepEqual(py.builtin, { ...BUILTIN_MIME });
    const ts = loadMimeTable([join(tree.dir, 'mime.types')]);
    assert.deepEqual(py.parsed, Object.fromEntries(ts.types));
    assert.equal(ts.types.get('dup'), 'text/x-first');
    // The default is Debian's /etc/mime.types (package media-types, installed by .ci/run).
    if (process.env.CI === 'true' || existsSync('/etc/mime.types')) {
      const deflt = loadMimeTable([]);
      assert.deepEqual(deflt.sources, ['/etc/mime.types']);
      assert.equal(deflt.types.get('woff2'), 'font/woff2');
    }
    const fallback = loadMimeTable([join(tree.dir, 'nope.types')]);
    assert.deepEqual(fallback.unreadable, [join(tree.dir, 'nope.types')]);
    assert.equal(fallback.types.get('css'), 'text/css');
  } finally {
    tree.remove();
  }
});
