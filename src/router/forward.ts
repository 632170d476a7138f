/**
 * router/forward: one client request -> the workers over the uwsgi protocol -> the client's response.
 * The client's request is parsed by node:http (llhttp). Upstream connections come from a keep-alive
 * pool (router/upstream); the worker's response head is read by router/response-head and its body
 * framing by router/body, then re-framed for the client by node:http (keep-alive, chunked when no
 * length). Request bodies are streamed or spooled by router/request-body.
 *
 * A request is sent again, once, on a new connection only when it cannot have reached a worker's app:
 * the kept connection it was written to turned out closed (EPIPE, or ECONNRESET: the worker closed it
 * with our bytes unread) before any response byte, and its body was not consumed from the client. A
 * worker that read the request and then died (harakiri, a crash) closes the connection cleanly (EOF):
 * that request is answered 502 and never replayed, or one slow request would kill every worker in
 * turn. A worker silent for `timeoutMs` (uWSGI's http-timeout) while a request waits gets it 504.
 * That silence is counted by one sweep over the requests in flight (every timeoutMs / 4, at most 1 s),
 * not by a timer per request: a socket timer costs a timer object per request and a refresh on every
 * read and write, measured at several µs per request on the router's hot path; the sweep costs a
 * property write per chunk. The 504 comes between timeoutMs and timeoutMs + one sweep after the last
 * byte from the worker (or of the request body piped to it).
 * Must not: run app code, or hold a request body whole.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodePacket, requestToCgi } from '../protocol/index.js';
import type { Logger } from '../log.js';
import { countResponse, type Counters } from '../child/lifecycle.js';
import type { Inflight, InflightList } from '../child/inflight.js';
import { ResponseHeadReader, type ResponseHead } from './response-head.js';
import { BodyReader, framingOf } from './body.js';
import { KEEP_MAX_AGE_MS, MODIFIER2_KEEPALIVE, UpstreamPool } from './upstream.js';
import { passed } from './reclaim.js';
import { sweepCadence } from './idle.js';
import { BodyTooLarge, disposeBody, sendBody, spoolChunked, type RequestBody } from './request-body.js';

export interface ForwardOptions {
  readonly upstream: string;
  readonly log: Logger;
  /** Largest chunked (length-less) request body accepted (it is spooled to compute CONTENT_LENGTH). */
  readonly maxChunkedBody: number;
  /** http-timeout: how long a worker may stay silent while a request waits on it. */
  readonly timeoutMs: number;
  readonly counters: Counters;
  /** The router's requests in flight (the lifecycle's list: `oldest` for the heartbeat); only this forwarder adds to it. */
  readonly inflight: InflightList;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);
/** Errors that mean "the kept connection was already closed by the worker when we wrote". */
const STALE = new Set(['EPIPE', 'ECONNRESET']);
const BUSY = Symbol('usher.router.busy');

/** Whether a client connection has a request in flight (its idle timeout must not cut it). */
export function isForwarding(socket: net.Socket): boolean {
  return (socket as net.Socket & { [BUSY]?: boolean })[BUSY] === true;
}

/** One client request, across its (at most two) attempts. */
interface Flight extends Inflight {
  readonly t0: number;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly packet: Buffer;
  readonly body: RequestBody;
  /** The current attempt's upstream connection, until the response is done. */
  upstream: net.Socket | undefined;
  /** Stops sending the body on the current attempt. */
  stopBody: (() => void) | undefined;
  /** Sweeps since the current attempt last heard from the worker (or sent it body bytes). */
  quiet: number;
  /** The current attempt's 504, for the sweep. */
  onSilent: (() => void) | undefined;
}

