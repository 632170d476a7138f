/**
 * static/serve: writes a static decision to a node:http response. The body is streamed from the fd
 * the resolver opened through a ring of four 64 KiB buffers, reused only once the socket has
 * written them, so memory per response is fixed whatever the file size or the client's speed.
 * Node has no sendfile(2): bytes pass through user space, unlike the Python worker's os.sendfile. Exactly the promised Content-Length is sent; if the file shrinks mid-send the
 * connection is destroyed instead of ending a response short (which would desync a kept-alive client).
 * Must not: decide anything (static/resolve does) or buffer a whole file.
 */
import { close, closeSync, read, readSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger, type Logger } from '../log.js';
import { StaticResolver, type StaticDecision } from './resolve.js';
import type { StaticSpec } from './spec.js';

const CHUNK = 64 * 1024;
const RING = 4;
/** Files up to this size are read at once, synchronously (see sendSmall). */
const SMALL = 64 * 1024;
const ignore = (): void => undefined;
const defaultLog = createLogger('static');

type ServedDecision = Exclude<StaticDecision, { kind: 'pass' }>;
const DONE = Promise.resolve();

/**
 * Send a decision (anything but 'pass'). Resolves once the whole response is handed to node:http (a
 * streamed file: sent, or cut); never rejects.
 * Headers go to writeHead as the resolver's [name, value] pairs, which node:http takes as they are.
 */
export function serveStatic(d: ServedDecision, req: IncomingMessage, res: ServerResponse, log: Logger = defaultLog): Promise<void> {
  if (d.kind === 'respond') {
    res.writeHead(d.status, d.headers);
    res.end(req.method === 'HEAD' ? undefined : d.body);
    return DONE;
  }
  if (d.head || d.length === 0) {
    res.writeHead(d.status, d.headers);
    res.end();
    if (d.fd >= 0) closeSync(d.fd);
    return DONE;
  }
  if (d.body !== undefined) {
    // The file's bytes, kept by static/cache: no fd, no read.
    res.writeHead(d.status, d.headers);
    res.end(d.start === 0 && d.length === d.body.length ? d.body : d.body.subarray(d.start, d.start + d.length));
    return DONE;
  }
  if (d.length <= SMALL && !res.destroyed) return sendSmall(d, res, log);
  res.writeHead(d.status, d.headers);
  return pump(d, res, log);
}

/**
 * A small file (most CSS, JS, icons) is read in one synchronous pread, as the lookups before it are:
 * handing a few KiB to libuv's thread pool costs more (a wake-up and a callback each for read and
 * close; measured: about a third of a static request's CPU) than the read itself from the page cache.
 */
function sendSmall(d: Extract<ServedDecision, { kind: 'file' }>, res: ServerResponse, log: Logger): Promise<void> {
  const body = Buffer.allocUnsafe(d.length);
  let got = 0;
  try {
    while (got < d.length) {
      const n = readSync(d.fd, body, got, d.length - got, d.start + got);
      if (n === 0) break;
      got += n;
    }
  } catch (err) {
    log.warn('file read failed; connection closed', { path: d.path, error: (err as Error).message });
  } finally {
    closeSync(d.fd);
  }
  if (got < d.length) {
    if (got > 0 || d.length > 0) log.warn('file shrank before it was sent; connection closed', { path: d.path, promised: d.length, read: got });
    res.destroy(); // never a body shorter than its Content-Length
    return Promise.resolve();
  }
  res.writeHead(d.status, d.headers);
  res.end(body);
  return DONE;
}

/**
 * Read the file into a fixed ring of buffers and hand each to the socket; a buffer is reused only
 * once the socket says it is written. So at most RING x CHUNK bytes are held per response, whatever
 * the file size and however slow the client, without waiting on the garbage collector.
 */
