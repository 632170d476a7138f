/**
 * test/helpers/uwsgi-client: speaks the uwsgi protocol to a socket as Nginx does (one request per
 * connection), and splits the raw HTTP response it gets back.
 */
import net from 'node:net';
import { encodePacket } from '../../src/protocol/index.js';

export interface RawResponse {
  readonly raw: Buffer;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export function parseRaw(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { raw, status: 0, headers: {}, body: Buffer.alloc(0) };
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { raw, status: Number(statusLine?.split(' ')[1]), headers, body: raw.subarray(end + 4) };
}

export function connectTarget(target: string): net.Socket {
  const m = /^(.*):(\d+)$/.exec(target);
  return m && !target.startsWith('/') ? net.connect(Number(m[2]), m[1] || '127.0.0.1') : net.connect(target);
}

/** Send raw bytes, collect everything until the server closes. */
export function sendRaw(target: string, bytes: Buffer | Buffer[], timeoutMs = 10_000, halfClose = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connectTarget(target);
    const chunks: Buffer[] = [];
    const t = setTimeout(() => { sock.destroy(); reject(new Error('uwsgi response timed out')); }, timeoutMs);
    sock.on('connect', () => {
      for (const b of Array.isArray(bytes) ? bytes : [bytes]) sock.write(b);
      if (halfClose) sock.end();
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('close', () => { clearTimeout(t); resolve(Buffer.concat(chunks)); });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return; // close follows
      clearTimeout(t);
      reject(e);
    });
  });
}

export function uwsgiVars(method: string, uri: string, headers: Record<string, string> = {}, bodyLength = 0): [string, string][] {
  const [path = '/', query = ''] = uri.split('?');
  const vars: [string, string][] = [
    ['QUERY_STRING', query], ['REQUEST_METHOD', method], ['CONTENT_TYPE', headers['content-type'] ?? ''],
    ['CONTENT_LENGTH', bodyLength > 0 ? String(bodyLength) : ''], ['REQUEST_URI', uri], ['PATH_INFO', decodeURIComponent(path)],
    ['DOCUMENT_ROOT', '/var/www'], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['REQUEST_SCHEME', 'http'],
    ['REMOTE_ADDR', '203.0.113.7'], ['REMOTE_PORT', '51234'], ['SERVER_PORT', '80'], ['SERVER_NAME', 'guestbook.local'],
    ['HTTP_HOST', 'guestbook.local'],
  ];
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'content-type') continue;
    vars.push([`HTTP_${k.toUpperCase().replace(/-/g, '_')}`, v]);
  }
  return vars;
}

export async function uwsgiRequest(target: string, method: string, uri: string, opts: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<RawResponse> {
  const body = opts.body ?? Buffer.alloc(0);
  const packet = encodePacket(uwsgiVars(method, uri, opts.headers, body.length));
  return parseRaw(await sendRaw(target, body.length > 0 ? [packet, body] : packet));
}
