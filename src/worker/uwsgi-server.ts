/**
 * worker/uwsgi-server: serves a node:http request listener over the uwsgi protocol (what Nginx's
 * uwsgi_pass, Apache's mod_proxy_uwsgi and usher's own HTTP router send): one request per connection,
 * CGI vars in, a raw HTTP response out, the end of the body marked by closing the connection.
 * The app gets real http.IncomingMessage / http.ServerResponse objects, so Express and friends work
 * unchanged; Node's own ServerResponse writes the response, with chunking off (the proxies read to EOF),
 * except for usher's own router, which asks (modifier2 = 1) for framed responses on a kept connection.
 * A body the app never reads is drained before closing, so the proxy never sees a reset.
 * Must not: parse HTTP, or let a bad packet take the worker down.
 */
import http from 'node:http';
import net from 'node:net';
import { UwsgiRequestParser, cgiToRequest, type UwsgiPacket, type CgiRequest } from '../protocol/index.js';
import { UwsgiProtocolError, UsherError } from '../errors.js';
import type { Logger } from '../log.js';
import { UWSGI_VARS } from '../logging/node-access.js';

export interface UwsgiServerOptions {
  readonly bufferSize: number;
  readonly log: Logger;
  /** How long a client may take to send the packet head (ms). */
  readonly headTimeoutMs?: number;
  /** How long to wait for an unread body to drain after the response (ms). */
  readonly drainTimeoutMs?: number;
  /** While stopping, kept connections are not kept. */
  readonly isStopping?: () => boolean;
  /** The response class (as http.createServer's option): the worker's counts its requests. */
  readonly ServerResponse?: new (req: http.IncomingMessage) => http.ServerResponse;
}

/** As node:http does once a response is done: 'close' on the response, once. */
function emitClose(res: http.ServerResponse): void {
  const r = res as http.ServerResponse & { _closed?: boolean };
  if (r._closed) return;
  r._closed = true;
  r.destroyed = true;
  r.emit('close');
}

/** modifier2 = 1: usher's own HTTP router asks to keep the connection (see router/upstream). */
const MODIFIER2_KEEPALIVE = 1;

/**
 * IncomingMessage derives `headers`/`headersDistinct` lazily from rawHeaders up to a private count
 * that only Node's parser sets; find that symbol once so our requests get the very same behaviour.
 */
let headersCountSymbol: symbol | undefined | null = null;
function setRawHeaders(req: http.IncomingMessage, raw: string[]): void {
  if (headersCountSymbol === null) {
    headersCountSymbol = Object.getOwnPropertySymbols(req).find((s) => s.description === 'kHeadersCount');
  }
  req.rawHeaders = raw;
  if (headersCountSymbol !== undefined) {
    (req as unknown as Record<symbol, number>)[headersCountSymbol] = raw.length;
    return;
  }
  const dst: http.IncomingHttpHeaders = {};
  const add = (req as unknown as { _addHeaderLine(f: string, v: string, d: http.IncomingHttpHeaders): void })._addHeaderLine;
  for (let i = 0; i + 1 < raw.length; i += 2) add.call(req, raw[i] as string, raw[i + 1] as string, dst);
  req.headers = dst;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 413: 'Request Entity Too Large' };

function refuse(socket: net.Socket, err: unknown, log: Logger): void {
  if (err instanceof UwsgiProtocolError) {
    log.warn('bad uwsgi packet', { code: err.code, status: err.status, reason: err.message });
    if (err.code !== 'USHER_ERR_UWSGI_TRUNCATED' && socket.writable) {
      const text = `${STATUS_TEXT[err.status] ?? 'Bad Request'}\n`;
      socket.end(`HTTP/1.1 ${err.status} ${STATUS_TEXT[err.status] ?? 'Bad Request'}\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`);
      socket.setTimeout(1000, () => socket.destroy());
      return;
    }
  } else {
    log.error('uwsgi connection failed', { error: err instanceof Error ? err.message : String(err) });
  }
  socket.destroy();
}

/** Make the socket look like the client's connection to code that reads req.socket (Express's req.ip, req.protocol). */
function dressSocket(socket: net.Socket, cgi: CgiRequest): void {
  if (cgi.remoteAddress !== undefined) Object.defineProperty(socket, 'remoteAddress', { value: cgi.remoteAddress, configurable: true });
  if (cgi.remotePort !== undefined) Object.defineProperty(socket, 'remotePort', { value: cgi.remotePort, configurable: true });
  if (cgi.scheme === 'https') Object.defineProperty(socket, 'encrypted', { value: true, configurable: true });
}

