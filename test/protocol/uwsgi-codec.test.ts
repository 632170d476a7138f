// The uwsgi wire codec on its own: encode -> decode round trips (any vars, any chunking), the header
// checks that refuse a packet before its vars are buffered, the modifier1 table, repeated keys, the
// vars cap, the parser's life cycle, and fuzzing that may only ever raise UwsgiProtocolError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UwsgiRequestParser, decodePacket, encodePacket, REQUEST_MODIFIERS, type UwsgiPacket } from '../../src/protocol/index.js';
import { UwsgiProtocolError, type UsherErrorCode } from '../../src/errors.js';
import { loadCorpus, prng } from '../helpers/corpus.js';

const OPTS = { bufferSize: 4096 };
const isCode = (code: UsherErrorCode, status?: number) => (e: unknown): boolean =>
  e instanceof UwsgiProtocolError && e.code === code && (status === undefined || e.status === status);

function bytesOf(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(r() * 256));
  return s;
}

function pushInChunks(p: UwsgiRequestParser, buf: Buffer, r: () => number): { packet: UwsgiPacket; after: Buffer } | undefined {
  for (let off = 0; off < buf.length;) {
    const n = 1 + Math.floor(r() * 40);
    const got = p.push(buf.subarray(off, off + n));
    off += n;
    if (got) return { packet: got, after: buf.subarray(Math.min(off, buf.length)) };
  }
  return undefined;
}

test('encode -> decode keeps every var (any bytes), the modifiers and the body, whole and in random chunks', () => {
  const r = prng(42);
  const modifiers = [...REQUEST_MODIFIERS];
  for (let n = 0; n < 300; n++) {
    const vars = new Map<string, string>([['REQUEST_METHOD', 'GET']]);
    const count = Math.floor(r() * 30);
    for (let i = 0; i < count; i++) vars.set(`K${i}_${bytesOf(r, Math.floor(r() * 12))}`, bytesOf(r, Math.floor(r() * 200)));
    const m1 = modifiers[n % modifiers.length]!;
    const m2 = Math.floor(r() * 256);
    const head = encodePacket(vars, m1, m2);
    const body = Buffer.from(bytesOf(r, Math.floor(r() * 100)), 'latin1');
    const wire = Buffer.concat([head, body]);

    const whole = decodePacket(wire, { bufferSize: 65535 });
    assert.deepEqual([...whole.vars], [...vars], 'same vars, same order');
    assert.equal(whole.modifier1, m1);
    assert.equal(whole.modifier2, m2);
    assert.ok(whole.rest.equals(body), 'rest is the body');

    const chunked = pushInChunks(new UwsgiRequestParser({ bufferSize: 65535 }), wire, r);
    assert.ok(chunked);
    assert.deepEqual([...chunked.packet.vars], [...vars]);
    assert.ok(Buffer.concat([chunked.packet.rest, chunked.after]).equals(body));
  }
});

test('encode: one buffer of exactly the packet size; 65535 bytes of vars is the limit', () => {
  const vars: [string, string][] = [['REQUEST_METHOD', 'GET'], ['EMPTY', ''], ['Ü', 'ÿ\u0000']];
  const buf = encodePacket(vars, 30, 3);
  assert.equal(buf.length, 4 + vars.reduce((n, [k, v]) => n + 4 + k.length + v.length, 0));
  assert.deepEqual([...buf.subarray(0, 4)], [30, buf.length - 4, 0, 3]);
  assert.deepEqual([...decodePacket(buf, OPTS).vars], vars);

  const exact = encodePacket([['REQUEST_METHOD', 'GET'], ['HTTP_X', 'x'.repeat(65535 - 4 - 14 - 3 - 4 - 6)]]);
  assert.equal(exact.length, 4 + 65535);
  assert.equal(decodePacket(exact, { bufferSize: 65535 }).vars.get('HTTP_X')?.length, 65535 - 31);
  assert.throws(() => encodePacket([['REQUEST_METHOD', 'GET'], ['HTTP_X', 'x'.repeat(65535 - 30)]]), isCode('USHER_ERR_UWSGI_TOO_LARGE', 413));
  assert.throws(() => encodePacket([['HTTP_X', 'x'.repeat(70000)]]), isCode('USHER_ERR_UWSGI_TOO_LARGE', 413));
  assert.throws(() => encodePacket([['REQUEST_METHOD', 'GET']], 256), RangeError);
});

test('the common case, a whole head in one chunk, is parsed in place: rest is a view of that chunk', () => {
  const chunk = Buffer.concat([encodePacket([['REQUEST_METHOD', 'POST'], ['CONTENT_LENGTH', '4']]), Buffer.from('body')]);
  const p = new UwsgiRequestParser(OPTS).push(chunk);
  assert.ok(p);
  assert.equal(p.rest.buffer, chunk.buffer, 'no copy');
  assert.equal(p.rest.byteOffset, chunk.byteOffset + chunk.length - 4);
  assert.equal(p.rest.toString(), 'body');
});

test('the header is judged as soon as its 4 bytes are in: an oversized packet is refused before its vars arrive', () => {
  const p = new UwsgiRequestParser(OPTS);
  assert.equal(p.push(Buffer.from([0, 5000 & 0xff])), undefined);
  assert.throws(() => p.push(Buffer.from([5000 >> 8, 0])), (e: unknown) => {
    assert.ok(isCode('USHER_ERR_UWSGI_TOO_LARGE', 413)(e));
    const m = (e as Error).message;
    assert.match(m, /5000/, 'names the datasize');
    assert.match(m, /4096/, 'names the limit');
    assert.match(m, /raise `buffer-size`/, 'says what to do');
    return true;
  });
  assert.throws(() => p.push(Buffer.alloc(10)), /after the packet failed/, 'a failed parser is not fed again');
  assert.doesNotThrow(() => p.end(), 'the error was already reported');
});

