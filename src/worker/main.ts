/**
 * worker/main: a Node worker process. Loads the app once, listen()s on the sockets inherited from the
 * master (HTTP or uwsgi protocol per socket), reports `ready`, beats a heartbeat with live counters
 * (kept, with max-requests, harakiri and the access log, by worker/requests), and on SIGTERM or a
 * `stop` message stops accepting and finishes what is in flight. It exits when the master goes away.
 * Must not: bind sockets, handle SIGINT/SIGHUP (the master owns signals), or respawn anything.
 */
import http from 'node:http';
import net from 'node:net';
import { EXIT, SPEC_ENV, WORKER_SPEC_KEYS, type WorkerSpec } from '../ipc.js';
import { loadNodeApp } from '../apps/node/load.js';
import { staticFirst } from '../static/serve.js';
import { withReadiness } from '../child/readiness.js';
import { withLimitPost } from '../child/limit-post.js';
import { createUwsgiServer, type UwsgiServer } from './uwsgi-server.js';
import { UsherError } from '../errors.js';
import { ChildLifecycle } from '../child/lifecycle.js';
import { RequestTracker, TrackedResponse } from './requests.js';
import { NodeAccessLog } from '../logging/node-access.js';
import { setLogFile } from '../log.js';

const life = ChildLifecycle.boot<WorkerSpec>(SPEC_ENV.worker, WORKER_SPEC_KEYS, (s) => `worker ${s.id}`);
const { spec, log } = life;
// The master passed the log file open: lines are appended to it here, not relayed through the master.
if (spec.logFile !== null) setLogFile(spec.logFile.fd, spec.logFile.path);

const servers: net.Server[] = [];
let stopping = false;
const access = new NodeAccessLog(spec.accessLog, spec.id, `worker ${spec.id}`);
const tracker = new RequestTracker(life, { maxRequests: spec.maxRequests, accessLog: access, isStopping: () => stopping, harakiri: spec.harakiri });

/** How long keep-alive clients get, after a stop begins, to send one more request (answered with
 * `Connection: close`) before their idle connections are closed: a client in the middle of sending
 * never meets a connection closed under it. Idle connections are closed again at this interval,
 * for those whose response was already under way (with keep-alive) when the stop began. */
const KEEPALIVE_GRACE_MS = 1000;

/**
 * Stop accepting, let every connection finish its request, exit when the last one has closed.
 * (net.Server's close stops accepting only and calls back once all connections are gone;
 * http.Server's would also drop idle keep-alive connections at once, racing clients that are about
 * to reuse them: those get the grace period, and `Connection: close` on their next response.)
 * Requests in flight whose headers are not out yet answer with `Connection: close` too, and the
 * router's kept uwsgi connections that are idle are closed at once (the router drops them from its
 * pool, and retries a request it had just sent on one): nothing idle holds the old worker.
 */
function stop(): void {
  if (stopping) return;
  stopping = true;
  let open = servers.length;
  const closed = (): void => {
    if (--open > 0) return;
    life.exit(EXIT.OK);
  };
  for (const s of servers) net.Server.prototype.close.call(s, closed);
  for (const r of life.inflight) {
    const res = r as TrackedResponse;
    if (!res.headersSent) res.shouldKeepAlive = false;
  }
  // Kept connections (the router's uwsgi ones, clients' HTTP ones) are not closed at once: a request
  // may be on its way on one right now, and closing under it loses it (the router sees the connection
  // end with no answer: a 502). Until the sweep, a request on one is answered and that connection then
  // closed; the router retires its kept connections within a second of their connect anyway.
  const sweep = (): void => {
    for (const s of servers) (s as http.Server | UwsgiServer).closeIdleConnections();
  };
  setInterval(sweep, KEEPALIVE_GRACE_MS).unref();
}

/**
 * When a response ends a connection (HTTP/1.0 or `Connection: close`, as Nginx's proxy_pass sends)
 * before the app read the request body, Node closes the socket with body bytes still unread, and the
 * kernel answers with a reset: the proxy then reports 502 instead of the response it already got.
 * Read and discard the rest of the body first (bounded in time), then close.
 */
function drainBeforeClose(socket: net.Socket): void {
  const destroySoon = socket.destroySoon.bind(socket);
  socket.destroySoon = (): void => {
    const req = (socket as net.Socket & { parser?: { incoming?: http.IncomingMessage | null } }).parser?.incoming;
    if (req && !req.complete && !req.destroyed) {
      const timer = setTimeout(() => socket.destroy(), 10_000);
      timer.unref();
      req.once('end', () => { clearTimeout(timer); destroySoon(); });
      req.once('error', () => socket.destroy());
      req.resume();
      return;
    }
    destroySoon();
  };
}

async function main(): Promise<void> {
  if (spec.chdir) process.chdir(spec.chdir);
  let app;
  try {
    if (spec.app === null) throw new UsherError('USHER_ERR_WORKER_BOOT', 'no app given to a Node worker');
    app = await loadNodeApp(spec.app, { onException: (req, res, err) => tracker.exception(req, res, err, 'fetch handler failed') });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error('app could not be loaded', { error: message });
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.stack : undefined;
    if (cause) process.stderr.write(cause + '\n');
    life.send({ type: 'app-error', message });
    return life.exit(EXIT.APP_LOAD);
  }
  // Static files first (static-map & co), counted and logged like any request; the rest goes to the app.
  const listener = tracker.listener(withReadiness(spec.readyPath, () => life.isDraining,
    withLimitPost(spec.limitPost, log, staticFirst(spec.static, app.listener, log.child('static')))));
  const listening: Promise<void>[] = [];
  spec.fds.forEach((fd, i) => {
    const kind = spec.kinds[i] ?? 'uwsgi';
    let server: net.Server;
    if (kind === 'http') {
      const hs = http.createServer({ ServerResponse: TrackedResponse as unknown as typeof http.ServerResponse }, listener);
      hs.on('connection', drainBeforeClose);
      server = hs;
    } else {
      server = createUwsgiServer(listener, { bufferSize: spec.bufferSize, headTimeoutMs: spec.socketTimeout * 1000, log, isStopping: () => stopping, ServerResponse: TrackedResponse });
    }
    servers.push(server);
    listening.push(new Promise((resolve, reject) => {
      server.once('error', reject);
      // Node 20 ignores `backlog` in listen({ fd, backlog }) (it would listen with 511): pass it as an argument.
      server.listen({ fd }, spec.listen, () => {
        server.removeListener('error', reject);
        resolve();
      });
    }));
  });
  await Promise.all(listening);
  life.ready({
    stop,
    onMasterMessage: (m) => {
      if (m.type !== 'logging') return; // reopen-logs: child/lifecycle reopens a log file this worker writes
      access.enabled = m.enabled;
      log.info(`request logging ${m.enabled ? 'enabled' : 'disabled'} by the master`);
    },
  });
}

main().catch((err: unknown) => {
  log.error('worker failed to boot', { error: err instanceof Error ? err.stack ?? err.message : String(err) });
  life.exit(EXIT.BOOT);
});