function fail(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function clientHeaders(head: ResponseHead): string[] {
  const headers: string[] = [];
  for (let i = 0; i + 1 < head.headers.length; i += 2) {
    const name = head.headers[i] as string;
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    headers.push(name, head.headers[i + 1] as string);
  }
  return headers;
}

/** Send the packet (and body) on a pooled connection and relay the response; retry once if allowed. */
function exchange(f: Flight, pool: UpstreamPool, opts: ForwardOptions, canRetry: boolean, fresh = false): void {
  const { req, res } = f;
  const method = req.method ?? 'GET';
  const { socket, reused } = pool.acquire(fresh);
  f.upstream = socket;
  const reader = new ResponseHeadReader();
  let bodyReader: BodyReader | undefined;
  let keepAlive = false;
  let finished = false;
  let received = false;
  let requestSent = false;

  const onDrain = (): void => { socket.resume(); };
  const cleanup = (): void => {
    finished = true;
    f.upstream = undefined;
    f.onSilent = undefined;
    f.stopBody?.();
    f.stopBody = undefined;
    res.removeListener('drain', onDrain);
  };
  const finish = (): void => {
    cleanup();
    res.end();
    if (keepAlive && requestSent && bodyReader?.leftover === 0) pool.release(socket);
    else socket.destroy();
  };
  /** Give up on this attempt: the client gets `status`, or its connection cut once the head went out. */
  const abort = (status: 502 | 504, why: string, fields: Record<string, unknown>): void => {
    cleanup();
    socket.destroy();
    opts.log.error(why, { code: 'USHER_ERR_UPSTREAM', url: req.url, ...fields });
    fail(res, status, `${STATUS_CODES[status]}\n`);
  };
  const failUpstream = (why: string, code?: string): void => {
    if (finished) return;
    if (!received && reused && canRetry && code !== undefined && STALE.has(code)) {
      cleanup();
      socket.destroy();
      exchange(f, pool, opts, false, true);
      return;
    }
    abort(502, 'worker unreachable or sent no valid response', { error: why });
  };
  const feed = (b: Buffer): void => {
    let complete: boolean;
    try {
      complete = (bodyReader as BodyReader).push(b);
    } catch (err) {
      abort(502, 'worker sent a malformed response body', { error: (err as Error).message });
      return;
    }
    if (complete) finish();
  };

  socket.on('data', (d: Buffer) => {
    if (finished) return;
    received = true;
    f.quiet = 0;
    if (bodyReader !== undefined) { feed(d); return; }
    let head: ResponseHead | undefined;
    try {
      head = reader.push(d);
    } catch (err) {
      failUpstream((err as Error).message);
      return;
    }
    if (head === undefined) return;
    const fr = framingOf(head.status, method, head.headers);
    keepAlive = fr.keepAlive;
    res.writeHead(head.status, head.reason, clientHeaders(head));
    bodyReader = new BodyReader(fr.framing, (b) => {
      opts.counters.tx += b.length;
      passed(b.length);
      if (!res.write(b)) socket.pause();
    });
    if (bodyReader.done) finish();
    else if (head.rest.length > 0) feed(head.rest);
  });
  socket.on('end', () => {
    if (finished) return;
    if (bodyReader === undefined) failUpstream('the worker closed the connection without a response');
    else if (!bodyReader.done) {
      // close-delimited bodies end here; a length or chunked body cut short cannot be completed
      keepAlive = false;
      if (bodyReader.framing.kind === 'close') finish();
      else abort(502, 'worker closed the connection mid-response', {});
    }
  });
  socket.on('error', (err: NodeJS.ErrnoException) => failUpstream(err.message, err.code));
  f.quiet = 0;
  f.onSilent = () => {
    if (!finished) abort(504, 'worker sent nothing within http-timeout', { timeout_s: opts.timeoutMs / 1000 });
  };
  res.on('drain', onDrain);

  socket.write(f.packet);
  f.stopBody = sendBody(req, f.body, socket, () => { requestSent = true; });
}

/** The client's response is over (sent, failed or abandoned): drop the worker link if still busy, count. */
function settle(f: Flight, opts: ForwardOptions): void {
  f.onSilent = undefined;
  if (f.upstream !== undefined) {
    f.stopBody?.();
    f.upstream.destroy();
    f.upstream = undefined;
  }
  disposeBody(f.body);
  (f.req.socket as net.Socket & { [BUSY]?: boolean })[BUSY] = false;
  opts.inflight.delete(f);
  opts.counters.requests++;
  const us = Math.round((performance.now() - f.t0) * 1000);
  opts.counters.rtUs += us;
  countResponse(opts.counters, f.res.statusCode, us);
}

function withLength(rawHeaders: readonly string[], length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.toLowerCase() === 'transfer-encoding') continue;
    out.push(name, rawHeaders[i + 1] as string);
  }
  out.push('Content-Length', String(length));
  return out;
}