function pump(d: Extract<ServedDecision, { kind: 'file' }>, res: ServerResponse, log: Logger): Promise<void> {
  if (res.destroyed) {
    // The client left while the file was being looked up: 'close' has fired already, so close the fd here.
    close(d.fd, ignore);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    // Buffers are made on demand, up to RING, and no larger than the body: a small file costs one small buffer.
    const size = Math.min(CHUNK, d.length);
    const free: Buffer[] = [];
    let made = 0;
    let pos = d.start;
    let remaining = d.length;
    let reading = false;
    let finished = false;
    const finish = (whole: boolean): void => {
      if (finished) return;
      finished = true;
      close(d.fd, ignore);
      if (whole) res.end(() => resolve());
      else {
        res.destroy(); // never end short of the Content-Length: the client must see a cut, not a response
        resolve();
      }
    };
    const next = (): void => {
      if (finished || reading) return;
      if (remaining === 0) return finish(true);
      let buf = free.pop();
      if (buf === undefined && made < RING) {
        buf = Buffer.allocUnsafeSlow(size);
        made++;
      }
      if (buf === undefined) return; // every buffer is on its way to the client: wait for one
      const chunk = buf;
      reading = true;
      // The callback form with the raw fd: no promise per chunk, so a long send makes little garbage.
      read(d.fd, chunk, 0, Math.min(size, remaining), pos, (err, bytesRead) => {
        reading = false;
        if (finished) return;
        if (err) {
          log.warn('file read failed mid-send; connection closed', { path: d.path, error: err.message });
          return finish(false);
        }
        if (bytesRead === 0) {
          log.warn('file shrank while being sent; connection closed', { path: d.path, promised: d.length, sent: d.length - remaining });
          return finish(false);
        }
        pos += bytesRead;
        remaining -= bytesRead;
        if (remaining === 0) {
          // The last piece goes out with the end of the response (one write fewer for small files).
          finished = true;
          close(d.fd, ignore);
          res.end(chunk.subarray(0, bytesRead), () => resolve());
          return;
        }
        res.write(chunk.subarray(0, bytesRead), (err) => {
          free.push(chunk);
          if (err) finish(false);
          else next();
        });
        next();
      });
    };
    res.on('close', () => {
      if (!res.writableFinished) finish(false);
      resolve(); // the response is over either way (an end() callback may never come on a cut connection)
    });
    next();
  });
}

export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

type Attempt = (req: IncomingMessage, res: ServerResponse) => Promise<void> | undefined;

/**
 * Look a request up and start its answer, synchronously (the lookups are): undefined when it is not a
 * static file, else a promise of the end of the response.
 */
function attempt(spec: StaticSpec, log: Logger): Attempt {
  const resolver = new StaticResolver(spec);
  // An explicit mimefile that cannot be read is worth a warning; a machine without /etc/mime.types is not.
  for (const f of resolver.mime.unreadable) (spec.mimefiles.length > 0 ? log.warn : log.info)('mimefile unreadable', { path: f });
  if (resolver.mime.sources.length === 0) log.info('no mimefile readable; using the built-in MIME table', { types: resolver.mime.types.size });
  return (req, res) => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    let d: StaticDecision;
    try {
      d = resolver.resolve({ method, target: req.url ?? '/', headers: req.headers as Record<string, string | undefined> });
    } catch (err) {
      // Not a refusal the resolver knows (EMFILE, EIO...): answer 500 rather than let a worker crash.
      log.error('static lookup failed', { uri: req.url, error: (err as Error).message });
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '22' }).end('Internal Server Error\n');
      return DONE;
    }
    if (d.kind === 'pass') return undefined;
    if (d.kind === 'respond' && d.status !== 304) log.warn('static request refused', { status: d.status, reason: d.reason, uri: req.url });
    return serveStatic(d, req, res, log);
  };
}

/**
 * The hook for Node workers and the HTTP router: `if (await handler(req, res)) return;` before the app
 * (or the upstream) sees the request. Resolves true when it answered. Not GET/HEAD, outside every
 * mapping, or no such file: false, and the request is untouched.
 */
export function createStaticHandler(spec: StaticSpec, log: Logger = defaultLog): StaticHandler {
  const tryStatic = attempt(spec, log);
  return async (req, res) => {
    const sent = tryStatic(req, res);
    if (sent === undefined) return false;
    await sent;
    return true;
  };
}

/**
 * The one-line hook: a listener that tries static files first and hands everything else to `next`
 * (the app in a Node worker, the forwarder in the HTTP router), in the same turn. No spec: `next`
 * itself, no cost.
 */
export function staticFirst(spec: StaticSpec | null | undefined, next: (req: IncomingMessage, res: ServerResponse) => void, log: Logger = defaultLog): (req: IncomingMessage, res: ServerResponse) => void {
  if (spec === null || spec === undefined) return next;
  const tryStatic = attempt(spec, log);
  return (req, res) => {
    if (tryStatic(req, res) === undefined) next(req, res);
  };
}
