/**
 * child/limit-post: uWSGI's `limit-post` for Node workers and the HTTP router: a request body larger
 * than the limit is answered 413 before the app sees it when Content-Length says so, and the moment the
 * limit is crossed when the body is chunked (the app's own response is then ignored, its connection
 * closed). uWSGI 2.0 logs "Invalid (too big) CONTENT_LENGTH", records a 500 and closes; a clear 413 is
 * usher's choice. One log line per refusal.
 * Must not: buffer the body, or cost anything when the limit is off.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';

const BODY = 'Request Entity Too Large (limit-post)\n';

/**
 * With a Content-Length, the connection closes after the 413 the usual way, which reads and drops the
 * unread body first (a proxy still sending it would otherwise see a reset and say 502); a chunked body
 * that crossed the limit is cut at once.
 */
function refuse(req: IncomingMessage, res: ServerResponse, limit: number, seen: string, log: Logger, cut: boolean): void {
  log.warn('request body over limit-post; answered 413', { method: req.method, url: req.url, limit, size: seen });
  if (!res.headersSent) {
    res.shouldKeepAlive = false;
    res.writeHead(413, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY, cut ? () => req.socket.destroy() : undefined);
  } else {
    req.socket.destroy();
  }
  (res as ServerResponse & { cut?: boolean }).cut = true; // a worker's TrackedResponse then ignores the app's later writes
}

export function withLimitPost(limit: number, log: Logger, next: RequestListener): RequestListener {
  if (limit <= 0) return next;
  return (req: IncomingMessage, res: ServerResponse) => {
    const cl = req.headers['content-length'];
    if (cl !== undefined) {
      if (Number(cl) > limit) return refuse(req, res, limit, cl, log, false);
      return next(req, res);
    }
    if (req.headers['transfer-encoding'] !== undefined) {
      // Chunked: count what the parser hands the stream; past the limit, nothing more reaches the app.
      let seen = 0;
      const push = req.push.bind(req);
      req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
        if (chunk !== null && chunk !== undefined && seen <= limit) {
          seen += (chunk as Buffer).length;
          if (seen > limit) {
            refuse(req, res, limit, `>${limit}`, log, true);
            return false;
          }
        }
        return seen > limit ? false : push(chunk, encoding);
      };
    }
    next(req, res);
  };
}