test('modifier1: 0 and 30 are served; every other value, other languages\' requests (5-9, 14, 15) included, is refused as unsupported', () => {
  for (let m1 = 0; m1 < 256; m1++) {
    const buf = encodePacket([['REQUEST_METHOD', 'GET']], m1);
    if (m1 === 0 || m1 === 30) {
      assert.equal(decodePacket(buf, OPTS).modifier1, m1);
    } else {
      assert.throws(() => decodePacket(buf, OPTS), isCode('USHER_ERR_UWSGI_UNSUPPORTED', 400), `modifier1 ${m1}`);
    }
  }
  // Refused from the header alone: a ping (100) carries no vars at all.
  assert.throws(() => new UwsgiRequestParser(OPTS).push(Buffer.from([100, 0, 0, 0])), isCode('USHER_ERR_UWSGI_UNSUPPORTED'));
});

test('a key sent twice: HTTP_* values are joined as HTTP joins them; any other key, the last wins', () => {
  const p = decodePacket(encodePacket([
    ['REQUEST_METHOD', 'GET'], ['HTTP_X_DUP', 'one'], ['HTTP_COOKIE', 'a=1'], ['SERVER_NAME', 'first'],
    ['HTTP_X_DUP', 'two'], ['HTTP_COOKIE', 'b=2'], ['SERVER_NAME', 'second'], ['HTTP_X_DUP', ''],
  ]), OPTS);
  assert.deepEqual([...p.vars], [['REQUEST_METHOD', 'GET'], ['HTTP_X_DUP', 'one, two, '], ['HTTP_COOKIE', 'a=1; b=2'], ['SERVER_NAME', 'second']]);
});

test('the vars cap: maxVars vars are fine, one more is malformed (repeats count)', () => {
  const vars = (n: number): [string, string][] => [['REQUEST_METHOD', 'GET'], ...Array.from({ length: n - 1 }, (_, i): [string, string] => [`V${i}`, ''])];
  assert.equal(decodePacket(encodePacket(vars(256)), OPTS).vars.size, 256);
  assert.throws(() => decodePacket(encodePacket(vars(257)), OPTS), isCode('USHER_ERR_UWSGI_MALFORMED', 400));
  assert.equal(decodePacket(encodePacket(vars(10)), { bufferSize: 4096, maxVars: 10 }).vars.size, 10);
  assert.throws(() => decodePacket(encodePacket([...vars(5), ...vars(6)]), { bufferSize: 4096, maxVars: 10 }), isCode('USHER_ERR_UWSGI_MALFORMED'));
});

test('life cycle: end() with nothing pending is quiet; mid-packet it reports truncation; a finished parser is not fed again', () => {
  const good = encodePacket([['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/']]);
  assert.doesNotThrow(() => new UwsgiRequestParser(OPTS).end());
  const empty = new UwsgiRequestParser(OPTS);
  assert.equal(empty.push(Buffer.alloc(0)), undefined);
  assert.doesNotThrow(() => empty.end(), 'an empty chunk is nothing pending');
  for (const cut of [1, 3, 4, 5, good.length - 1]) {
    const p = new UwsgiRequestParser(OPTS);
    assert.equal(p.push(good.subarray(0, cut)), undefined);
    assert.throws(() => p.end(), isCode('USHER_ERR_UWSGI_TRUNCATED'), `cut at ${cut}`);
  }
  assert.throws(() => decodePacket(Buffer.alloc(0), OPTS), isCode('USHER_ERR_UWSGI_TRUNCATED'));
  const done = new UwsgiRequestParser(OPTS);
  assert.ok(done.push(good));
  assert.doesNotThrow(() => done.end());
  assert.throws(() => done.push(good), /after the packet was complete/);
  assert.throws(() => new UwsgiRequestParser({ bufferSize: 0 }), RangeError);
});

test('fuzz: random bytes and mutated real packets, in random chunks, only ever raise UwsgiProtocolError', () => {
  const r = prng(7);
  const real = loadCorpus().filter((c) => !c.name.startsWith('synthetic-')).map((c) => c.bytes);
  assert.ok(real.length > 0);
  let packets = 0;
  for (let i = 0; i < 4000; i++) {
    let buf: Buffer;
    if (i % 2 === 0) {
      buf = Buffer.from(bytesOf(r, 1 + Math.floor(r() * 600)), 'latin1');
      if (i % 4 === 0) buf[0] = 0; // past the modifier1 check, into the vars
    } else {
      buf = Buffer.from(real[i % real.length]!);
      for (let k = 0; k < 1 + Math.floor(r() * 4); k++) buf[Math.floor(r() * buf.length)] = Math.floor(r() * 256);
    }
    const p = new UwsgiRequestParser({ bufferSize: 4096, maxVars: 64 });
    try {
      if (pushInChunks(p, buf, r)) packets++;
      else p.end();
    } catch (e) {
      assert.ok(e instanceof UwsgiProtocolError, `only protocol errors, got ${String(e)}`);
      assert.ok(e.status === 400 || e.status === 413);
    }
  }
  assert.ok(packets > 0, 'some mutations still parse (a flipped value byte), and do so without error');
});
