// CGI vars <-> request: what cgiToRequest makes of the vars Nginx/Apache send (url, version, headers,
// length, scheme, SCRIPT_NAME/PATH_INFO), what requestToCgi sends for usher's router (checked against
// what real Nginx sent for the same HTTP request), and the round trip through the wire codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgiToRequest, decodePacket, encodePacket, percentDecode, requestToCgi, type RouterRequestInfo } from '../../src/protocol/index.js';
import { UwsgiProtocolError } from '../../src/errors.js';
import { loadCorpus, prng } from '../helpers/corpus.js';

const vars = (...pairs: [string, string][]): Map<string, string> => new Map([['REQUEST_METHOD', 'GET'], ...pairs]);
const malformed = (e: unknown): boolean => e instanceof UwsgiProtocolError && e.code === 'USHER_ERR_UWSGI_MALFORMED' && e.status === 400;

test('url: REQUEST_URI as sent; without it, SCRIPT_NAME + PATH_INFO re-encoded + ?QUERY_STRING', () => {
  assert.equal(cgiToRequest(vars(['REQUEST_URI', '/a%20b?x=%C3%A9'], ['PATH_INFO', '/a b'])).url, '/a%20b?x=%C3%A9');
  assert.equal(cgiToRequest(vars(['SCRIPT_NAME', '/app'], ['PATH_INFO', '/caf\u00c3\u00a9 100%'], ['QUERY_STRING', 'q=1'])).url, '/app/caf%C3%A9%20100%25?q=1');
  assert.equal(cgiToRequest(vars(['PATH_INFO', '/what?#'])).url, '/what%3F%23');
  assert.equal(cgiToRequest(vars()).url, '/');
  assert.equal(cgiToRequest(vars(['QUERY_STRING', 'a=b'])).url, '/?a=b');
});

test('PATH_INFO: as sent; derived from REQUEST_URI when absent; modifier1 30 strips SCRIPT_NAME from it', () => {
  assert.equal(cgiToRequest(vars(['REQUEST_URI', '/x%2Fy/caf%C3%A9?q'])).pathInfo, '/x/y/caf\u00c3\u00a9');
  assert.equal(cgiToRequest(vars(['REQUEST_URI', '/app/x?q'], ['SCRIPT_NAME', '/app'])).pathInfo, '/x');
  const mounted = vars(['REQUEST_URI', '/app/x'], ['SCRIPT_NAME', '/app'], ['PATH_INFO', '/app/x']);
  assert.equal(cgiToRequest(mounted, 30).pathInfo, '/x');
  assert.equal(cgiToRequest(mounted, 30).scriptName, '/app');
  assert.equal(cgiToRequest(mounted, 0).pathInfo, '/app/x', 'only modifier1 30 asks for it');
  assert.equal(cgiToRequest(vars(['SCRIPT_NAME', '/app'], ['PATH_INFO', '/other']), 30).pathInfo, '/other');
});

test('httpVersion from SERVER_PROTOCOL, 1.0 when absent or unreadable', () => {
  const v = (p?: string): string => cgiToRequest(p === undefined ? vars() : vars(['SERVER_PROTOCOL', p])).httpVersion;
  assert.equal(v('HTTP/1.1'), '1.1');
  assert.equal(v('HTTP/1.0'), '1.0');
  assert.equal(v('HTTP/2.0'), '2.0');
  assert.equal(v('HTTP/2'), '2.0');
  assert.equal(v(), '1.0');
  assert.equal(v('SPDY/3'), '1.0');
});

test('contentLength: 0 when absent or empty; a non-negative integer or the request is refused (400)', () => {
  const len = (v: string): number => cgiToRequest(vars(['CONTENT_LENGTH', v])).contentLength;
  assert.equal(cgiToRequest(vars()).contentLength, 0);
  assert.equal(len(''), 0);
  assert.equal(len('21'), 21);
  assert.equal(len('0007'), 7);
  for (const bad of ['-5', '1e3', ' 5', '5 ', '0x10', '4.5', 'abc', '99999999999999999999']) {
    assert.throws(() => len(bad), malformed, JSON.stringify(bad));
  }
});

test('REQUEST_METHOD: required, and an HTTP token', () => {
  assert.throws(() => cgiToRequest(new Map([['REQUEST_URI', '/']])), malformed);
  for (const bad of ['', 'G E T', 'GET\r\n', 'GÉT']) assert.throws(() => cgiToRequest(new Map([['REQUEST_METHOD', bad]])), malformed, JSON.stringify(bad));
  assert.equal(cgiToRequest(new Map([['REQUEST_METHOD', 'PROPFIND']])).method, 'PROPFIND');
});

test('scheme: https from HTTPS=on|1, REQUEST_SCHEME=https or UWSGI_SCHEME=https; http otherwise', () => {
  const s = (...p: [string, string][]): string => cgiToRequest(vars(...p)).scheme;
  assert.equal(s(['HTTPS', 'on']), 'https');
  assert.equal(s(['HTTPS', 'ON']), 'https');
  assert.equal(s(['HTTPS', '1']), 'https');
  assert.equal(s(['REQUEST_SCHEME', 'https']), 'https');
  assert.equal(s(['UWSGI_SCHEME', 'https']), 'https');
  assert.equal(s(['HTTPS', 'off'], ['REQUEST_SCHEME', 'http']), 'http');
  assert.equal(s(['HTTPS', '']), 'http');
  assert.equal(s(), 'http');
});

