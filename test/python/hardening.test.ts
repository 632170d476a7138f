// Malformed uwsgi packets never reach the app and never cost a traceback: every malformed var value
// (Unicode digits, signs, spaces, NUL, overflow, huge) and every modifier1 usher does not serve gets a
// 400 and a log line. The packets are a corpus (test/fixtures/uwsgi/hardening, spelled out here byte by
// byte; `USHER_UPDATE_FIXTURES=1` rewrites them) replayed against a live Python runner and a live Node
// worker, then 10 000 seeded random packets against one Python runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, loadCorpus, prng, type Fixture } from '../helpers/corpus.js';
import { APPS, havePython, startRunner, workerSpec } from '../helpers/python-runner.js';
import { startUsherReady, tempDir, REPO } from '../helpers/usher.js';
import { parseRaw, sendRaw, uwsgiRequest } from '../helpers/uwsgi-client.js';

const DIR = join(FIXTURES, 'hardening');
const UPDATE = process.env.USHER_UPDATE_FIXTURES === '1';

const u16 = (n: number): Buffer => Buffer.from([n & 0xff, n >>> 8]);
const kv = (k: Buffer, v: Buffer): Buffer => Buffer.concat([u16(k.length), k, u16(v.length), v]);
/** A packet from vars whose values are raw bytes (latin1 strings here), then `body`. */
function packet(pairs: [string, string][], m1 = 0, body = ''): Buffer {
  const block = Buffer.concat(pairs.map(([k, v]) => kv(Buffer.from(k, 'latin1'), Buffer.from(v, 'latin1'))));
  return Buffer.concat([Buffer.from([m1, block.length & 0xff, block.length >>> 8, 0]), block, Buffer.from(body, 'latin1')]);
}
const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const GET: [string, string][] = [['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/'], ['PATH_INFO', '/'], ['QUERY_STRING', ''], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['HTTP_HOST', 'guestbook.local']];
const POST = (cl: string): [string, string][] => [['REQUEST_METHOD', 'POST'], ...GET.slice(1), ['CONTENT_TYPE', 'text/plain'], ['CONTENT_LENGTH', cl]];
const MALFORMED = { code: 'USHER_ERR_UWSGI_MALFORMED', status: 400, at: 'cgi' } as const;
const UNSUPPORTED = { code: 'USHER_ERR_UWSGI_UNSUPPORTED', status: 400 } as const;

interface Case { readonly name: string; readonly why: string; readonly bytes: Buffer; readonly error?: Fixture['error'] }
const CASES: Case[] = [
  { name: 'cl-superscript-two', why: "CONTENT_LENGTH '²' (UTF-8): a Unicode digit, isdigit() but not int()", bytes: packet(POST(utf8('²')), 0, 'ab'), error: MALFORMED },
  { name: 'cl-superscript-latin1', why: "CONTENT_LENGTH '²' as one latin-1 byte 0xB2", bytes: packet(POST('\xb2'), 0, 'ab'), error: MALFORMED },
  { name: 'cl-arabic-indic', why: "CONTENT_LENGTH '٣' (UTF-8): int() would read it as 3", bytes: packet(POST(utf8('٣')), 0, 'abc'), error: MALFORMED },
  { name: 'cl-fullwidth', why: "CONTENT_LENGTH '５' (UTF-8, fullwidth digit)", bytes: packet(POST(utf8('５')), 0, 'abcde'), error: MALFORMED },
  { name: 'cl-plus', why: "CONTENT_LENGTH '+5': a sign", bytes: packet(POST('+5'), 0, 'abcde'), error: MALFORMED },
  { name: 'cl-minus-zero', why: "CONTENT_LENGTH '-0'", bytes: packet(POST('-0')), error: MALFORMED },
  { name: 'cl-leading-space', why: "CONTENT_LENGTH ' 5': int() strips spaces, the protocol does not", bytes: packet(POST(' 5'), 0, 'abcde'), error: MALFORMED },
  { name: 'cl-trailing-space', why: "CONTENT_LENGTH '5 '", bytes: packet(POST('5 '), 0, 'abcde'), error: MALFORMED },
  { name: 'cl-space-only', why: "CONTENT_LENGTH ' '", bytes: packet(POST(' ')), error: MALFORMED },
  { name: 'cl-nul', why: "CONTENT_LENGTH '5\\0'", bytes: packet(POST('5\0'), 0, 'abcde'), error: MALFORMED },
  { name: 'cl-underscore', why: "CONTENT_LENGTH '1_0': int() accepts underscores", bytes: packet(POST('1_0'), 0, 'abcdefghij'), error: MALFORMED },
  { name: 'cl-hex', why: "CONTENT_LENGTH '0x10'", bytes: packet(POST('0x10')), error: MALFORMED },
  { name: 'cl-exponent', why: "CONTENT_LENGTH '1e3'", bytes: packet(POST('1e3')), error: MALFORMED },
  { name: 'cl-fraction', why: "CONTENT_LENGTH '5.0'", bytes: packet(POST('5.0'), 0, 'abcde'), error: MALFORMED },
  { name: 'cl-overflow', why: 'CONTENT_LENGTH 2**53 (one past the largest safe integer)', bytes: packet(POST('9007199254740992')), error: MALFORMED },
  { name: 'cl-overflow-u64', why: 'CONTENT_LENGTH 2**64 (overflows a u64)', bytes: packet(POST('18446744073709551616')), error: MALFORMED },
  { name: 'cl-huge', why: 'CONTENT_LENGTH of 3000 digits', bytes: packet(POST('9'.repeat(3000))), error: MALFORMED },
  { name: 'method-empty', why: 'REQUEST_METHOD empty', bytes: packet([['REQUEST_METHOD', ''], ...GET.slice(1)]), error: MALFORMED },
  { name: 'method-nul', why: "REQUEST_METHOD 'GET\\0'", bytes: packet([['REQUEST_METHOD', 'GET\0'], ...GET.slice(1)]), error: MALFORMED },
  { name: 'method-space', why: "REQUEST_METHOD ' GET'", bytes: packet([['REQUEST_METHOD', ' GET'], ...GET.slice(1)]), error: MALFORMED },
  { name: 'method-latin1', why: "REQUEST_METHOD 'GÉT' (latin-1 byte): not a token", bytes: packet([['REQUEST_METHOD', 'G\xc9T'], ...GET.slice(1)]), error: MALFORMED },
  { name: 'method-utf8', why: "REQUEST_METHOD 'PÖST' (UTF-8): not a token", bytes: packet([['REQUEST_METHOD', utf8('PÖST')], ...GET.slice(1)]), error: MALFORMED },
  ...[5, 6, 7, 8, 9, 14, 15].map((m): Case => ({ name: `modifier1-${m}`, why: `modifier1 ${m}: another language's request (uWSGI refuses it without that plugin)`, bytes: packet(GET, m), error: UNSUPPORTED })),
  { name: 'modifier1-29', why: 'modifier1 29, next to the 30 usher serves', bytes: packet(GET, 29), error: UNSUPPORTED },
  { name: 'modifier1-31', why: 'modifier1 31 (uWSGI message array)', bytes: packet(GET, 31), error: UNSUPPORTED },
];

