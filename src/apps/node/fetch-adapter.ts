/**
 * apps/node/fetch-adapter: runs a fetch-style handler `(Request) => Response` as a node:http
 * listener: the request body streams in, the response body streams out with backpressure.
 * Must not: buffer bodies whole, or turn a handler's exception into anything but a logged 500.
 */
import type http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { createLogger } from '../../log.js';

export type FetchHandler = (request: Request) => Response | Promise<Response>;

const log = createLogger(`worker ${process.env.USHER_WORKER_ID ?? process.pid}`);

function toRequest(req: http.IncomingMessage): Request {
  const host = req.headers.host ?? 'localhost';
  const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const url = new URL(req.url ?? '/', `${scheme}://${host}`);
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    // Request refuses hop-by-hop/forbidden framing headers in some runtimes; they mean nothing here.
    try { headers.append(name, value); } catch { /* invalid header name: drop */ }
  }
  const method = req.method ?? 'GET';
  const controller = new AbortController();
  req.once('close', () => { if (!req.complete) controller.abort(); });
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: controller.signal };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(url, init);
}

/** Told when the handler throws or rejects (the worker counts it and answers 500); else the adapter does. */
export type OnException = (req: http.IncomingMessage, res: http.ServerResponse, err: unknown) => void;

function defaultOnException(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
  log.error('fetch handler failed', { url: req.url, error: err instanceof Error ? err.stack ?? err.message : String(err) });
  if (!res.headersSent) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Internal Server Error\n');
  } else {
    res.destroy();
  }
}

export function fetchToListener(handler: FetchHandler, onException: OnException = defaultOnException): http.RequestListener {
  return (req, res) => {
    void (async () => {
      let response: Response;
      try {
        response = await handler(toRequest(req));
        if (!(response instanceof Response)) throw new TypeError(`handler returned ${typeof response}, not a Response`);
      } catch (err) {
        onException(req, res, err);
        return;
      }
      const headers: [string, string][] = [];
      response.headers.forEach((value, name) => {
        if (name !== 'set-cookie') headers.push([name, value]);
      });
      for (const cookie of response.headers.getSetCookie()) headers.push(['set-cookie', cookie]);
      res.writeHead(response.status, response.statusText || undefined, headers.flat());
      if (response.body === null || req.method === 'HEAD') {
        res.end();
        return;
      }
      try {
        await pipeline(Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>), res);
      } catch (err) {
        // The client went away, or the body stream failed: nothing more can be sent.
        if (!res.destroyed) res.destroy();
        if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
          log.warn('response body stream failed', { url: req.url, error: err instanceof Error ? err.message : String(err) });
        }
      }
    })();
  };
}
