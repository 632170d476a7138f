// The uwsgi codec against real packets from Nginx and Apache (replayed whole, byte by byte, and in
// random chunks), round trips, and every kind of malformed input with its error code and status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UwsgiRequestParser, decodePacket, encodePacket, cgiToRequest, requestToCgi, type UwsgiPacket } from '../../src/protocol/index.js';
import { UwsgiProtocolError } from '../../src/errors.js';
import { REPO } from '../helpers/usher.js';

const FIX = join(REPO, 'test', 'fixtures', 'uwsgi');
const OPTS = { bufferSize: 4096 };

function feed(buf: Buffer, sizes: () => number): UwsgiPacket {
  const p = new UwsgiRequestParser(OPTS);
  let off = 0;
  while (off < buf.length) {
    const n = Math.min(sizes(), buf.length - off);
    const got = p.push(buf.subarray(off, off + n));
    off += n;
    if (got) return { ...got, rest: Buffer.concat([got.rest, buf.subarray(off)]) };
  }
  throw new Error('packet never completed');
}

const EXPECT: Record<string, { method: string; url: string; header: [string, string]; length: number; body: string; scheme: string }> = {
  'nginx-get-query': { method: 'GET', url: '/path/with%20space?x=1&y=%C3%A9', header: ['X-Custom-Header', 'custom value'], length: 0, body: '', scheme: 'http' },
  'apache-get-query': { method: 'GET', url: '/path/with%20space?x=1&y=%C3%A9', header: ['X-Custom-Header', 'custom value'], length: 0, body: '', scheme: 'http' },
  'nginx-post-form': { method: 'POST', url: '/submit', header: ['Content-Type', 'application/x-www-form-urlencoded'], length: 21, body: 'name=Ana&message=hola', scheme: 'http' },
  'apache-post-form': { method: 'POST', url: '/submit', header: ['Content-Type', 'application/x-www-form-urlencoded'], length: 21, body: 'name=Ana&message=hola', scheme: 'http' },
};

for (const [name, want] of Object.entries(EXPECT)) {
  test(`real packet ${name}: whole, byte by byte, and in random chunks`, () => {
    const buf = readFileSync(join(FIX, `${name}.bin`));
    const ways: [string, () => number][] = [['whole', () => buf.length], ['byte by byte', () => 1], ['random chunks', () => 1 + Math.floor(Math.random() * 97)]];
    for (const [way, sizes] of ways) {
      const packet = feed(buf, sizes);
      const r = cgiToRequest(packet.vars);
      assert.equal(r.method, want.method, way);
      assert.equal(r.url, want.url, way);
      const i = r.rawHeaders.indexOf(want.header[0]);
      assert.ok(i >= 0 && r.rawHeaders[i + 1] === want.header[1], `${way}: ${want.header[0]}`);
      assert.equal(r.contentLength, want.length);
      assert.equal(packet.rest.toString(), want.body, way);
      assert.equal(r.scheme, want.scheme);
      assert.equal(r.remoteAddress, '127.0.0.1');
      assert.equal(r.rawHeaders.filter((h) => h.toLowerCase() === 'content-type').length, want.length > 0 ? 1 : 0, 'no duplicate Content-Type');
    }
  });
}

test('encode -> decode round trip keeps every var, in order', () => {
  for (let n = 0; n < 200; n++) {
    const vars: [string, string][] = [['REQUEST_METHOD', 'GET']];
    for (let i = 0; i < 1 + (n % 20); i++) vars.push([`HTTP_X_${i}`, randomBytes(n % 50).toString('latin1')]);
    const p = decodePacket(encodePacket(vars), { bufferSize: 65535 });
    assert.deepEqual([...p.vars], vars);
  }
});

