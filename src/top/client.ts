/**
 * top/client: read one stats document from a uWSGI-style stats address, as uwsgitop does:
 * connect (TCP `host:port` or a unix socket path), read until the server closes, parse the JSON.
 * A server in `stats-http` mode waits for a request first: if nothing arrives soon after connecting,
 * we send a GET and strip the HTTP head. `http://host:port/` asks over HTTP straight away.
 * Must not: keep connections open between reads (each read is a fresh connection, as uWSGI expects).
 */
import net from 'node:net';
import http from 'node:http';

/** How long a silent server gets before we take it for a stats-http one and ask. */
const SILENCE_MS = 400;

export function parseTarget(addr: string): { http: URL } | { path: string } | { host: string; port: number } {
  if (/^https?:\/\//.test(addr)) return { http: new URL(addr) };
  const m = /^(?:\[([^\]]+)\]|([^:/]*)):(\d+)$/.exec(addr);
  if (m) return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
  return { path: addr };
}

function viaHttp(url: URL, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: 'application/json' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

function viaSocket(target: { path: string } | { host: string; port: number }, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host);
    const chunks: Buffer[] = [];
    let asked = false;
    const silence = setTimeout(() => {
      if (chunks.length > 0 || sock.destroyed) return;
      asked = true;
      sock.write('GET / HTTP/1.0\r\nHost: stats\r\nAccept: application/json\r\n\r\n');
    }, SILENCE_MS);
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error('timed out')));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (err) => { clearTimeout(silence); reject(err); });
    sock.on('end', () => {
      clearTimeout(silence);
      let text = Buffer.concat(chunks).toString('utf8');
      if (text.startsWith('HTTP/')) {
        const status = /^HTTP\/\d\.\d (\d+)/.exec(text)?.[1];
        const at = text.indexOf('\r\n\r\n');
        if (status !== '200' || at < 0) { reject(new Error(`HTTP ${status ?? '?'}`)); return; }
        text = text.slice(at + 4);
      } else if (asked && text === '') {
        reject(new Error('the server closed without an answer'));
        return;
      }
      resolve(text);
    });
  });
}

/** One stats document, parsed. */
export async function fetchStats(addr: string, timeoutMs = 3000): Promise<unknown> {
  const target = parseTarget(addr);
  const text = 'http' in target ? await viaHttp(target.http, timeoutMs) : await viaSocket(target, timeoutMs);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('the answer is not JSON: is this a stats address?');
  }
}
