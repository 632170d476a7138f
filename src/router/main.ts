/**
 * router/main: the HTTP router process behind `http =` (uWSGI's http gateway). It accepts client
 * connections on the sockets inherited from the master, parses HTTP with node:http, and forwards every
 * request over the uwsgi protocol to the workers' internal socket. Clients keep their keep-alive
 * connection to the router while workers come and go, which is why reloads refuse nothing.
 * `http-timeout` (uWSGI's, default 60 s) bounds how long a client connection may sit idle (between
 * requests, or mid-head, or mid-body) and how long a worker may stay silent while a request waits on it.
 * Must not: load or run app code, or bind sockets.
 */
import { rmdirSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { dirname } from 'node:path';
import { EXIT, ROUTER_SPEC_KEYS, SPEC_ENV, type RouterSpec } from '../ipc.js';
import { ChildLifecycle } from '../child/lifecycle.js';
import { createForwarder, isForwarding } from './forward.js';
import { staticFirst } from '../static/serve.js';
import { withReadiness } from '../child/readiness.js';
import { withLimitPost } from '../child/limit-post.js';
import { IdleConnections } from './idle.js';
import { reclaimWhenIdle } from './reclaim.js';

const life = ChildLifecycle.boot<RouterSpec>(SPEC_ENV.router, ROUTER_SPEC_KEYS, (s) => (s.id > 1 ? `router ${s.id}` : 'router'));
const { spec, log } = life;
const httpTimeoutS = spec.httpTimeout;
const timeoutMs = httpTimeoutS * 1000;

const servers: http.Server[] = [];
const idle = new IdleConnections(timeoutMs, isForwarding);
let stopping = false;

function stop(): void {
  if (stopping) return;
  stopping = true;
  let open = servers.length;
  for (const s of servers) {
    s.close(() => { if (--open === 0) { router.close(); idle.close(); clearInterval(reclaimer); life.exit(EXIT.OK); } });
    s.closeIdleConnections();
  }
  if (open === 0) life.exit(EXIT.OK);
}

const router = createForwarder({
  upstream: spec.upstream,
  log,
  maxChunkedBody: 256 * 1024 * 1024,
  timeoutMs,
  counters: life.counters,
  inflight: life.inflight,
});
// The heap grown under load is given back once traffic stops (router/reclaim).
const reclaimer = reclaimWhenIdle(() => life.counters.requests);
// Static files (static-map & co) are served here, without a trip to a worker.
const serve = withReadiness(spec.readyPath, () => life.isDraining,
  withLimitPost(spec.limitPost, log, staticFirst(spec.static, (req, res) => router.forward(req, res), log.child('static'))));
const listening = spec.fds.map((fd) => new Promise<void>((resolve, reject) => {
  const server = http.createServer({
    maxHeaderSize: Math.max(16384, spec.bufferSize),
    keepAliveTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    // No whole-request deadline (Node's default is 300 s): a long upload that keeps moving is fine;
    // inactivity is what http-timeout bounds.
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, timeoutMs / 4)),
  }, (req, res) => {
    if (stopping) res.shouldKeepAlive = false;
    serve(req, res);
  });
  // A client connection quiet for http-timeout is closed, unless a request of its is in flight: then
  // the worker side's timeout answers it (504) and the response's own writes keep it alive.
  server.on('connection', (socket: net.Socket) => idle.add(socket));
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || !socket.writable) { socket.destroy(); return; }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    log.warn('malformed HTTP request', { status, code: err.code, reason: err.message });
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  servers.push(server);
  server.once('error', reject);
  // Node 20 ignores `backlog` in listen({ fd, backlog }) (511 instead): pass it as an argument.
  server.listen({ fd }, spec.listen, () => { server.removeListener('error', reject); resolve(); });
}));

// A master killed with SIGKILL cannot remove its private folder, the one of the socket to the workers:
// the router, which sees the master go (its channel closes), removes that socket and the folder.
process.once('disconnect', () => {
  try { unlinkSync(spec.upstream); rmdirSync(dirname(spec.upstream)); } catch { /* the master did, or will */ }
});

Promise.all(listening).then(() => {
  life.ready({ stop });
}, (err: unknown) => {
  log.error('router failed to listen', { error: err instanceof Error ? err.message : String(err) });
  life.exit(EXIT.BOOT);
});