test('the hardening corpus on disk is byte for byte the packets spelled out here', () => {
  if (UPDATE) mkdirSync(DIR, { recursive: true });
  const stored = new Map(loadCorpus(DIR).map((c) => [c.name, c]));
  for (const c of CASES) {
    const fixture: Fixture = { source: 'synthetic (test/python/hardening.test.ts)', why: c.why, bufferSize: 4096, ...(c.error ? { error: c.error } : {}) };
    if (UPDATE) {
      writeFileSync(join(DIR, `${c.name}.bin`), c.bytes);
      writeFileSync(join(DIR, `${c.name}.json`), `${JSON.stringify(fixture, null, 2)}\n`);
      continue;
    }
    const s = stored.get(c.name);
    assert.ok(s, `${c.name} is in ${DIR} (USHER_UPDATE_FIXTURES=1 writes it)`);
    assert.ok(s.bytes.equals(c.bytes), `${c.name}.bin is the packet described here`);
    assert.deepEqual(s.fixture, JSON.parse(JSON.stringify(fixture)), `${c.name}.json`);
  }
  if (!UPDATE) assert.equal(stored.size, CASES.length, 'no stale fixture in the folder');
});

/** Send each fixture; check the answer; return the names whose answer differed from the fixture. */
async function replay(target: string, corpus: ReturnType<typeof loadCorpus>, probe: string): Promise<string[]> {
  const wrong: string[] = [];
  for (const { name, bytes, fixture } of corpus) {
    const raw = await sendRaw(target, bytes, 10_000, true);
    const status = parseRaw(raw).status;
    const want = fixture.error === undefined ? 200 : fixture.error.code === 'USHER_ERR_UWSGI_TRUNCATED' ? 0 : fixture.error.status;
    if (status !== want && !(want === 0 && raw.length === 0)) wrong.push(`${name}: ${status} (want ${want})`);
    assert.equal((await uwsgiRequest(target, 'GET', probe)).status, 200, `serves after ${name}`);
  }
  return wrong;
}

test('the hardening corpus and the main corpus against a live Python runner: each refusal a 400 with a log line, no traceback', async (ctx) => {
  if (!havePython(ctx)) return;
  const r = await startRunner(workerSpec({ wsgiFile: join(APPS, 'wsgi_environ.py'), threads: 2, disableLogging: true }));
  try {
    await r.waitMessage((m) => m.type === 'ready');
    const hardening = loadCorpus(DIR);
    assert.equal(hardening.length, CASES.length);
    assert.deepEqual(await replay(r.target, [...hardening, ...loadCorpus()], '/'), []);
    const warned = r.stderr().split('\n').filter((l) => / WARN .*bad uwsgi packet status=400 /.test(l));
    assert.ok(warned.length >= hardening.length, `a log line for each refusal (${warned.length})`);
    assert.match(r.stderr(), /reason="bad CONTENT_LENGTH '\\\\xb2'"/, 'the log line says which value');
    assert.match(r.stderr(), /modifier1 5 is not a request usher serves/);
    assert.doesNotMatch(r.stderr(), /Traceback|internal error/);
  } finally {
    await r.stop();
  }
});

