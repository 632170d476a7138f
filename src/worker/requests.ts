/**
 * worker/requests: the per-request bookkeeping of a Node worker, for both servers (HTTP and uwsgi):
 * the live counters the heartbeat carries (`life.counters`, `life.inflight`), the access log,
 * max-requests, exceptions thrown by the app, and harakiri.
 * It costs a few counter updates per request and nothing else: the response object is its own record
 * (a ServerResponse subclass with its start times), it is the member of `life.inflight`, its 'close'
 * is seen by overriding emit(), and its body bytes are counted in write()/end(); no closure, map,
 * listener or timer is made per request.
 * harakiri: a Node worker serves many requests at once, so one slow request must not take the others
 * down with it (uWSGI kills the whole process, which there serves one request). A request older than
 * `harakiri` seconds is cut alone: 504 if its headers are not out yet, else its connection is closed;
 * whatever the app does with that response afterwards is ignored, so a late answer cannot throw. One
 * timer per worker looks for such requests (the in-flight list is in start order, so it stops at the
 * first young one). An event loop blocked for `harakiri` seconds cuts nothing, and sends no heartbeat
 * either: the master, seeing the silence and the last heartbeat's `oldest`, kills the worker.
 * Must not: parse or answer requests (the servers and the app do), or decide when to exit (lifecycle).
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { countResponse, type ChildLifecycle } from '../child/lifecycle.js';
import type { Inflight } from '../child/inflight.js';
import type { NodeAccessLog } from '../logging/node-access.js';

export interface TrackerOptions {
  readonly maxRequests: number;
  /** The compiled access line (src/logging/), or null when no request can be logged. */
  readonly accessLog: NodeAccessLog | null;
  /** While true, new requests are answered with `Connection: close`. */
  readonly isStopping: () => boolean;
  /** Seconds a request may run before it is cut (0 = off). */
  readonly harakiri: number;
}

/** How often the harakiri timer looks (a request is cut between harakiri and harakiri + this). */
const HARAKIRI_SWEEP_MS = 500;
const GATEWAY_TIMEOUT = 'Gateway Timeout (harakiri)\n';

type Chunk = string | Uint8Array | null | undefined;

function byteLength(chunk: Chunk, encoding: unknown): number {
  if (chunk === null || chunk === undefined) return 0;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk.byteLength;
}

/** A write to a cut response: its callback (if any) hears so, as for a destroyed stream; pipes go on. */
function ignored(...maybeCallbacks: unknown[]): true {
  const cb = maybeCallbacks.find((f) => typeof f === 'function') as ((err: Error) => void) | undefined;
  if (cb) process.nextTick(cb, new Error('the response was cut by harakiri'));
  return true;
}

/** Set once per worker by RequestTracker: the hooks the response class reports to. */
let current: RequestTracker | undefined;

/**
 * A ServerResponse that is its own bookkeeping record. Both servers create their responses from it
 * (http.createServer's `ServerResponse` option; the uwsgi server's `new`).
 */
export class TrackedResponse extends http.ServerResponse {
  /** performance.now() when the request started: one clock read per request. */
  t0 = 0;
  /** Cut by harakiri: the app's further calls on this response are ignored. */
  cut = false;
  /** Body bytes handed to the connection (the access line's size). */
  bytes = 0;
  /** Links of `life.inflight` (child/inflight), which this response is a member of while it runs. */
  inflightPrev: Inflight | undefined = undefined;
  inflightNext: Inflight | undefined = undefined;
  private counted = false;

  override writeHead(...args: unknown[]): this {
    if (this.cut) return this;
    return (super.writeHead as (...a: unknown[]) => this)(...args);
  }

  override setHeader(name: string, value: number | string | readonly string[]): this {
    if (this.cut) return this;
    return super.setHeader(name, value);
  }

  override appendHeader(name: string, value: string | readonly string[]): this {
    if (this.cut) return this;
    return super.appendHeader(name, value);
  }

  override removeHeader(name: string): void {
    if (!this.cut) super.removeHeader(name);
  }

  // Body bytes handed to the connection: not the Content-Length header (a HEAD, 204 or 304 has none,
  // a client that went away gets no more), and never counted twice.
  override write(chunk: Chunk, encoding?: unknown, cb?: unknown): boolean {
    if (this.cut) return ignored(encoding, cb);
    const open = !this.writableEnded && !this.destroyed;
    const ok = super.write(chunk as string, encoding as BufferEncoding, cb as () => void);
    if (open && this._hasBody && current) {
      const n = byteLength(chunk, encoding);
      current.counters.tx += n;
      this.bytes += n;
    }
    return ok;
  }

