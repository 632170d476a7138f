/**
 * static/serve: writes a static decision to a node:http response. The body is streamed from the fd
 * the resolver opened (64 KiB reads, paused while the client is slow), so memory stays bounded
 * whatever the file size. Node has no sendfile(2): bytes pass through user space, unlike the Python
 * worker's os.sendfile. Exactly the promised Content-Length is sent; if the file shrinks mid-send the
 * connection is destroyed instead of ending a response short (which would desync a kept-alive client).
 * Must not: decide anything (static/resolve does) or buffer a whole file.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger, type Logger } from '../log.js';
import { StaticResolver, type StaticDecision } from './resolve.js';
import type { StaticSpec } from './spec.js';

const CHUNK = 64 * 1024;
const defaultLog = createLogger('static');

type ServedDecision = Exclude<StaticDecision, { kind: 'pass' }>;

/** Send a decision (anything but 'pass'). Resolves when the response is finished or aborted; never rejects. */
export function serveStatic(d: ServedDecision, req: IncomingMessage, res: ServerResponse, log: Logger = defaultLog): Promise<void> {
  if (d.kind === 'respond') {
    res.writeHead(d.status, d.headers.flat());
    res.end(req.method === 'HEAD' ? undefined : d.body);
    return Promise.resolve();
  }
  res.writeHead(d.status, d.headers.flat());
  if (d.head || d.length === 0) {
    res.end();
    return d.file.close().catch(() => undefined);
  }
  return new Promise((resolve) => {
    const stream = d.file.createReadStream({ start: d.start, end: d.start + d.length - 1, highWaterMark: CHUNK, autoClose: true });
    let sent = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve();
    };
    stream.on('data', (chunk: Buffer | string) => {
      sent += chunk.length;
      if (!res.write(chunk)) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => {
      if (sent === d.length) {
        res.end(finish);
        return;
      }
      log.warn('file shrank while being sent; connection closed', { path: d.path, promised: d.length, sent });
      res.destroy();
      finish();
    });
    stream.on('error', (err) => {
      log.warn('file read failed mid-send; connection closed', { path: d.path, error: err.message });
      res.destroy();
      finish();
    });
    res.on('close', () => {
      if (!res.writableFinished) stream.destroy();
      finish();
    });
  });
}

export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * The hook for Node workers and the HTTP router: `if (await handler(req, res)) return;` before the app
 * (or the upstream) sees the request. Resolves true when it answered. Not GET/HEAD, outside every
 * mapping, or no such file: false, and the request is untouched.
 */
export function createStaticHandler(spec: StaticSpec, log: Logger = defaultLog): StaticHandler {
  const resolver = new StaticResolver(spec);
  // An explicit mimefile that cannot be read is worth a warning; a machine without /etc/mime.types is not.
  for (const f of resolver.mime.unreadable) (spec.mimefiles.length > 0 ? log.warn : log.info)('mimefile unreadable', { path: f });
  if (resolver.mime.sources.length === 0) log.info('no mimefile readable; using the built-in MIME table', { types: resolver.mime.types.size });
  return async (req, res) => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return false;
    const d = await resolver.resolve({ method, target: req.url ?? '/', headers: req.headers as Record<string, string | undefined> });
    if (d.kind === 'pass') return false;
    if (d.kind === 'respond' && d.status !== 304) log.warn('static request refused', { status: d.status, reason: d.reason, uri: req.url });
    await serveStatic(d, req, res, log);
    return true;
  };
}