test('addresses and ports: read when well formed, undefined otherwise', () => {
  const r = cgiToRequest(vars(['REMOTE_ADDR', '203.0.113.7'], ['REMOTE_PORT', '51234'], ['SERVER_NAME', 'guestbook.local'], ['SERVER_PORT', '80']));
  assert.deepEqual([r.remoteAddress, r.remotePort, r.serverName, r.serverPort], ['203.0.113.7', 51234, 'guestbook.local', 80]);
  const e = cgiToRequest(vars(['REMOTE_ADDR', ''], ['REMOTE_PORT', 'x'], ['SERVER_NAME', ''], ['SERVER_PORT', '70000']));
  assert.deepEqual([e.remoteAddress, e.remotePort, e.serverName, e.serverPort], [undefined, undefined, undefined, undefined]);
});

test('headers: HTTP_* in order with node-style names; CONTENT_* once; no UWSGI_*, no Transfer-Encoding', () => {
  const r = cgiToRequest(new Map([
    ['HTTP_HOST', 'example.org'], ['REQUEST_METHOD', 'POST'], ['CONTENT_TYPE', 'text/plain'], ['HTTP_X_FORWARDED_FOR', '1.2.3.4'],
    ['CONTENT_LENGTH', '5'], ['HTTP_CONTENT_TYPE', 'text/plain'], ['HTTP_CONTENT_LENGTH', '5'], ['HTTP_TRANSFER_ENCODING', 'chunked'],
    ['UWSGI_SCRIPT', 'evil'], ['UWSGI_FILE', '/etc/passwd'], ['HTTP_', 'nameless'], ['HTTP_X__ODD', 'v'], ['HTTP_DNT', '1'],
  ]));
  assert.deepEqual(r.rawHeaders, ['Host', 'example.org', 'Content-Type', 'text/plain', 'X-Forwarded-For', '1.2.3.4', 'Content-Length', '5', 'X--Odd', 'v', 'Dnt', '1']);
  // A front that sends only the HTTP_ copy of Content-Type (no uwsgi_params line for it) still gets one.
  assert.deepEqual(cgiToRequest(vars(['CONTENT_TYPE', ''], ['HTTP_CONTENT_TYPE', 'a/b'])).rawHeaders, ['Content-Type', 'a/b']);
  // Content-Length only ever comes from CONTENT_LENGTH, which frames the body.
  assert.deepEqual(cgiToRequest(vars(['HTTP_CONTENT_LENGTH', '99'])).rawHeaders, []);
});

test('percentDecode: %XX to its byte, invalid escapes kept as they were', () => {
  assert.equal(percentDecode('/a%20b%2Fc'), '/a b/c');
  assert.equal(percentDecode('/caf%C3%A9'), '/caf\u00c3\u00a9', 'UTF-8 bytes, one char each');
  assert.equal(percentDecode('/%FF%fe'), '/\u00ff\u00fe', 'not UTF-8 at all, still decoded');
  assert.equal(percentDecode('/100%/%zz/%4/%'), '/100%/%zz/%4/%');
  assert.equal(percentDecode('/%2541'), '/%41', 'decoded once only');
});

const info = (over: Partial<RouterRequestInfo> = {}): RouterRequestInfo => ({
  method: 'GET', url: '/', httpVersion: '1.1', rawHeaders: ['Host', 'example.org'], remoteAddress: '127.0.0.1', remotePort: 50000, localAddress: '127.0.0.1', localPort: 8000, scheme: 'http', ...over,
});

