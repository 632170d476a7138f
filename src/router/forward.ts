/**
 * router/forward: one client request -> the workers over the uwsgi protocol -> the client's response.
 * The client's request is parsed by node:http (llhttp). Upstream connections come from a keep-alive
 * pool (router/upstream); the worker's response head is read by router/response-head and its body
 * framing by router/body, then re-framed for the client by node:http (keep-alive, chunked when no
 * length). A request without a body that meets a kept connection closed under it (a worker retiring)
 * is sent once more on a new connection, so reloads refuse nothing.
 * Must not: run app code, or buffer a body whole (except a chunked request body, which the uwsgi
 * protocol needs a length for, bounded by maxChunkedBody).
 */
import type http from 'node:http';
import { encodePacket, requestToCgi } from '../protocol/index.js';
import type { Logger } from '../log.js';
import { ResponseHeadReader, type ResponseHead } from './response-head.js';
import { BodyReader, framingOf } from './body.js';
import { MODIFIER2_KEEPALIVE, UpstreamPool } from './upstream.js';

export interface ForwardOptions {
  readonly upstream: string;
  readonly log: Logger;
  /** Largest chunked (length-less) request body buffered to compute CONTENT_LENGTH. */
  readonly maxChunkedBody: number;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);

function fail(res: http.ServerResponse, status: number, text: string): void {
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
function exchange(req: http.IncomingMessage, res: http.ServerResponse, packet: Buffer, body: Buffer | undefined, streamBody: boolean, pool: UpstreamPool, opts: ForwardOptions, canRetry: boolean, fresh = false): void {
  const method = req.method ?? 'GET';
  const { socket, reused } = pool.acquire(fresh);
  const reader = new ResponseHeadReader();
  let bodyReader: BodyReader | undefined;
  let keepAlive = false;
  let finished = false;
  let received = false;
  let requestSent = !streamBody;

  const onDrain = (): void => { socket.resume(); };
  const cleanup = (): void => {
    finished = true;
    res.removeListener('drain', onDrain);
    res.removeListener('close', onClientClose);
  };
  const finish = (): void => {
    cleanup();
    res.end();
    if (keepAlive && requestSent && bodyReader?.leftover === 0) pool.release(socket);
    else socket.destroy();
  };
  const failUpstream = (why: string): void => {
    if (finished) return;
    cleanup();
    socket.destroy();
    if (!received && reused && canRetry) {
      exchange(req, res, packet, body, streamBody, pool, opts, false, true);
      return;
    }
    opts.log.error('worker unreachable or sent no valid response', { code: 'USHER_ERR_UPSTREAM', url: req.url, error: why });
    fail(res, 502, 'Bad Gateway\n');
  };
  const onClientClose = (): void => {
    if (!finished) { cleanup(); socket.destroy(); }
  };
  const feed = (b: Buffer): void => {
    let complete: boolean;
    try {
      complete = (bodyReader as BodyReader).push(b);
    } catch (err) {
      opts.log.error('worker sent a malformed response body', { code: 'USHER_ERR_UPSTREAM', url: req.url, error: (err as Error).message });
      cleanup();
      socket.destroy();
      res.destroy();
      return;
    }
    if (complete) finish();
  };

  socket.on('data', (d: Buffer) => {
    if (finished) return;
    received = true;
    if (bodyReader !== undefined) { feed(d); return; }
    let head: ResponseHead | undefined;
    try {
      head = reader.push(d);
    } catch (err) {
      failUpstream((err as Error).message);
      return;
    }
    if (head === undefined) return;
    const f = framingOf(head.status, method, head.headers);
    keepAlive = f.keepAlive;
    res.writeHead(head.status, head.reason, clientHeaders(head));
    bodyReader = new BodyReader(f.framing, (b) => { if (!res.write(b)) socket.pause(); });
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
      else { cleanup(); socket.destroy(); res.destroy(); }
    }
  });
  socket.on('error', (err: Error) => failUpstream(err.message));
  res.on('drain', onDrain);
  res.on('close', onClientClose);

  socket.write(packet);
  if (body !== undefined && body.length > 0) socket.write(body);
  else if (streamBody) {
    req.on('end', () => { requestSent = true; });
    req.pipe(socket, { end: false });
  }
}

function collectChunked(req: http.IncomingMessage, limit: number, done: (err: Error | undefined, body?: Buffer) => void): void {
  const parts: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > limit) {
      req.removeAllListeners('data');
      req.resume();
      done(new Error('too large'));
      return;
    }
    parts.push(c);
  });
  req.on('end', () => { if (size <= limit) done(undefined, Buffer.concat(parts, size)); });
  req.on('error', (e) => done(e));
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

export function createForwarder(opts: ForwardOptions): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const pool = new UpstreamPool(opts.upstream);
  return (req, res) => {
    const chunked = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined;
    const start = (body: Buffer | undefined): void => {
      let packet: Buffer;
      try {
        packet = encodePacket(requestToCgi({
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          httpVersion: req.httpVersion,
          rawHeaders: body === undefined ? req.rawHeaders : withLength(req.rawHeaders, body.length),
          remoteAddress: req.socket.remoteAddress,
          remotePort: req.socket.remotePort,
          localAddress: req.socket.localAddress,
          localPort: req.socket.localPort,
          scheme: 'http',
        }), 0, MODIFIER2_KEEPALIVE);
      } catch (err) {
        opts.log.warn('request head too large for the uwsgi protocol', { url: req.url, error: (err as Error).message });
        fail(res, 431, 'Request Header Fields Too Large\n');
        return;
      }
      const hasBody = body === undefined && Number(req.headers['content-length'] ?? 0) > 0;
      // Only a request whose body is not streamed can be sent again on a fresh connection.
      exchange(req, res, packet, body, hasBody, pool, opts, !hasBody);
    };
    if (chunked) {
      collectChunked(req, opts.maxChunkedBody, (err, body) => {
        if (err) { fail(res, 413, 'Request Entity Too Large\n'); return; }
        start(body);
      });
    } else {
      start(undefined);
    }
  };
}
