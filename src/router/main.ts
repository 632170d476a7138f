/**
 * router/main: the HTTP router process behind `http =` (uWSGI's http gateway). It accepts client
 * connections on the sockets inherited from the master, parses HTTP with node:http, and forwards every
 * request over the uwsgi protocol to the workers' internal socket. Clients keep their keep-alive
 * connection to the router while workers come and go, which is why reloads refuse nothing.
 * Must not: load or run app code, or bind sockets.
 */
import http from 'node:http';
import { createLogger, flushSync } from '../log.js';
import { EXIT_BOOT, HEARTBEAT_INTERVAL_MS, type ChildMessage, type MasterMessage, type RouterSpec } from '../ipc.js';
import { createForwarder } from './forward.js';

const raw = process.env.USHER_ROUTER;
if (raw === undefined) {
  process.stderr.write('usher router: USHER_ROUTER is not set; the router is started by the usher master\n');
  process.exit(EXIT_BOOT);
}
const spec = JSON.parse(raw) as RouterSpec;
const log = createLogger(spec.id > 1 ? `router ${spec.id}` : 'router');

function send(msg: ChildMessage): void {
  if (process.connected && process.send) process.send(msg);
}

const servers: http.Server[] = [];
let stopping = false;

function stop(reason: string): void {
  if (stopping) return;
  stopping = true;
  log.info('stopping', { reason });
  let open = servers.length;
  for (const s of servers) {
    s.close(() => { if (--open === 0) { flushSync(); process.exit(0); } });
    s.closeIdleConnections();
  }
  if (open === 0) process.exit(0);
}

process.on('SIGINT', () => { /* the master decides */ });
process.on('SIGHUP', () => { /* the master decides */ });
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('message', (m: MasterMessage) => { if (m && m.type === 'stop') stop('master asked'); });
process.on('disconnect', () => { stop('master gone'); setTimeout(() => process.exit(0), 2000).unref(); });
process.on('uncaughtException', (err) => {
  log.error('uncaught exception; the router exits and the master replaces it', { error: err.stack ?? String(err) });
  flushSync();
  process.exit(1);
});

const forward = createForwarder({ upstream: spec.upstream, log, maxChunkedBody: 256 * 1024 * 1024 });
const listening = spec.fds.map((fd) => new Promise<void>((resolve, reject) => {
  const server = http.createServer({ maxHeaderSize: Math.max(16384, spec.bufferSize) }, (req, res) => {
    if (stopping) res.shouldKeepAlive = false;
    forward(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return; }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    log.warn('malformed HTTP request', { status, code: err.code, reason: err.message });
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  servers.push(server);
  server.once('error', reject);
  server.listen({ fd, backlog: spec.listen }, () => { server.removeListener('error', reject); resolve(); });
}));

Promise.all(listening).then(() => {
  setInterval(() => send({ type: 'heartbeat' }), HEARTBEAT_INTERVAL_MS).unref();
  send({ type: 'ready', pid: process.pid });
}, (err: unknown) => {
  log.error('router failed to listen', { error: err instanceof Error ? err.message : String(err) });
  flushSync();
  process.exit(EXIT_BOOT);
});
