/**
 * router/forward: one client request -> one uwsgi connection to the workers -> the client's response.
 * The request is parsed by node:http (llhttp); the worker's raw HTTP response is parsed by llhttp too,
 * through a node:http ClientRequest whose "connection" is a shim fed by the upstream socket (the
 * request bytes it would write are discarded: the upstream gets a uwsgi packet instead). The response
 * is then re-framed for the client (keep-alive, chunked when the worker gave no length).
 * Must not: run app code, or buffer a body whole (except a chunked request body, which the uwsgi
 * protocol needs a length for, bounded by maxChunkedBody).
 */
import http from 'node:http';
import net from 'node:net';
import { encodePacket, requestToCgi } from '../protocol/index.js';
import type { Logger } from '../log.js';
import { ResponseHeadReader, type ResponseHead } from './response-head.js';

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

/** Read the worker's response head, then pass the body through as it comes. */
function relayResponse(upstream: net.Socket, res: http.ServerResponse, onHead: () => void, onError: (e: Error) => void): void {
  const reader = new ResponseHeadReader();
  let headDone = false;
  const onData = (d: Buffer): void => {
    if (headDone) {
      if (!res.write(d)) upstream.pause();
      return;
    }
    let head: ResponseHead | undefined;
    try {
      head = reader.push(d);
    } catch (err) {
      onError(err as Error);
      return;
    }
    if (head === undefined) return;
    headDone = true;
    onHead();
    const headers: string[] = [];
    for (let i = 0; i + 1 < head.headers.length; i += 2) {
      const name = head.headers[i] as string;
      if (HOP_BY_HOP.has(name.toLowerCase())) continue;
      headers.push(name, head.headers[i + 1] as string);
    }
    res.writeHead(head.status, head.reason, headers);
    if (head.rest.length > 0 && !res.write(head.rest)) upstream.pause();
  };
  upstream.on('data', onData);
  res.on('drain', () => upstream.resume());
  upstream.on('end', () => {
    if (headDone) res.end();
    else onError(new Error('the worker closed the connection without a response'));
  });
}

function sendPacketAndBody(req: http.IncomingMessage, upstream: net.Socket, head: Buffer, body: Buffer | undefined): void {
  upstream.write(head);
  if (body !== undefined) {
    if (body.length > 0) upstream.write(body);
    return;
  }
  req.pipe(upstream, { end: false });
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

export function forward(req: http.IncomingMessage, res: http.ServerResponse, opts: ForwardOptions): void {
  const method = req.method ?? 'GET';
  const chunked = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined;
  const start = (body: Buffer | undefined): void => {
    const rawHeaders = body === undefined ? req.rawHeaders : withLength(req.rawHeaders, body.length);
    let head: Buffer;
    try {
      head = encodePacket(requestToCgi({
        method,
        url: req.url ?? '/',
        httpVersion: req.httpVersion,
        rawHeaders,
        remoteAddress: req.socket.remoteAddress,
        remotePort: req.socket.remotePort,
        localAddress: req.socket.localAddress,
        localPort: req.socket.localPort,
        scheme: 'http',
      }));
    } catch (err) {
      opts.log.warn('request head too large for the uwsgi protocol', { url: req.url, error: (err as Error).message });
      fail(res, 431, 'Request Header Fields Too Large\n');
      return;
    }
    const upstream = net.connect(opts.upstream);
    upstream.setNoDelay(true);
    let answered = false;
    const onUpstreamError = (err: Error): void => {
      if (answered) { res.destroy(); return; }
      answered = true;
      opts.log.error('worker unreachable or sent no valid response', { code: 'USHER_ERR_UPSTREAM', url: req.url, error: err.message });
      fail(res, 502, 'Bad Gateway\n');
      upstream.destroy();
    };
    upstream.once('error', onUpstreamError);
    upstream.once('connect', () => sendPacketAndBody(req, upstream, head, body));
    relayResponse(upstream, res, () => { answered = true; }, onUpstreamError);
    res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
  };
  if (chunked) {
    collectChunked(req, opts.maxChunkedBody, (err, body) => {
      if (err) { fail(res, 413, 'Request Entity Too Large\n'); return; }
      start(body);
    });
  } else {
    start(undefined);
  }
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