function packetFor(req: IncomingMessage, body: RequestBody): Buffer {
  return encodePacket(requestToCgi({
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    httpVersion: req.httpVersion,
    rawHeaders: body.kind === 'spooled' ? withLength(req.rawHeaders, body.length) : req.rawHeaders,
    remoteAddress: req.socket.remoteAddress,
    remotePort: req.socket.remotePort,
    localAddress: req.socket.localAddress,
    localPort: req.socket.localPort,
    scheme: 'http',
  }), 0, MODIFIER2_KEEPALIVE);
}

/** Every tick, each request in flight counts one more quiet sweep; past the limit it gets its 504. */
function sweepSilent(inflight: InflightList, timeoutMs: number): NodeJS.Timeout {
  const { tick, limit } = sweepCadence(timeoutMs);
  const timer = setInterval(() => {
    // Every member is a Flight: only start() below adds to the list.
    for (const f of inflight as InflightList<Flight>) if (++f.quiet > limit) f.onSilent?.();
  }, tick);
  timer.unref();
  return timer;
}

export function createForwarder(opts: ForwardOptions): { forward: (req: IncomingMessage, res: ServerResponse) => void; close: () => void } {
  const pool = new UpstreamPool(opts.upstream, Math.min(KEEP_MAX_AGE_MS, opts.timeoutMs));
  const sweeper = sweepSilent(opts.inflight, opts.timeoutMs);
  const start = (req: IncomingMessage, res: ServerResponse, body: RequestBody, started: number, t0: number): void => {
    let packet: Buffer;
    try {
      packet = packetFor(req, body);
    } catch (err) {
      opts.log.warn('request head too large for the uwsgi protocol', { url: req.url, error: (err as Error).message });
      disposeBody(body);
      fail(res, 431, 'Request Header Fields Too Large\n');
      return;
    }
    const f: Flight = { started, t0, req, res, packet, body, upstream: undefined, stopBody: undefined, quiet: 0, onSilent: undefined, inflightPrev: undefined, inflightNext: undefined };
    opts.inflight.add(f);
    (req.socket as net.Socket & { [BUSY]?: boolean })[BUSY] = true;
    res.once('close', () => settle(f, opts));
    // Body bytes going to the worker are not silence (a long upload that keeps moving is fine).
    if (body.kind === 'piped') req.on('data', () => { f.quiet = 0; });
    // A body piped from the client is consumed as it is sent: such a request is never sent twice.
    exchange(f, pool, opts, body.kind !== 'piped');
  };
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now();
    const t0 = performance.now();
    const chunked = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined;
    if (chunked) {
      spoolChunked(req, opts.maxChunkedBody, (err, body) => {
        if (err !== undefined || body === undefined) {
          if (err instanceof BodyTooLarge) fail(res, 413, 'Request Entity Too Large\n');
          else {
            opts.log.error('cannot spool the request body', { url: req.url, error: err?.message });
            fail(res, 500, 'Internal Server Error\n');
          }
          return;
        }
        start(req, res, body, started, t0);
      });
      return;
    }
    const length = Number(req.headers['content-length'] ?? 0);
    start(req, res, length > 0 ? { kind: 'piped', length } : { kind: 'none' }, started, t0);
  };
  return { forward, close: () => { clearInterval(sweeper); pool.close(); } };
}