test('requestToCgi: what Nginx uwsgi_params sends, in its order', () => {
  const v = requestToCgi(info({
    method: 'POST', url: '/a%20b/%2F/%zz?x=%C3%A9&y', scheme: 'https',
    rawHeaders: ['Host', 'Example.ORG:8443', 'Content-Type', 'text/plain', 'Content-Length', '5', 'X-Dup', '1', 'cookie', 'a=1', 'X-Dup', '2', 'Cookie', 'b=2',
      'X_Forwarded_For', '6.6.6.6', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Proxy', 'http://evil'],
  }));
  assert.deepEqual(v, [
    ['QUERY_STRING', 'x=%C3%A9&y'], ['REQUEST_METHOD', 'POST'], ['CONTENT_TYPE', 'text/plain'], ['CONTENT_LENGTH', '5'],
    ['REQUEST_URI', '/a%20b/%2F/%zz?x=%C3%A9&y'], ['PATH_INFO', '/a b///%zz'], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['REQUEST_SCHEME', 'https'], ['HTTPS', 'on'],
    ['REMOTE_ADDR', '127.0.0.1'], ['REMOTE_PORT', '50000'], ['SERVER_PORT', '8000'], ['SERVER_NAME', 'example.org'], ['SCRIPT_NAME', ''],
    ['HTTP_HOST', 'Example.ORG:8443'], ['HTTP_X_DUP', '1, 2'], ['HTTP_COOKIE', 'a=1; b=2'],
  ]);
  const names = (r: RouterRequestInfo): string | undefined => requestToCgi(r).find(([k]) => k === 'SERVER_NAME')?.[1];
  assert.equal(names(info({ rawHeaders: ['Host', '[::1]:8080'] })), '[::1]');
  assert.equal(names(info({ rawHeaders: [], localAddress: '10.0.0.2' })), '10.0.0.2');
  assert.ok(!requestToCgi(info()).some(([k]) => k === 'HTTPS'), 'HTTPS only for https');
});

test('requestToCgi matches what real Nginx sent for the same HTTP requests', () => {
  // Nginx's SERVER_NAME is its server_name and its HTTP_HOST is $host; DOCUMENT_ROOT and ports are its
  // own. It also forwards the client's hop-by-hop Connection, which the router keeps to itself.
  const SAME = /^(QUERY_STRING|REQUEST_METHOD|CONTENT_TYPE|CONTENT_LENGTH|REQUEST_URI|PATH_INFO|SERVER_PROTOCOL|REQUEST_SCHEME|REMOTE_ADDR|HTTP_(?!HOST$|CONTENT_TYPE$|CONTENT_LENGTH$|TRANSFER_ENCODING$|CONNECTION$).*)$/;
  const compared: string[] = [];
  for (const c of loadCorpus()) {
    if (!['nginx-get-query', 'nginx-post-form', 'nginx-dup-headers', 'nginx-head-http10'].includes(c.name)) continue;
    const req = c.fixture.request!;
    const [head = '', ...rest] = req.split('\r\n\r\n')[0]!.split('\r\n');
    const [method = '', url = '', proto = ''] = head.split(' ');
    const rawHeaders = rest.flatMap((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
    const ours = requestToCgi({ method, url, httpVersion: proto.slice(5), rawHeaders, remoteAddress: '127.0.0.1', scheme: 'http' }).filter(([k]) => SAME.test(k));
    const theirs = [...decodePacket(c.bytes, { bufferSize: 4096 }).vars].filter(([k]) => SAME.test(k));
    assert.deepEqual(ours.sort(), theirs.sort(), c.name);
    compared.push(c.name);
  }
  assert.equal(compared.length, 4, 'all four captures were compared');
});

test('round trip: requestToCgi -> encode -> decode -> cgiToRequest gives back method, url and headers', () => {
  const r = prng(99);
  const NAMES = ['Accept', 'User-Agent', 'X-Custom', 'Cookie', 'Authorization', 'X-Forwarded-For', 'Content-Type', 'Content-Length', 'If-None-Match', 'X_Under', 'Connection'];
  const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
  const visible = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(0x21 + Math.floor(r() * 94))).join('');
  for (let i = 0; i < 300; i++) {
    const rawHeaders: string[] = ['Host', `h${i}.example:${1000 + i}`];
    const n = Math.floor(r() * 8);
    for (let k = 0; k < n; k++) rawHeaders.push(NAMES[Math.floor(r() * NAMES.length)]!, visible(1 + Math.floor(r() * 20)));
    const url = `/${encodeURIComponent(visible(Math.floor(r() * 10)))}/${i}${r() < 0.5 ? `?q=${encodeURIComponent(visible(5))}` : ''}`;
    const method = METHODS[i % METHODS.length]!;
    const length = rawHeaders.filter((_, j) => j % 2 === 0 && rawHeaders[j]!.toLowerCase() === 'content-length');
    if (length.length > 0) continue; // a random Content-Length value would not be a length
    const sent = { method, url, httpVersion: '1.1', rawHeaders, remoteAddress: '198.51.100.4', remotePort: 40000 + i, localPort: 8000, scheme: i % 2 ? 'https' : 'http' } as const;
    const got = cgiToRequest(decodePacket(encodePacket(requestToCgi(sent)), { bufferSize: 65535 }).vars);
    assert.equal(got.method, method);
    assert.equal(got.url, url);
    assert.equal(got.scheme, sent.scheme);
    assert.equal(got.remotePort, sent.remotePort);
    // What node would make of both header lists: lowercased names, repeats joined, hop-by-hop and `_` names dropped.
    const fold = (raw: readonly string[]): Record<string, string> => {
      const out: Record<string, string> = {};
      for (let j = 0; j + 1 < raw.length; j += 2) {
        const name = raw[j]!.toLowerCase();
        if (name.includes('_') || name === 'connection') continue;
        out[name] = name in out ? `${out[name]}${name === 'cookie' ? '; ' : ', '}${raw[j + 1]}` : raw[j + 1]!;
      }
      return out;
    };
    const want = fold(rawHeaders);
    if (want['content-type'] !== undefined) want['content-type'] = rawHeaders[rawHeaders.map((h) => h.toLowerCase()).indexOf('content-type') + 1]!;
    assert.deepEqual(fold(got.rawHeaders), want, `request ${i}`);
  }
});