test('router side: requestToCgi -> encode -> decode -> cgiToRequest gives back method, url, headers', () => {
  const raw = ['Host', 'example.org:8080', 'X-Forwarded-For', '1.2.3.4', 'Content-Type', 'text/plain', 'Content-Length', '5', 'X_Spoofed', 'no'];
  const vars = requestToCgi({ method: 'PUT', url: '/a%20b?c=d', httpVersion: '1.1', rawHeaders: raw, remoteAddress: '10.0.0.1', remotePort: 5555, localPort: 8080, scheme: 'https' });
  const r = cgiToRequest(decodePacket(encodePacket(vars), OPTS).vars);
  assert.equal(r.method, 'PUT');
  assert.equal(r.url, '/a%20b?c=d');
  assert.equal(r.pathInfo, '/a b');
  assert.equal(r.queryString, 'c=d');
  assert.equal(r.contentLength, 5);
  assert.equal(r.scheme, 'https');
  assert.equal(r.serverName, 'example.org');
  assert.equal(r.remoteAddress, '10.0.0.1');
  assert.ok(r.rawHeaders.includes('X-Forwarded-For'));
  assert.ok(!r.rawHeaders.some((h) => /spoofed/i.test(h)), 'headers with underscores are dropped, as Nginx does');
});

test('UWSGI_* magic vars are never exposed as headers or acted on', () => {
  const r = cgiToRequest(new Map([['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/'], ['UWSGI_SCRIPT', 'evil'], ['UWSGI_FILE', '/etc/passwd'], ['UWSGI_CHDIR', '/']]));
  assert.ok(!r.rawHeaders.some((h) => /uwsgi/i.test(h)));
});

const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const head = (size: number, m1 = 0): Buffer => Buffer.from([m1, size & 0xff, size >> 8, 0]);

test('malformed packets: each fails with its code and status', () => {
  const cases: [string, Buffer, string, number | undefined][] = [
    ['0-length vars block', head(0), 'USHER_ERR_UWSGI_MALFORMED', 400],
    ['key length past the block', Buffer.concat([head(6), u16(200), Buffer.from('ABCD')]), 'USHER_ERR_UWSGI_MALFORMED', 400],
    ['value length past the block', Buffer.concat([head(8), u16(1), Buffer.from('A'), u16(300), Buffer.from('BBB')]), 'USHER_ERR_UWSGI_MALFORMED', 400],
    ['vars over buffer-size', Buffer.concat([head(5000), Buffer.alloc(5000)]), 'USHER_ERR_UWSGI_TOO_LARGE', 413],
    ['a non-request modifier1 (100, ping)', Buffer.concat([head(4, 100), Buffer.alloc(4)]), 'USHER_ERR_UWSGI_UNSUPPORTED', 400],
  ];
  for (const [name, bytes, code, status] of cases) {
    assert.throws(() => decodePacket(bytes, OPTS), (e: unknown) => e instanceof UwsgiProtocolError && e.code === code && e.status === status, name);
  }
  const tooLarge = (() => { try { decodePacket(Buffer.concat([head(5000), Buffer.alloc(5000)]), OPTS); } catch (e) { return (e as Error).message; } return ''; })();
  assert.match(tooLarge, /buffer-size/, 'says which setting to raise');
});

test('truncated packets: end() reports them; garbage never crashes the parser', () => {
  const good = encodePacket([['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/']]);
  for (const cut of [1, 3, 4, 10, good.length - 1]) {
    const p = new UwsgiRequestParser(OPTS);
    assert.equal(p.push(good.subarray(0, cut)), undefined);
    assert.throws(() => p.end(), (e: unknown) => e instanceof UwsgiProtocolError && e.code === 'USHER_ERR_UWSGI_TRUNCATED');
  }
  for (let i = 0; i < 2000; i++) {
    const p = new UwsgiRequestParser(OPTS);
    try {
      p.push(randomBytes(1 + (i % 300)));
      p.end();
    } catch (e) {
      assert.ok(e instanceof UwsgiProtocolError, `only protocol errors, got ${String(e)}`);
    }
  }
});

test('cgiToRequest refuses requests without a method or with a bad length', () => {
  assert.throws(() => cgiToRequest(new Map([['REQUEST_URI', '/']])), (e: unknown) => e instanceof UwsgiProtocolError && e.status === 400);
  assert.throws(() => cgiToRequest(new Map([['REQUEST_METHOD', 'GET'], ['CONTENT_LENGTH', '-5']])), (e: unknown) => e instanceof UwsgiProtocolError);
  assert.throws(() => cgiToRequest(new Map([['REQUEST_METHOD', 'G E T']])), (e: unknown) => e instanceof UwsgiProtocolError);
});
