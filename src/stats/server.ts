/**
 * stats/server: the `stats` address, in the master's event loop.
 * Plain (uWSGI's default): each connection gets the JSON document written at once, then is closed.
 * `stats-http`: a read-only HTTP server: `/` answers a browser (Accept: text/html) with the live
 * dashboard and every other client with the same JSON; `/metrics` is Prometheus' text format;
 * `/live.json` and two assets feed the dashboard. Anything but GET/HEAD is 405: nothing here changes
 * state. Every asset is served from here (the page's CSP forbids anything else).
 * Must not: block the master (every figure is already in memory), or serve anything writable.
 */
import http from 'node:http';
import net from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { UsherError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseAddress } from '../master/sockets.js';
import type { StatsCollector } from './collector.js';
import { buildStats, serialize } from './uwsgi-json.js';
import { renderMetrics } from './prometheus.js';
import { liveDocument } from './live.js';
import { PAGE_HTML, PAGE_CSS, PAGE_JS } from './assets/page.js';

export interface StatsServerOptions {
  readonly address: string;
  readonly http: boolean;
  readonly minified: boolean;
  readonly collector: StatsCollector;
  readonly version: string;
  readonly log: Logger;
}

export interface StatsServer {
  /** Where it listens, for the log (`127.0.0.1:9191`, a path). */
  readonly where: string;
  close(): void;
}

const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

const BIND_HINT: Record<string, string> = {
  EADDRINUSE: 'the address is in use by another process; stop it or choose another port for `stats`',
  EACCES: 'permission denied; ports below 1024 need root, and socket folders must be writable',
  ENOENT: 'the folder does not exist; create it or fix the `stats` path',
  EADDRNOTAVAIL: 'no interface has that address on this machine',
};

/** A browser asks for the page; curl, Prometheus, uwsgitop and `usher top` get JSON. */
function wantsHtml(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/html\b/.test(accept);
}

function handler(o: StatsServerOptions): http.RequestListener {
  const send = (res: http.ServerResponse, head: boolean, status: number, type: string, body: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(head ? undefined : body);
  };
  return (req, res) => {
    try {
      route(req, res);
    } catch (err) {
      // A bug here must never take the master down: answer 500 and say so in the log.
      o.log.error('stats request failed', { url: req.url, error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, false, 500, 'text/plain; charset=utf-8', 'stats failed; see the usher log\n');
      else res.destroy();
    }
  };
  function route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      send(res, false, 405, 'text/plain; charset=utf-8', 'usher stats are read-only: GET or HEAD only\n', { Allow: 'GET, HEAD' });
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/':
        if (wantsHtml(req.headers.accept)) {
          send(res, head, 200, 'text/html; charset=utf-8', PAGE_HTML, {
            'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            Vary: 'Accept',
          });
        } else {
          send(res, head, 200, 'application/json', serialize(buildStats(o.collector, o.version), o.minified), { Vary: 'Accept' });
        }
        return;
      case '/metrics':
        send(res, head, 200, 'text/plain; version=0.0.4; charset=utf-8', renderMetrics(o.collector, o.version));
        return;
      case '/live.json':
        send(res, head, 200, 'application/json', JSON.stringify(liveDocument(o.collector, o.version)));
        return;
      case '/dashboard.js':
        send(res, head, 200, 'text/javascript; charset=utf-8', PAGE_JS);
        return;
      case '/dashboard.css':
        send(res, head, 200, 'text/css; charset=utf-8', PAGE_CSS);
        return;
      default:
        send(res, head, 404, 'text/plain; charset=utf-8', 'not found: usher stats serve /, /metrics and the dashboard\n');
    }
  }
}

function plain(o: StatsServerOptions): net.Server {
  return net.createServer((sock) => {
    sock.on('error', () => { /* the client left early: nothing to do */ });
    sock.setTimeout(10_000, () => sock.destroy()); // a client that never closes its side
    try {
      sock.end(serialize(buildStats(o.collector, o.version), o.minified));
    } catch (err) {
      o.log.error('stats request failed', { error: err instanceof Error ? err.message : String(err) });
      sock.destroy();
    }
  });
}

/** A socket file left by a crashed usher is removed; a live one is an error (as for `socket`). */
async function clearStale(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) throw new UsherError('USHER_ERR_BIND', `cannot bind stats ${path}: a file that is not a socket is in the way`);
  } catch (err) {
    if (err instanceof UsherError) throw err;
    return;
  }
  const live = await new Promise<boolean>((done) => {
    const c = net.connect(path);
    c.once('connect', () => { c.destroy(); done(true); });
    c.once('error', () => done(false));
  });
  if (live) throw new UsherError('USHER_ERR_BIND', `cannot bind stats ${path}: another server is listening on it (is usher already running?)`);
  unlinkSync(path);
}

export async function startStatsServer(o: StatsServerOptions): Promise<StatsServer> {
  const addr = parseAddress(o.address);
  if (addr.path !== undefined) await clearStale(addr.path);
  const server: net.Server = o.http ? http.createServer({ requestTimeout: 10_000, headersTimeout: 10_000 }, handler(o)) : plain(o);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const name = err.code ?? getSystemErrorName(Number(err.errno ?? 0));
      reject(new UsherError('USHER_ERR_BIND', `cannot bind stats ${o.address}: ${name}: ${BIND_HINT[name] ?? err.message}`));
    });
    if (addr.path !== undefined) server.listen(addr.path, resolve);
    else server.listen(addr.port, addr.host ?? '::', resolve);
  });
  server.unref();
  const a = server.address();
  const where = typeof a === 'string' || a === null ? addr.path ?? o.address : `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  let closed = false;
  return {
    where,
    close(): void {
      if (closed) return;
      closed = true;
      server.close();
      if (o.http) (server as http.Server).closeAllConnections();
      if (addr.path !== undefined) try { unlinkSync(addr.path); } catch { /* gone */ }
    },
  };
}
