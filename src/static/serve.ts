/**
 * static/serve: writes a static decision to a node:http response. A file whose bytes static/cache
 * keeps is answered from them; a small one is read whole; a larger one is streamed from the fd the
 * resolver opened through at most RING buffers of CHUNK bytes, each read into again only once the
 * socket has written it, so memory per response is fixed whatever the file size or the client's speed.
 * Node has no sendfile(2): bytes pass through user space, unlike the Python worker's os.sendfile.
 * Exactly the promised Content-Length is sent; if the file shrinks mid-send the connection is
 * destroyed instead of ending a response short (which would desync a kept-alive client).
 * Must not: decide anything (static/resolve does) or buffer a whole file larger than SMALL.
 */
import { closeSync, readSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger, type Logger } from '../log.js';
import { StaticResolver, type StaticDecision } from './resolve.js';
import type { StaticSpec } from './spec.js';

/** Bytes read and written at a time, and how many such pieces one response may have on their way. */
const CHUNK = 256 * 1024;
const RING = 2;
/** Chunk buffers kept for the next responses once written (the rest go to the GC). */
const SPARE = 4;
/** Files up to this size are read at once, synchronously (see sendSmall). */
const SMALL = 64 * 1024;
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

/** Spare chunk buffers, shared by every response of the process (bounded: see SPARE). */
const spare: Buffer[] = [];

function takeChunk(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

function giveChunk(b: Buffer): void {
  if (spare.length < SPARE) spare.push(b);
}

/**
 * Read the file, synchronously, into at most RING chunk buffers and hand each to the socket; a buffer
 * is read into again only once the socket says it is written. So at most RING x CHUNK bytes are held
 * per response, whatever the file size and however slow the client. Reads are synchronous for the
 * reason small files and lookups are (a page-cache copy costs less than two thread-pool hand-offs;
 * measured: a third of the CPU of a 1 MiB response went to them); on a cold disk a read blocks the
 * worker, as Nginx's do without aio.
 */
function pump(d: Extract<ServedDecision, { kind: 'file' }>, res: ServerResponse, log: Logger): Promise<void> {
  if (res.destroyed) {
    // The client left while the file was being looked up: 'close' has fired already, so close the fd here.
    closeSync(d.fd);
    return DONE;
  }
  return new Promise((resolve) => {
    let pos = d.start;
    let remaining = d.length;
    let writing = 0;
    let finished = false;
    const finish = (whole: boolean): void => {
      if (finished) return;
      finished = true;
      closeSync(d.fd);
      if (whole) res.end(() => resolve());
      else {
        res.destroy(); // never end short of the Content-Length: the client must see a cut, not a response
        resolve();
      }
    };
    const fill = (): void => {
      while (!finished && writing < RING) {
        if (remaining === 0) return finish(true);
        const chunk = takeChunk();
        let n: number;
        try {
          n = readSync(d.fd, chunk, 0, Math.min(CHUNK, remaining), pos);
        } catch (err) {
          giveChunk(chunk);
          log.warn('file read failed mid-send; connection closed', { path: d.path, error: (err as Error).message });
          return finish(false);
        }
        if (n === 0) {
          giveChunk(chunk);
          log.warn('file shrank while being sent; connection closed', { path: d.path, promised: d.length, sent: d.length - remaining });
          return finish(false);
        }
        pos += n;
        remaining -= n;
        writing++;
        const done = (err?: Error | null): void => {
          writing--;
          // A buffer goes back for reuse only once written; one whose write failed is left to the GC.
          if (err) return finish(false);
          giveChunk(chunk);
          fill();
        };
        if (remaining === 0) {
          // The last piece goes out with the end of the response (one write fewer).
          finished = true;
          closeSync(d.fd);
          res.end(chunk.subarray(0, n), () => {
            giveChunk(chunk);
            resolve();
          });
          return;
        }
        res.write(chunk.subarray(0, n), done);
      }
    };
    res.on('close', () => {
      if (!res.writableFinished) finish(false);
      resolve(); // the response is over either way (an end() callback may never come on a cut connection)
    });
    fill();
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
