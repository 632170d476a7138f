/**
 * protocol/cgi: the CGI vars of a uwsgi packet <-> the request an app sees. Reads what Nginx's
 * uwsgi_params and Apache's mod_proxy_uwsgi send, and builds the same vars for usher's HTTP router.
 * `UWSGI_*` magic vars are never acted on nor exposed: request data never chooses what code runs.
 * Must not: touch sockets or bodies.
 */
import { UwsgiProtocolError } from '../errors.js';

export interface CgiRequest {
  readonly method: string;
  /** path?query as the client sent it (REQUEST_URI, else SCRIPT_NAME + PATH_INFO + ?QUERY_STRING). */
  readonly url: string;
  readonly httpVersion: string;
  /** Flat [name, value, ...] as node's IncomingMessage.rawHeaders. */
  readonly rawHeaders: string[];
  readonly contentLength: number;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly scheme: 'http' | 'https';
  readonly serverName: string | undefined;
  readonly serverPort: number | undefined;
  readonly scriptName: string;
  readonly pathInfo: string;
  readonly queryString: string;
}

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

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const headerNameCache = new Map<string, string>();

/** HTTP_X_FORWARDED_FOR -> X-Forwarded-For */
function headerName(cgiKey: string): string {
  let name = headerNameCache.get(cgiKey);
  if (name === undefined) {
    name = cgiKey.slice(5).toLowerCase().split('_').map((w) => (w === '' ? '' : w[0]!.toUpperCase() + w.slice(1))).join('-');
    if (headerNameCache.size < 1000) headerNameCache.set(cgiKey, name);
  }
  return name;
}

function toPort(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
}

function isHttps(vars: Map<string, string>): boolean {
  const https = vars.get('HTTPS')?.toLowerCase();
  if (https === 'on' || https === '1') return true;
  return (vars.get('REQUEST_SCHEME') ?? vars.get('UWSGI_SCHEME'))?.toLowerCase() === 'https';
}

export function cgiToRequest(vars: Map<string, string>): CgiRequest {
  const method = vars.get('REQUEST_METHOD');
  if (method === undefined || !TOKEN.test(method)) {
    throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', method === undefined ? 'no REQUEST_METHOD in the uwsgi vars' : `bad REQUEST_METHOD ${JSON.stringify(method)}`);
  }
  const scriptName = vars.get('SCRIPT_NAME') ?? '';
  const queryString = vars.get('QUERY_STRING') ?? '';
  let pathInfo = vars.get('PATH_INFO');
  const requestUri = vars.get('REQUEST_URI');
  let url: string;
  if (requestUri !== undefined && requestUri !== '') {
    url = requestUri;
    if (pathInfo === undefined) pathInfo = (requestUri.split('?')[0] ?? '').slice(scriptName.length);
  } else {
    const path = scriptName + (pathInfo ?? '');
    url = encodeURI(path === '' ? '/' : path) + (queryString !== '' ? `?${queryString}` : '');
  }
  const lenRaw = vars.get('CONTENT_LENGTH') ?? '';
  let contentLength = 0;
  if (lenRaw !== '') {
    if (!/^\d+$/.test(lenRaw)) throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', `bad CONTENT_LENGTH ${JSON.stringify(lenRaw)}`);
    contentLength = Number(lenRaw);
  }
  const proto = vars.get('SERVER_PROTOCOL') ?? 'HTTP/1.0';
  const m = /^HTTP\/(\d)\.(\d)$/.exec(proto);
  const httpVersion = m ? `${m[1]}.${m[2]}` : '1.0';

  const rawHeaders: string[] = [];
  const ctype = vars.get('CONTENT_TYPE');
  if (ctype !== undefined && ctype !== '') rawHeaders.push('Content-Type', ctype);
  if (lenRaw !== '') rawHeaders.push('Content-Length', lenRaw);
  for (const [k, v] of vars) {
    if (!k.startsWith('HTTP_')) continue;
    // CONTENT_TYPE/CONTENT_LENGTH are authoritative; a proxy's HTTP_ copies would duplicate them.
    if (k === 'HTTP_CONTENT_TYPE' || k === 'HTTP_CONTENT_LENGTH') continue;
    rawHeaders.push(headerName(k), v);
  }
  return {
    method,
    url,
    httpVersion,
    rawHeaders,
    contentLength,
    remoteAddress: vars.get('REMOTE_ADDR') || undefined,
    remotePort: toPort(vars.get('REMOTE_PORT')),
    scheme: isHttps(vars) ? 'https' : 'http',
    serverName: vars.get('SERVER_NAME') || undefined,
    serverPort: toPort(vars.get('SERVER_PORT')),
    scriptName,
    pathInfo: pathInfo ?? '',
    queryString,
  };
}

function decodePath(path: string): string {
  try {
    // PATH_INFO carries bytes; as latin1 text, like every other var (PEP 3333 decodes the same way).
    return Buffer.from(decodeURIComponent(path), 'utf8').toString('latin1');
  } catch {
    return path; // invalid %-escape: pass it raw rather than refuse
  }
}

export function requestToCgi(r: RouterRequestInfo): Array<[string, string]> {
  const q = r.url.indexOf('?');
  const path = q < 0 ? r.url : r.url.slice(0, q);
  const query = q < 0 ? '' : r.url.slice(q + 1);
  let host: string | undefined;
  let contentType = '';
  let contentLength = '';
  const headers: Array<[string, string]> = [];
  const raw = r.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'content-type') { contentType = value; continue; }
    if (lower === 'content-length') { contentLength = value; continue; }
    // Nginx's rule: a header with `_` could pose as another once dashes become underscores. Drop it.
    if (name.includes('_')) continue;
    if (lower === 'host') host = value;
    if (lower === 'transfer-encoding' || lower === 'connection' || lower === 'keep-alive') continue;
    const key = 'HTTP_' + lower.toUpperCase().replace(/-/g, '_');
    const prev = headers.find((h) => h[0] === key);
    if (prev) prev[1] += (lower === 'cookie' ? '; ' : ', ') + value;
    else headers.push([key, value]);
  }
  const serverName = host !== undefined ? host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') : (r.localAddress ?? 'localhost');
  const vars: Array<[string, string]> = [
    ['REQUEST_METHOD', r.method],
    ['REQUEST_URI', r.url],
    ['PATH_INFO', decodePath(path)],
    ['QUERY_STRING', query],
    ['SCRIPT_NAME', ''],
    ['SERVER_PROTOCOL', `HTTP/${r.httpVersion}`],
    ['CONTENT_TYPE', contentType],
    ['CONTENT_LENGTH', contentLength],
    ['REMOTE_ADDR', r.remoteAddress ?? ''],
    ['REMOTE_PORT', r.remotePort !== undefined ? String(r.remotePort) : ''],
    ['SERVER_NAME', serverName],
    ['SERVER_PORT', r.localPort !== undefined ? String(r.localPort) : ''],
    ['REQUEST_SCHEME', r.scheme],
  ];
  if (r.scheme === 'https') vars.push(['HTTPS', 'on']);
  for (const h of headers) vars.push(h);
  return vars;
}