test('the hardening corpus against a live Node worker: the same refusals', async () => {
  const tmp = tempDir();
  const sock = join(tmp.dir, 'node.sock');
  const u = await startUsherReady(['--socket', sock, '--processes', '1', '--app', join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs'), '--disable-logging']);
  try {
    const wrong = await replay(sock, loadCorpus(DIR), '/pid');
    assert.deepEqual(wrong, []);
    assert.doesNotMatch(u.output(), /worker died|Error:/);
  } finally {
    await u.stop();
    tmp.remove();
  }
});

/** A random packet: a valid GET or POST with some of its parts broken. */
function randomPacket(r: () => number, values: string[]): Buffer {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const rnd = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(Math.floor(r() * 256))).join('');
  const pairs: [string, string][] = (r() < 0.5 ? GET : POST(String(Math.floor(r() * 20)))).map(([k, v]) => [k, v]);
  const edits = 1 + Math.floor(r() * 4);
  for (let i = 0; i < edits; i++) {
    const roll = r();
    const at = Math.floor(r() * pairs.length);
    if (roll < 0.35) pairs[at] = [pairs[at]![0], pick(values)];
    else if (roll < 0.5) pairs[at] = [pairs[at]![0], rnd(Math.floor(r() * 40))];
    else if (roll < 0.6) pairs.splice(at, 1);
    else if (roll < 0.75) pairs.push([pick(['CONTENT_LENGTH', 'REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'HTTPS', 'REQUEST_SCHEME', 'HTTP_COOKIE', 'wsgi.input', 'REQUEST_URI']), pick(values)]);
    else if (roll < 0.85) pairs.push([rnd(1 + Math.floor(r() * 12)), rnd(Math.floor(r() * 30))]);
    else pairs.push([pick(['HTTP_X', 'HTTP_COOKIE']), rnd(Math.floor(r() * 30))]);
  }
  const m1 = r() < 0.85 ? pick([0, 0, 0, 30]) : Math.floor(r() * 256);
  let bytes = packet(pairs, m1, rnd(Math.floor(r() * 24)));
  const tweak = r();
  if (tweak < 0.08) bytes = bytes.subarray(0, Math.floor(r() * bytes.length)); // cut short
  else if (tweak < 0.14) bytes.writeUInt16LE(Math.floor(r() * 65536), 1); // a lying datasize
  else if (tweak < 0.18) bytes = Buffer.from(rnd(Math.floor(r() * 64)), 'latin1'); // noise
  return bytes;
}

test('10 000 seeded random packets against one Python runner: no traceback, no 500, and it still serves', async (ctx) => {
  if (!havePython(ctx)) return;
  const values = CASES.flatMap((c) => [...c.bytes.toString('latin1').matchAll(/CONTENT_LENGTH..([^\0-\x1f]*)/g)].map((m) => m[1]!))
    .concat(['', '0', '00', '5', utf8('²'), utf8('٣'), '-1', ' ', '\0', 'GET', 'G E T', '/', '/a\0b', '/x\ny', 'on', 'https', '1'.repeat(40), utf8('é/☃')]);
  const r = await startRunner(workerSpec({ wsgiFile: join(APPS, 'wsgi_environ.py'), threads: 2, socketTimeout: 2 }));
  try {
    await r.waitMessage((m) => m.type === 'ready');
    const rand = prng(20261202);
    const packets = Array.from({ length: 10_000 }, () => randomPacket(rand, values));
    const statuses = new Map<number, number>();
    let next = 0;
    const lanes = Array.from({ length: 8 }, async () => {
      while (next < packets.length) {
        const p = packets[next++]!;
        const s = parseRaw(await sendRaw(r.target, p, 30_000, true)).status;
        statuses.set(s, (statuses.get(s) ?? 0) + 1);
      }
    });
    await Promise.all(lanes);
    ctx.diagnostic(`statuses: ${JSON.stringify([...statuses])}`);
    const seen = [...statuses.keys()].sort((a, b) => a - b);
    assert.ok(statuses.get(200)! > 1000 && statuses.get(400)! > 1000, `both served and refused packets (${JSON.stringify([...statuses])})`);
    assert.ok(seen.every((s) => [0, 200, 400, 408, 413].includes(s)), `only 200, 400, 408, 413 or a plain close (${seen.join(', ')})`);
    assert.equal((await uwsgiRequest(r.target, 'GET', '/')).status, 200, 'the runner still serves');
    assert.doesNotMatch(r.stderr(), /Traceback|internal error/);
    const lines = r.stderr().split('\n').filter((l) => l !== '');
    assert.ok(lines.every((l) => /^(\d{4}-\d\d-\d\dT|\[pid: \d+\|app: 0\|req: \d+\/\d+\] .* \(1 switches on core \d+\)$)/.test(l)), 'every log line is one whole line (an event, or uWSGI\'s access line)');
  } finally {
    await r.stop();
  }
});
