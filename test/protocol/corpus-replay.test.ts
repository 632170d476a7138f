// The uwsgi fixture corpus (test/fixtures/uwsgi: real Nginx/Apache captures and hand-made malformed
// packets) replayed whole, byte by byte, and in seeded random chunks: every way of cutting the bytes
// gives the same request, body and error. The malformed packets are also rebuilt here byte by byte
// (`USHER_UPDATE_FIXTURES=1` rewrites them), so each one is known to be exactly what its name says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UwsgiRequestParser, cgiToRequest, type UwsgiPacket } from '../../src/protocol/index.js';
import { UwsgiProtocolError, type UsherErrorCode } from '../../src/errors.js';
import { FIXTURES, loadCorpus, plain, prng, type Fixture } from '../helpers/corpus.js';

const UPDATE = process.env.USHER_UPDATE_FIXTURES === '1';

// ---- the hand-made packets, spelled out without the codec under test ----
const u16 = (n: number): Buffer => Buffer.from([n & 0xff, n >>> 8]);
const header = (size: number, m1 = 0, m2 = 0): Buffer => Buffer.from([m1, size & 0xff, size >>> 8, m2]);
const kv = (k: string, v: string): Buffer => Buffer.concat([u16(Buffer.byteLength(k, 'latin1')), Buffer.from(k, 'latin1'), u16(Buffer.byteLength(v, 'latin1')), Buffer.from(v, 'latin1')]);
const packet = (pairs: [string, string][], m1 = 0, m2 = 0): Buffer => {
  const block = Buffer.concat(pairs.map(([k, v]) => kv(k, v)));
  return Buffer.concat([header(block.length, m1, m2), block]);
};
const randomBytes = (seed: number, n: number): Buffer => {
  const r = prng(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
};
const GET: [string, string][] = [['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/'], ['PATH_INFO', '/'], ['QUERY_STRING', ''], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['HTTP_HOST', 'guestbook.local']];

interface Synthetic { readonly name: string; readonly why: string; readonly bytes: Buffer; readonly maxVars?: number; readonly error?: Fixture['error'] }
const E = (code: UsherErrorCode, status: number, at?: 'cgi'): Fixture['error'] => (at ? { code, status, at } : { code, status });

const SYNTHETIC: readonly Synthetic[] = [
  { name: 'truncated-header', why: 'the peer closed after 2 of the 4 header bytes', bytes: Buffer.from([0, 10]), error: E('USHER_ERR_UWSGI_TRUNCATED', 400) },
  { name: 'truncated-vars', why: 'datasize says 1000 bytes of vars; the peer closed after 36', bytes: Buffer.concat([header(1000), packet(GET).subarray(4, 40)]), error: E('USHER_ERR_UWSGI_TRUNCATED', 400) },
  { name: 'key-past-block', why: 'a key size of 200 in a 6-byte vars block', bytes: Buffer.concat([header(6), u16(200), Buffer.from('ABCD')]), error: E('USHER_ERR_UWSGI_MALFORMED', 400) },
  { name: 'value-size-missing', why: 'the block ends right after a key, before its value size', bytes: Buffer.concat([header(4), u16(2), Buffer.from('AB')]), error: E('USHER_ERR_UWSGI_MALFORMED', 400) },
  { name: 'value-past-block', why: 'a value size of 300 in an 8-byte vars block', bytes: Buffer.concat([header(8), u16(1), Buffer.from('A'), u16(300), Buffer.from('BBB')]), error: E('USHER_ERR_UWSGI_MALFORMED', 400) },
  { name: 'empty-block', why: 'datasize 0: no REQUEST_METHOD, so no request', bytes: header(0), error: E('USHER_ERR_UWSGI_MALFORMED', 400) },
  { name: 'empty-key', why: 'a 0-length key (uWSGI refuses these too)', bytes: Buffer.concat([header(6), u16(0), u16(2), Buffer.from('ab')]), error: E('USHER_ERR_UWSGI_MALFORMED', 400) },
  { name: 'oversized-vars', why: 'a well-formed 5000-byte vars block, over buffer-size 4096: 413', bytes: packet([...GET, ['HTTP_X_BIG', 'b'.repeat(5000 - 4 - 10 - GET.reduce((n, [k, v]) => n + 4 + k.length + v.length, 0))]]), error: E('USHER_ERR_UWSGI_TOO_LARGE', 413) },
  { name: 'too-many-vars', why: '300 vars, over the cap of 256', bytes: packet([...GET, ...Array.from({ length: 294 }, (_, i): [string, string] => [`X${i}`, ''])]), error: E('USHER_ERR_UWSGI_MALFORMED', 400) },
  { name: 'ping', why: 'modifier1 100 (uWSGI ping): not a request', bytes: header(0, 100), error: E('USHER_ERR_UWSGI_UNSUPPORTED', 400) },
  { name: 'eval', why: 'modifier1 22 (uWSGI raw code evaluation): refused, request data never picks code', bytes: Buffer.concat([header(25, 22), Buffer.from("__import__('os').system()")]), error: E('USHER_ERR_UWSGI_UNSUPPORTED', 400) },
  ...[5, 6, 7, 8, 9, 14, 15].map((m1): Synthetic => ({
    name: `modifier1-${m1}`,
    why: `modifier1 ${m1} (another language's request: PSGI, Lua, Rack, JVM, CGI, PHP, Mono): refused, as uWSGI refuses it without that plugin`,
    bytes: packet(GET, m1),
    error: E('USHER_ERR_UWSGI_UNSUPPORTED', 400),
  })),
  { name: 'random-bytes', why: '512 random bytes (seed 1)', bytes: randomBytes(1, 512) },
  { name: 'random-vars', why: 'a valid header over 512 random bytes of vars (seed 2)', bytes: Buffer.concat([header(512), randomBytes(2, 512)]) },
  { name: 'no-method', why: 'a well-formed packet without REQUEST_METHOD', bytes: packet(GET.slice(1)), error: E('USHER_ERR_UWSGI_MALFORMED', 400, 'cgi') },
  { name: 'bad-method', why: 'REQUEST_METHOD is not an HTTP token', bytes: packet([['REQUEST_METHOD', 'G E T'], ...GET.slice(1)]), error: E('USHER_ERR_UWSGI_MALFORMED', 400, 'cgi') },
  { name: 'bad-content-length', why: 'CONTENT_LENGTH is negative', bytes: packet([...GET, ['CONTENT_LENGTH', '-5']]), error: E('USHER_ERR_UWSGI_MALFORMED', 400, 'cgi') },
  { name: 'magic-vars', why: 'UWSGI_* vars (script, file, module, chdir, setenv, appid) are neither acted on nor exposed', bytes: packet([...GET, ['UWSGI_SCRIPT', 'evil'], ['UWSGI_FILE', '/tmp/evil.py'], ['UWSGI_MODULE', 'os'], ['UWSGI_CHDIR', '/'], ['UWSGI_SETENV', 'PATH=/tmp'], ['UWSGI_APPID', 'other']]) },
  { name: 'router-keepalive', why: "usher's own router: modifier2 1 asks the worker to keep the connection", bytes: Buffer.concat([packet([...GET, ['CONTENT_LENGTH', '4']], 0, 1), Buffer.from('ping')]) },
];

/** Feed the bytes cut by `sizes`; the parse error, or the packet and the body bytes that followed. */
function replay(bytes: Buffer, f: Fixture, sizes: () => number): { error: UwsgiProtocolError } | { packet: UwsgiPacket; body: Buffer } {
  const p = new UwsgiRequestParser({ bufferSize: f.bufferSize, maxVars: f.maxVars });
  try {
    for (let off = 0; off < bytes.length;) {
      const n = Math.max(1, Math.min(sizes(), bytes.length - off));
      const got = p.push(bytes.subarray(off, off + n));
      off += n;
      if (got) return { packet: got, body: Buffer.concat([got.rest, bytes.subarray(off)]) };
    }
    p.end();
  } catch (e) {
    if (e instanceof UwsgiProtocolError) return { error: e };
    throw e;
  }
  throw new Error('the parser neither finished nor failed at EOF');
}

/** What the codec makes of the bytes (used to write new fixtures, which a person then reviews). */
function judge(s: Synthetic): Fixture {
  const base: Fixture = { source: 'synthetic (test/protocol/corpus-replay.test.ts)', why: s.why, bufferSize: 4096, ...(s.maxVars !== undefined ? { maxVars: s.maxVars } : {}) };
  const r = replay(s.bytes, base, () => s.bytes.length);
  if ('error' in r) return { ...base, error: { code: r.error.code, status: r.error.status } };
  try {
    return { ...base, modifier1: r.packet.modifier1, modifier2: r.packet.modifier2, body: r.body.toString('latin1'), expect: cgiToRequest(r.packet.vars, r.packet.modifier1) };
  } catch (e) {
    if (!(e instanceof UwsgiProtocolError)) throw e;
    return { ...base, error: { code: e.code, status: e.status, at: 'cgi' } };
  }
}

test('the hand-made malformed packets in the corpus are byte for byte what their names say', () => {
  const corpus = new Map(loadCorpus().map((c) => [c.name, c]));
  for (const s of SYNTHETIC) {
    const name = `synthetic-${s.name}`;
    const judged = judge(s);
    if (s.error !== undefined) assert.deepEqual(judged.error, s.error, `${name}: ${s.why}`);
    if (UPDATE) {
      writeFileSync(join(FIXTURES, `${name}.bin`), s.bytes);
      writeFileSync(join(FIXTURES, `${name}.json`), `${JSON.stringify(judged, null, 2)}\n`);
      continue;
    }
    const stored = corpus.get(name);
    assert.ok(stored, `${name} is in the corpus (USHER_UPDATE_FIXTURES=1 writes it)`);
    assert.ok(stored.bytes.equals(s.bytes), `${name}.bin is the packet described here`);
    assert.deepEqual(stored.fixture, plain(judged), `${name}.json says what the codec does`);
  }
});

const corpus = loadCorpus();
test('the corpus has real captures from both fronts and every kind of malformed packet', () => {
  const names = corpus.map((c) => c.name);
  assert.ok(names.filter((n) => n.startsWith('nginx-')).length >= 4, 'nginx captures');
  assert.ok(names.filter((n) => n.startsWith('apache-')).length >= 4, 'apache captures');
  for (const code of ['USHER_ERR_UWSGI_TRUNCATED', 'USHER_ERR_UWSGI_MALFORMED', 'USHER_ERR_UWSGI_TOO_LARGE', 'USHER_ERR_UWSGI_UNSUPPORTED']) {
    assert.ok(corpus.some((c) => c.fixture.error?.code === code), `a fixture for ${code}`);
  }
});

for (const { name, bytes, fixture } of corpus) {
  test(`corpus ${name}: whole, byte by byte, and in random chunks`, () => {
    const ways: [string, () => number][] = [['whole', () => bytes.length], ['byte by byte', () => 1]];
    for (const seed of [1, 2, 3, 4]) {
      const r = prng(seed * 7919 + bytes.length);
      ways.push([`random chunks (seed ${seed})`, () => 1 + Math.floor(r() * 64)]);
    }
    for (const [way, sizes] of ways) {
      const r = replay(bytes, fixture, sizes);
      const why = `${name} ${way}: ${fixture.why}`;
      if ('error' in r) {
        assert.ok(fixture.error && fixture.error.at !== 'cgi', `${why}: unexpected ${r.error.code}: ${r.error.message}`);
        assert.equal(r.error.code, fixture.error.code, why);
        assert.equal(r.error.status, fixture.error.status, why);
        if (r.error.code === 'USHER_ERR_UWSGI_TOO_LARGE') assert.match(r.error.message, /raise `buffer-size`/, 'says what to do');
        continue;
      }
      assert.equal(r.packet.modifier1, fixture.modifier1 ?? r.packet.modifier1, why);
      if (fixture.error) {
        assert.equal(fixture.error.at, 'cgi', `${why}: expected ${fixture.error.code} from the parser`);
        assert.throws(() => cgiToRequest(r.packet.vars, r.packet.modifier1), (e: unknown) => e instanceof UwsgiProtocolError && e.code === fixture.error!.code && e.status === fixture.error!.status, why);
        continue;
      }
      assert.equal(r.packet.modifier2, fixture.modifier2, why);
      assert.deepEqual(plain(cgiToRequest(r.packet.vars, r.packet.modifier1)), fixture.expect, why);
      assert.equal(r.body.toString('latin1'), fixture.body, why);
      assert.ok(!(fixture.expect?.rawHeaders ?? []).some((h) => /^uwsgi/i.test(h)), `${why}: no UWSGI_* var is a header`);
    }
  });
}