function dispatch(socket: net.Socket, packet: UwsgiPacket, listener: http.RequestListener, opts: UwsgiServerOptions, readNext: () => void): void {
  let cgi: CgiRequest;
  try {
    cgi = cgiToRequest(packet.vars, packet.modifier1);
  } catch (err) {
    refuse(socket, err, opts.log);
    return;
  }
  dressSocket(socket, cgi);
  const req = new http.IncomingMessage(socket);
  req.method = cgi.method;
  req.url = cgi.url;
  req.httpVersion = cgi.httpVersion;
  const [major, minor] = cgi.httpVersion.split('.');
  req.httpVersionMajor = Number(major ?? 1);
  req.httpVersionMinor = Number(minor ?? 0);
  setRawHeaders(req, cgi.rawHeaders);
  (req as http.IncomingMessage & { [UWSGI_VARS]?: ReadonlyMap<string, string> })[UWSGI_VARS] = packet.vars; // for the access line

  let remaining = cgi.contentLength;
  let draining = false;
  /** The peer half-closed: it sends nothing more, so the connection ends with this response. */
  let peerEnded = false;
  const finishBody = (): void => {
    req.complete = true;
    req.push(null);
  };
  const onBody = (chunk: Buffer): void => {
    if (remaining <= 0) return; // bytes past CONTENT_LENGTH are not the app's
    const part = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
    remaining -= part.length;
    if (draining) {
      if (remaining === 0) socket.end();
      return;
    }
    if (!req.push(part)) socket.pause();
    if (remaining === 0) finishBody();
  };
  const onEnd = (): void => {
    peerEnded = true;
    if (draining) {
      socket.end(); // the unread rest of the body will never come: the response is out, close now
    } else if (remaining > 0 && !res.writableEnded) {
      opts.log.warn('client closed before sending the whole body', { url: cgi.url, missing: remaining });
      req.destroy(new UsherError('USHER_ERR_UWSGI_TRUNCATED', 'request body truncated'));
    } // else the response is on its way, and 'finish' closes
  };
  if (remaining === 0) finishBody();
  else {
    if (packet.rest.length > 0) onBody(packet.rest);
    socket.on('data', onBody);
  }
  socket.on('end', onEnd);

  // Nginx and Apache read the body to EOF: no chunking, close after. usher's router (modifier2 = 1)
  // gets a framed body (Content-Length or chunked) on a connection kept for its next request.
  const keep = packet.modifier2 === MODIFIER2_KEEPALIVE && opts.isStopping?.() !== true;
  const res = new (opts.ServerResponse ?? http.ServerResponse)(req);
  res.shouldKeepAlive = keep;
  res.useChunkedEncodingByDefault = keep;
  res.assignSocket(socket);
  res.once('finish', () => {
    res.detachSocket(socket);
    process.nextTick(emitClose, res);
    if (remaining > 0 && !peerEnded) {
      // The app answered without reading the whole body: read and discard the rest, then close.
      draining = true;
      req.removeAllListeners('data');
      socket.resume();
      socket.setTimeout(opts.drainTimeoutMs ?? 10_000, () => socket.destroy());
    } else if (res.shouldKeepAlive && !peerEnded && opts.isStopping?.() !== true) {
      socket.removeListener('data', onBody);
      socket.removeListener('end', onEnd);
      readNext();
    } else {
      socket.end();
    }
  });

  try {
    listener(req, res);
  } catch (err) {
    opts.log.error('app raised while handling request', { url: cgi.url, error: err instanceof Error ? err.stack ?? err.message : String(err) });
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Internal Server Error\n');
    } else {
      socket.destroy();
    }
  }
}

/** Connections kept between two requests of usher's router, waiting for the next one. */
type IdleSet = Set<net.Socket>;

/**
 * Read one packet from the connection, then hand it to dispatch (again for each kept request).
 * socket-timeout is logged only for a request that really is incomplete: a kept connection on which
 * the router sends nothing more is closed quietly (that is the router's choice, not a slow client).
 */
function readPacket(socket: net.Socket, listener: http.RequestListener, opts: UwsgiServerOptions, idle: IdleSet, kept: boolean): void {
  const parser = new UwsgiRequestParser({ bufferSize: opts.bufferSize });
  const headTimeoutMs = opts.headTimeoutMs ?? 30_000;
  const detach = (): void => {
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('timeout', onTimeout);
    socket.setTimeout(0);
    idle.delete(socket);
  };
  const onTimeout = (): void => {
    if (!kept || parser.buffered > 0) opts.log.warn('uwsgi peer sent no complete request within socket-timeout; closing', { seconds: Math.round(headTimeoutMs / 1000), got_bytes: parser.buffered });
    detach();
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    idle.delete(socket);
    let packet: UwsgiPacket | undefined;
    try {
      packet = parser.push(chunk);
    } catch (err) {
      detach();
      refuse(socket, err, opts.log);
      return;
    }
    if (packet === undefined) return;
    detach();
    dispatch(socket, packet, listener, opts, () => readPacket(socket, listener, opts, idle, true));
  };
  const onEnd = (): void => {
    detach();
    try {
      parser.end();
      socket.end();
    } catch (err) {
      refuse(socket, err, opts.log);
    }
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('timeout', onTimeout);
  socket.setTimeout(headTimeoutMs);
  if (kept) idle.add(socket);
}

/** A uwsgi server; closeIdleConnections() ends the kept connections waiting for a next request. */
export interface UwsgiServer extends net.Server {
  closeIdleConnections(): void;
}

export function createUwsgiServer(listener: http.RequestListener, opts: UwsgiServerOptions): UwsgiServer {
  const idle: IdleSet = new Set();
  // allowHalfOpen: a peer that half-closes after sending its request still gets the whole response.
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    socket.on('error', () => { /* the peer went away: nothing to answer */ });
    socket.once('close', () => idle.delete(socket));
    readPacket(socket, listener, opts, idle, false);
  }) as UwsgiServer;
  server.closeIdleConnections = (): void => {
    for (const socket of idle) socket.end();
    idle.clear();
  };
  return server;
}
