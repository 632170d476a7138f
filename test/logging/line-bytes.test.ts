/**
 * logging/line-bytes writes uWSGI's default line straight into a buffer: it must be byte for byte the
 * UTF-8 of the string line (logging/format's render), for the fixture corpus and for random facts with
 * control characters, C1, U+2028, lone and paired surrogates, non-ASCII text and odd numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileAccessLog } from '../../src/logging/format.js';
import { emptyFacts, type RequestFacts } from '../../src/logging/facts.js';
import { room } from '../../src/logging/line-bytes.js';
import { DEFAULT_ACCESS_LOG, type AccessLogSpec } from '../../src/logging/spec.js';
import { REPO } from '../helpers/usher.js';

function written(spec: AccessLogSpec, f: RequestFacts): { bytes: Buffer; expected: Buffer } | null {
  const compiled = compileAccessLog(spec, 'worker 1');
  if (compiled.write === null) return null;
  const buf = Buffer.alloc(room(f) + 16, 0xee);
  const start = 7; // not at 0: the queue holds earlier lines
  const end = compiled.write(f, buf, start);
  assert.ok(end <= start + room(f), 'the line fits the room reserved for it');
  return { bytes: buf.subarray(start, end), expected: Buffer.from(compiled.render(f)) };
}

test('the corpus: every case the byte writer takes renders the same bytes', () => {
  const cases = JSON.parse(readFileSync(join(REPO, 'test', 'fixtures', 'logging', 'corpus.json'), 'utf8')) as
    { name: string; spec: Partial<AccessLogSpec>; facts: RequestFacts }[];
  let taken = 0;
  for (const c of cases) {
    const w = written({ ...DEFAULT_ACCESS_LOG, ...c.spec }, { ...c.facts, lookup: null });
    if (w === null) continue;
    taken++;
    assert.deepEqual(w.bytes.toString('latin1'), w.expected.toString('latin1'), c.name);
  }
  assert.ok(taken > 0, 'the corpus has default-line cases');
});

test('the memory report, log-format, usher and json shapes keep the string path', () => {
  for (const spec of [{ memoryReport: true }, { format: '%(uri)' }, { style: 'usher' as const }, { encoder: 'json' }]) {
    assert.equal(compileAccessLog({ ...DEFAULT_ACCESS_LOG, ...spec }, 'w').write, null, JSON.stringify(spec));
  }
});

// A seeded generator (mulberry32): a failure replays.
let seed = 12345;
const rnd = (n: number): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
};
const UNITS = ['a', 'Z', '/', ' ', '~', '%', '\x00', '\x1f', '\n', '\x7f', '\x80', '\x9f', '\xa0', 'é', 'ÿ', '\u0100', '€',
  '\u2028', '\u2029', '\ud83d', '\ude00', '\ud83d\ude00', '中'];
function str(): string {
  const len = rnd(4) === 0 ? 0 : rnd(rnd(10) === 0 ? 300 : 12);
  // Mostly printable ASCII, some with one other unit somewhere (the writer's switch to escaping mid-field).
  const kind = rnd(3);
  let s = '';
  for (let i = 0; i < len; i++) s += kind !== 2 ? String.fromCharCode(0x20 + rnd(95)) : (UNITS[rnd(UNITS.length)] as string);
  if (kind === 1) {
    const at = rnd(s.length + 1);
    s = s.slice(0, at) + (UNITS[rnd(UNITS.length)] as string) + s.slice(at);
  }
  return s;
}
const ODD = [0, -0, 1, 9, 10, 99, 100, 4294967295, 4294967296, 2 ** 53, -1, 1.5, 1e21, 1e-7, NaN, Infinity, -Infinity, Number.MAX_VALUE];
function numb(): number {
  const k = rnd(3);
  return k === 0 ? (ODD[rnd(ODD.length)] as number) : k === 1 ? rnd(1000) : rnd(2147483647) * 3;
}

test('random facts: the bytes written are the string line UTF-8-encoded', () => {
  for (let i = 0; i < 20000; i++) {
    const f = Object.assign(emptyFacts(), {
      addr: str(), user: str(), method: str(), uri: str(), proto: str(), status: numb(), rsize: numb(), hsize: numb(),
      headers: numb(), vars: numb(), pktsize: numb(), req: numb(), durUs: numb(), switches: numb(), core: numb(),
      pid: rnd(5) === 0 ? numb() : 4242, startUs: rnd(2000000000) * 1e6 + rnd(1e6),
    });
    const w = written({ ...DEFAULT_ACCESS_LOG, micros: rnd(2) === 0 }, f) as { bytes: Buffer; expected: Buffer };
    if (!w.bytes.equals(w.expected)) assert.equal(w.bytes.toString('latin1'), w.expected.toString('latin1'), `case ${i}: ${JSON.stringify(f)}`);
  }
});
