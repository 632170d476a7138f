/**
 * protocol/cgi: the CGI vars of a uwsgi packet <-> the request an app sees. Reads what Nginx's
 * uwsgi_params and Apache's mod_proxy_uwsgi send (test/fixtures/uwsgi holds real captures), and builds
 * the same vars, as Nginx would, for usher's own HTTP router.
 * Must not: touch sockets or bodies, or act on `UWSGI_*` magic vars (UWSGI_SCRIPT, UWSGI_FILE,
 * UWSGI_MODULE, UWSGI_CHDIR, UWSGI_SETENV, ...): request data never chooses what code runs, and those
 * are never exposed as headers. The only one read is UWSGI_SCHEME, as a synonym of REQUEST_SCHEME.
 *
 * Strings are byte strings (latin1, one char per byte) on both sides, as protocol/uwsgi makes them and
 * as node's HTTP parser gives req.url and header values.
 */
import { UwsgiProtocolError } from '../errors.js';

export interface CgiRequest {
  readonly method: string;
  /** path?query as the client sent it: REQUEST_URI, else SCRIPT_NAME + PATH_INFO (re-encoded) + ?QUERY_STRING. */
  readonly url: string;
  /** '1.1' from SERVER_PROTOCOL HTTP/1.1; '1.0' when absent or not HTTP/x[.y]. */
  readonly httpVersion: string;
  /** Flat [name, value, ...] as node's IncomingMessage.rawHeaders, in the order the vars came. */
  readonly rawHeaders: string[];
  /** CONTENT_LENGTH; 0 when absent or empty. */
  readonly contentLength: number;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly scheme: 'http' | 'https';
  readonly serverName: string | undefined;
  readonly serverPort: number | undefined;
  readonly scriptName: string;
  /** Percent-decoded, as the proxy sent it (with modifier1 30, SCRIPT_NAME is removed from its front). */
  readonly pathInfo: string;
  readonly queryString: string;
}

/** What the HTTP router knows of a parsed node:http request. */
export interface RouterRequestInfo {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly rawHeaders: readonly string[];
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly scheme: 'http' | 'https';
}

/** uWSGI's UWSGI_MODIFIER_MANAGE_PATH_INFO: PATH_INFO arrives with SCRIPT_NAME in front of it. */
const MODIFIER1_MANAGE_PATH_INFO = 30;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DIGITS = /^[0-9]+$/;
const HTTP_VERSION = /^HTTP\/(\d)(?:\.(\d))?$/;
/** Path characters that need no escaping in a request target (RFC 3986 pchar and '/'). */
const PATH_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
/** Names computed once per distinct key; bounded so hostile keys cannot grow it without end. */
const NAME_CACHE_MAX = 1024;
const headerNames = new Map<string, string>();
const cgiKeys = new Map<string, string | null>();

/** HTTP_X_FORWARDED_FOR -> X-Forwarded-For (Node keeps the sender's case; CGI lost it; title case reads best). */
function headerName(cgiKey: string): string {
  let name = headerNames.get(cgiKey);
  if (name === undefined) {
    name = cgiKey.slice(5).toLowerCase().replace(/(^|_)([a-z0-9]?)/g, (_m, sep: string, c: string) => (sep === '' ? '' : '-') + c.toUpperCase());
    if (headerNames.size < NAME_CACHE_MAX) headerNames.set(cgiKey, name);
  }
  return name;
}

function toPort(v: string | undefined): number | undefined {
  if (v === undefined || !DIGITS.test(v)) return undefined;
  const n = Number(v);
  return n <= 65535 ? n : undefined;
}

function isHttps(vars: Map<string, string>): boolean {
  const https = vars.get('HTTPS');
  if (https !== undefined && (https === '1' || https.toLowerCase() === 'on')) return true;
  return vars.get('REQUEST_SCHEME')?.toLowerCase() === 'https' || vars.get('UWSGI_SCHEME')?.toLowerCase() === 'https';
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/** %XX -> that byte, as one latin1 char; an invalid escape stays as it was (never throws). */
export function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  let from = 0;
  for (let i = s.indexOf('%'); i !== -1 && i + 2 < s.length; i = s.indexOf('%', i + 1)) {
    const hi = hexValue(s.charCodeAt(i + 1));
    const lo = hexValue(s.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) continue;
    out += s.slice(from, i) + String.fromCharCode(hi * 16 + lo);
    from = i + 3;
    i += 2;
  }
  return out + s.slice(from);
}

