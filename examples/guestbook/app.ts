/**
 * The guestbook, usher's demo: the seed's Django guestbook as a plain node:http request listener in
 * TypeScript. usher loads it with `app = app.ts` and runs it in every worker process.
 *   GET  /                 entries, newest first, and the form
 *   POST /                 add an entry (urlencoded form, CSRF token, 303 redirect back to /)
 *   GET  /api/entries      JSON, newest first (?limit=1..200)
 *   POST /api/entries      JSON {name, message}; needs Content-Type: application/json, which a
 *                          cross-site form cannot send without a CORS preflight we never grant
 *   GET  /static/style.css served here too, so the demo works without Nginx/Apache in front
 *   GET  /healthz
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addEntry, listEntries, validate } from './db.js';
import { COOKIE, cookieHeader, newToken, readCookie, tokensMatch } from './csrf.js';
import { errorPage, page } from './views.js';

const MAX_BODY = 64 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const CSS = readFileSync(join(here, 'static', 'style.css'));

class HttpError extends Error {
  constructor(readonly status: number, readonly title: string, detail: string) { super(detail); }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY) { reject(new HttpError(413, 'Too large', `Requests are limited to ${MAX_BODY / 1024} KiB.`)); return; }
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new HttpError(413, 'Too large', `Requests are limited to ${MAX_BODY / 1024} KiB.`)); req.resume(); return; }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

function html(res: ServerResponse, status: number, body: string, token?: string): void {
  send(res, status, 'text/html; charset=utf-8', body, { 'cache-control': 'no-store', ...(token ? { 'set-cookie': cookieHeader(token) } : {}) });
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://guestbook.local');
  const method = req.method ?? 'GET';
  if (url.pathname === '/' && (method === 'GET' || method === 'HEAD')) {
    const token = readCookie(req.headers.cookie, COOKIE) ?? newToken();
    html(res, 200, page(listEntries(), token), token);
    return;
  }
  if (url.pathname === '/' && method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const cookie = readCookie(req.headers.cookie, COOKIE);
    if (!tokensMatch(cookie, form.get('csrf') ?? undefined)) {
      throw new HttpError(403, 'Form expired', 'The form could not be verified (CSRF token missing or stale). Reload the page and try again.');
    }
    const name = (form.get('name') ?? '').trim();
    const message = (form.get('message') ?? '').trim();
    const errors = validate(name, message);
    if (Object.keys(errors).length > 0) {
      html(res, 400, page(listEntries(), cookie as string, { name, message, errors }));
      return;
    }
    addEntry(name, message);
    res.writeHead(303, { location: '/', 'content-length': 0 });
    res.end();
    return;
  }
  if (url.pathname === '/api/entries' && method === 'GET') {
    const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 50) || 50, 1), 200);
    json(res, 200, { entries: listEntries(limit) });
    return;
  }
  if (url.pathname === '/api/entries' && method === 'POST') {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new HttpError(415, 'Unsupported media type', 'Send Content-Type: application/json.');
    }
    let body: { name?: unknown; message?: unknown };
    try { body = JSON.parse(await readBody(req)) as typeof body; } catch { throw new HttpError(400, 'Bad JSON', 'The body is not valid JSON.'); }
    const name = typeof body.name === 'string' ? body.name.trim() : '';
    const message = typeof body.message === 'string' ? body.message.trim() : '';
    const errors = validate(name, message);
    if (Object.keys(errors).length > 0) { json(res, 400, { errors }); return; }
    json(res, 201, { entry: addEntry(name, message) });
    return;
  }
  if (url.pathname === '/static/style.css') {
    send(res, 200, 'text/css; charset=utf-8', CSS, { 'cache-control': 'public, max-age=3600' });
    return;
  }
  if (url.pathname === '/healthz') { json(res, 200, { ok: true, pid: process.pid }); return; }
  throw new HttpError(404, 'Not found', `Nothing at ${url.pathname}.`);
}

export default function guestbook(req: IncomingMessage, res: ServerResponse): void {
  route(req, res).catch((err: unknown) => {
    const e = err instanceof HttpError ? err : new HttpError(500, 'Server error', 'Something went wrong; it has been logged.');
    if (!(err instanceof HttpError)) console.error('guestbook: request failed:', err);
    if (res.headersSent) { res.destroy(); return; }
    if ((req.url ?? '').startsWith('/api/')) json(res, e.status, { error: e.message });
    else html(res, e.status, errorPage(e.status, e.title, e.message));
  });
}