  override end(chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    if (this.cut) {
      ignored(chunk, encoding, cb);
      return this;
    }
    const open = !this.writableEnded && !this.destroyed;
    super.end(chunk as string, encoding as BufferEncoding, cb as () => void);
    if (open && typeof chunk !== 'function' && this._hasBody && current) {
      const n = byteLength(chunk as Chunk, encoding);
      current.counters.tx += n;
      this.bytes += n;
    }
    return this;
  }

  /** When the request started, ms since the epoch (the heartbeat's `oldest`): read at heartbeat rate,
   * so the wall clock is asked then, not per request. */
  get started(): number {
    return Date.now() - performance.now() + this.t0;
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close' && !this.counted) {
      this.counted = true;
      current?.finished(this);
    }
    return super.emit(event, ...args);
  }
}

// Node types _hasBody as internal; it is what ServerResponse itself checks before writing a body.
declare module 'node:http' {
  interface OutgoingMessage { _hasBody: boolean }
}

export class RequestTracker {
  readonly counters: ChildLifecycle<unknown>['counters'];
  private readonly inflight: ChildLifecycle<unknown>['inflight'];

  constructor(private readonly life: ChildLifecycle<unknown>, private readonly opts: TrackerOptions) {
    this.counters = life.counters;
    this.inflight = life.inflight;
    current = this;
    if (opts.harakiri > 0) setInterval(() => this.sweep(), HARAKIRI_SWEEP_MS).unref();
  }

  /** Cut every request older than `harakiri` seconds. */
  private sweep(): void {
    const limitMs = this.opts.harakiri * 1000;
    const now = performance.now();
    for (const r of this.inflight) {
      const res = r as TrackedResponse;
      if (now - res.t0 < limitMs) break; // in start order: the rest are younger
      this.cutRequest(res, now);
    }
  }

  private cutRequest(res: TrackedResponse, now: number): void {
    this.inflight.delete(res); // no longer the heartbeat's `oldest`: the loop is not what is stuck
    this.counters.harakiri++;
    const req = res.req;
    this.life.log.error('harakiri: request cut', { method: req.method, url: req.url, seconds: this.opts.harakiri, ran_s: ((now - res.t0) / 1000).toFixed(1), headers_sent: res.headersSent });
    res.on('error', () => { /* the app may still write: ignored */ });
    if (!res.headersSent) {
      res.shouldKeepAlive = false;
      res.writeHead(504, { 'content-type': 'text/plain; charset=utf-8', 'content-length': GATEWAY_TIMEOUT.length });
      res.end(GATEWAY_TIMEOUT);
      res.cut = true;
    } else {
      res.cut = true;
      res.destroy();
    }
  }

  /**
   * The request listener the servers call: starts the record, and turns an app that throws into a
   * logged 500 (and an `exceptions` count) instead of a dead worker.
   */
  listener(app: http.RequestListener): http.RequestListener {
    return (req, res) => {
      const r = res as unknown as TrackedResponse;
      r.t0 = performance.now();
      this.inflight.add(r);
      if (this.opts.isStopping()) r.shouldKeepAlive = false;
      try {
        app(req, res);
      } catch (err) {
        this.exception(req, res, err, 'app raised while handling request');
      }
    };
  }

  /** An app error that becomes a 500 (or a cut connection when the headers are out). */
  exception(req: http.IncomingMessage, res: http.ServerResponse, err: unknown, message: string): void {
    this.counters.exceptions++;
    this.life.log.error(message, { method: req.method, url: req.url, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Internal Server Error\n');
    } else {
      res.destroy();
    }
  }

  /** The response closed (sent, or its connection gone): the request is over. */
  finished(res: TrackedResponse): void {
    if (!this.inflight.delete(res) && !res.cut) return; // never started (refused before the app saw it)
    const ms = performance.now() - res.t0;
    const c = this.counters;
    c.requests++;
    const us = Math.round(ms * 1000);
    c.rtUs += us;
    countResponse(c, res.statusCode, us);
    if (!res.writableFinished && !res.cut) this.life.log.info('client went away mid-response', { method: res.req.method, url: res.req.url });
    const access = this.opts.accessLog;
    if (access !== null && access.active) access.finished(res.req, res, ms);
    const max = this.opts.maxRequests;
    if (max > 0 && c.requests >= max && !this.life.isStopping) this.life.recycle('max-requests', `${max} requests served`);
  }
}