/** The inverse for a path: bytes that may not appear raw in a request target become %XX. */
function percentEncodePath(s: string): string {
  if (PATH_SAFE.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    out += PATH_SAFE.test(ch) ? ch : `%${(s.charCodeAt(i) & 0xff).toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The request a uwsgi packet describes. Throws UwsgiProtocolError (400, USHER_ERR_UWSGI_MALFORMED) when
 * REQUEST_METHOD is missing or not a token, or CONTENT_LENGTH is not a non-negative integer.
 * `modifier1` is the packet's: 30 asks for SCRIPT_NAME to be removed from the front of PATH_INFO.
 */
export function cgiToRequest(vars: Map<string, string>, modifier1 = 0): CgiRequest {
  const method = vars.get('REQUEST_METHOD');
  if (method === undefined || !TOKEN.test(method)) {
    throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', method === undefined ? 'uwsgi request without REQUEST_METHOD' : `uwsgi request with a bad REQUEST_METHOD ${JSON.stringify(method.slice(0, 64))}`, 400);
  }
  const lenRaw = vars.get('CONTENT_LENGTH') ?? '';
  let contentLength = 0;
  if (lenRaw !== '') {
    contentLength = DIGITS.test(lenRaw) ? Number(lenRaw) : -1;
    if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
      throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', `uwsgi request with a bad CONTENT_LENGTH ${JSON.stringify(lenRaw.slice(0, 64))}`, 400);
    }
  }

  const scriptName = vars.get('SCRIPT_NAME') ?? '';
  const queryString = vars.get('QUERY_STRING') ?? '';
  const requestUri = vars.get('REQUEST_URI') ?? '';
  let pathInfo = vars.get('PATH_INFO');
  if (pathInfo === undefined) {
    const q = requestUri.indexOf('?');
    const path = percentDecode(q < 0 ? requestUri : requestUri.slice(0, q));
    pathInfo = scriptName !== '' && path.startsWith(scriptName) ? path.slice(scriptName.length) : path;
  } else if (modifier1 === MODIFIER1_MANAGE_PATH_INFO && scriptName !== '' && pathInfo.startsWith(scriptName)) {
    pathInfo = pathInfo.slice(scriptName.length);
  }
  let url = requestUri;
  if (url === '') {
    const path = scriptName + pathInfo;
    url = (path === '' ? '/' : percentEncodePath(path)) + (queryString !== '' ? `?${queryString}` : '');
  }

  const m = HTTP_VERSION.exec(vars.get('SERVER_PROTOCOL') ?? '');
  const httpVersion = m ? `${m[1]}.${m[2] ?? '0'}` : '1.0';

  // CONTENT_TYPE/CONTENT_LENGTH are the proxy's word; the HTTP_ copies Nginx adds would duplicate
  // them. The body on a uwsgi link is exactly CONTENT_LENGTH raw bytes (Nginx de-chunks an upload but
  // still passes HTTP_TRANSFER_ENCODING), so a client's Transfer-Encoding would mislead the app.
  const contentType = vars.get('CONTENT_TYPE') ?? '';
  const rawHeaders: string[] = [];
  for (const [k, v] of vars) {
    if (k.startsWith('HTTP_')) {
      if (k.length === 5 || k === 'HTTP_CONTENT_LENGTH' || k === 'HTTP_TRANSFER_ENCODING') continue;
      if (k === 'HTTP_CONTENT_TYPE' && contentType !== '') continue;
      rawHeaders.push(headerName(k), v);
    } else if (k === 'CONTENT_TYPE') {
      if (v !== '') rawHeaders.push('Content-Type', v);
    } else if (k === 'CONTENT_LENGTH') {
      if (v !== '') rawHeaders.push('Content-Length', v);
    }
  }

  const remoteAddr = vars.get('REMOTE_ADDR');
  const serverName = vars.get('SERVER_NAME');
  return {
    method,
    url,
    httpVersion,
    rawHeaders,
    contentLength,
    remoteAddress: remoteAddr === '' ? undefined : remoteAddr,
    remotePort: toPort(vars.get('REMOTE_PORT')),
    scheme: isHttps(vars) ? 'https' : 'http',
    serverName: serverName === '' ? undefined : serverName,
    serverPort: toPort(vars.get('SERVER_PORT')),
    scriptName,
    pathInfo,
    queryString,
  };
}

/** Content-Type -> HTTP_CONTENT_TYPE, or null for a name that must not be forwarded. */
function cgiKey(lowerName: string): string | null {
  let key = cgiKeys.get(lowerName);
  if (key === undefined) {
    // Nginx's rule: a name with `_` could pose as another once `-` becomes `_` (X_Forwarded_For
    // spoofing X-Forwarded-For). Hop-by-hop fields describe the client's connection, not the request;
    // the body on the uwsgi link is never chunked. `Proxy` is dropped against httpoxy (HTTP_PROXY).
    key = lowerName.includes('_') || lowerName === 'connection' || lowerName === 'keep-alive' || lowerName === 'transfer-encoding' || lowerName === 'proxy'
      ? null
      : `HTTP_${lowerName.toUpperCase().replaceAll('-', '_')}`;
    if (cgiKeys.size < NAME_CACHE_MAX) cgiKeys.set(lowerName, key);
  }
  return key;
}

/** Host header -> SERVER_NAME: without the port, lowercased, brackets of an IPv6 literal kept (Nginx's $host). */
function hostName(host: string): string {
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
  return (end > 0 ? host.slice(0, end) : host).toLowerCase();
}

/**
 * For the HTTP router: a parsed node:http request -> the CGI vars a worker expects, as Nginx's
 * uwsgi_params sends them (same names and order; PATH_INFO percent-decoded like $document_uri, but not
 * dot-segment-normalized). Repeated headers are joined (", ", "; " for Cookie), as Nginx >= 1.23 does.
 */
export function requestToCgi(r: RouterRequestInfo): Array<[string, string]> {
  const q = r.url.indexOf('?');
  const path = q < 0 ? r.url : r.url.slice(0, q);
  const query = q < 0 ? '' : r.url.slice(q + 1);
  let host: string | undefined;
  let contentType: string | undefined;
  let contentLength: string | undefined;
  const headers: Array<[string, string]> = [];
  let seen: Map<string, number> | undefined;
  const raw = r.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    // The first, as node's req.headers has it (a repeated Content-Length never gets past node's parser).
    if (lower === 'content-type') { contentType ??= value; continue; }
    if (lower === 'content-length') { contentLength ??= value; continue; }
    const key = cgiKey(lower);
    if (key === null) continue;
    if (lower === 'host' && host === undefined) host = value;
    seen ??= new Map();
    const at = seen.get(key);
    if (at === undefined) {
      seen.set(key, headers.length);
      headers.push([key, value]);
    } else {
      headers[at]![1] += (key === 'HTTP_COOKIE' ? '; ' : ', ') + value;
    }
  }
  const vars: Array<[string, string]> = [
    ['QUERY_STRING', query],
    ['REQUEST_METHOD', r.method],
    ['CONTENT_TYPE', contentType ?? ''],
    ['CONTENT_LENGTH', contentLength ?? ''],
    ['REQUEST_URI', r.url],
    ['PATH_INFO', percentDecode(path)],
    ['SERVER_PROTOCOL', `HTTP/${r.httpVersion}`],
    ['REQUEST_SCHEME', r.scheme],
  ];
  if (r.scheme === 'https') vars.push(['HTTPS', 'on']);
  vars.push(
    ['REMOTE_ADDR', r.remoteAddress ?? ''],
    ['REMOTE_PORT', r.remotePort !== undefined ? String(r.remotePort) : ''],
    ['SERVER_PORT', r.localPort !== undefined ? String(r.localPort) : ''],
    ['SERVER_NAME', host !== undefined && host !== '' ? hostName(host) : (r.localAddress ?? '')],
    ['SCRIPT_NAME', ''],
  );
  for (const h of headers) vars.push(h);
  return vars;
}
