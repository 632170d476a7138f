/**
 * router/request-body: what the router sends after the uwsgi packet, and how.
 * A body with a Content-Length is piped from the client to the worker as it arrives (back-pressure
 * both ways: the router holds a socket buffer's worth, not the body). A chunked body has no length,
 * and the uwsgi protocol needs CONTENT_LENGTH before the body, so it is spooled first: the first
 * SPOOL_MEMORY bytes in memory, past that everything in a temp file that is unlinked as soon as it is
 * opened (nothing is left behind if the router dies), then read back to the worker. A spooled body can
 * be sent again (a kept connection found closed); a piped one cannot.
 * Must not: hold a body whole in memory, or leave a temp file behind.
 */
import { closeSync, createReadStream, createWriteStream, open, unlink, type ReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type http from 'node:http';
import type net from 'node:net';
import { passed } from './reclaim.js';

/** Chunked bodies up to this size stay in memory; larger ones go to a temp file. */
export const SPOOL_MEMORY = 256 * 1024;

export type RequestBody =
  | { readonly kind: 'none' }
  /** Content-Length: piped from the client once. */
  | { readonly kind: 'piped'; readonly length: number }
  /** Chunked, spooled: in memory (`data`) or in an unlinked temp file (`fd`). */
  | { readonly kind: 'spooled'; readonly length: number; readonly data: Buffer | undefined; fd: number | undefined };

export class BodyTooLarge extends Error {}

let seq = 0;

/** Spool a chunked request body; `done` gets the body, or an error (BodyTooLarge past `limit`). */
export function spoolChunked(req: http.IncomingMessage, limit: number, done: (err: Error | undefined, body?: RequestBody) => void): void {
  const parts: Buffer[] = [];
  let size = 0;
  let file: ReturnType<typeof createWriteStream> | undefined;
  let fd: number | undefined;
  let opening = false;
  let settled = false;
  const settle = (err: Error | undefined, body?: RequestBody): void => {
    if (settled) return;
    settled = true;
    if (err !== undefined) {
      req.removeListener('data', onData);
      req.resume(); // read and discard the rest, so the client can be answered
      if (fd !== undefined) closeSync(fd);
    }
    done(err, body);
  };
  const toFile = (): void => {
    opening = true;
    req.pause();
    const path = join(tmpdir(), `usher-body-${process.pid}-${++seq}`);
    open(path, 'wx+', 0o600, (err, opened) => {
      if (err) { settle(err); return; }
      fd = opened;
      unlink(path, () => { /* best effort: the fd keeps the data either way */ });
      if (settled) { closeSync(opened); return; }
      file = createWriteStream('', { fd: opened, autoClose: false });
      file.on('error', (e) => settle(e));
      file.on('drain', () => req.resume());
      for (const p of parts.splice(0)) file.write(p);
      req.resume();
      if (req.readableEnded) finish();
    });
  };
  const onData = (c: Buffer): void => {
    size += c.length;
    passed(c.length);
    if (size > limit) { settle(new BodyTooLarge(`chunked body larger than ${limit} bytes`)); return; }
    if (file !== undefined) {
      if (!file.write(c)) req.pause();
      return;
    }
    parts.push(c);
    if (size > SPOOL_MEMORY && !opening) toFile();
  };
  const finish = (): void => {
    if (settled) return;
    if (file === undefined) {
      if (size > SPOOL_MEMORY) return; // the temp file is being opened: it finishes there
      settle(undefined, { kind: 'spooled', length: size, data: Buffer.concat(parts, size), fd: undefined });
      return;
    }
    file.end(() => settle(undefined, { kind: 'spooled', length: size, data: undefined, fd }));
  };
  req.on('data', onData);
  req.on('end', finish);
  req.on('error', (e) => settle(e));
  req.on('close', () => { if (!req.complete) settle(new Error('the client went away mid-body')); });
}

/** Send the body after the packet; `sent` runs once the last byte is handed to the socket. Returns a stopper. */
export function sendBody(req: http.IncomingMessage, body: RequestBody, socket: net.Socket, sent: () => void): (() => void) | undefined {
  if (body.kind === 'none') { sent(); return undefined; }
  if (body.kind === 'piped') {
    req.once('end', sent);
    req.on('data', onPiped);
    req.pipe(socket, { end: false });
    return () => { req.unpipe(socket); req.removeListener('data', onPiped); };
  }
  if (body.data !== undefined) {
    socket.write(body.data);
    sent();
    return undefined;
  }
  if (body.length === 0 || body.fd === undefined) { sent(); return undefined; }
  const stream: ReadStream = createReadStream('', { fd: body.fd, start: 0, end: body.length - 1, autoClose: false });
  stream.once('end', sent);
  stream.on('data', onPiped);
  stream.on('error', () => socket.destroy());
  stream.pipe(socket, { end: false });
  // Not destroy(): that would close the fd, which the next attempt (or disposeBody) still owns.
  return () => { stream.unpipe(socket); stream.pause(); };
}

function onPiped(c: Buffer | string): void {
  passed(c.length);
}

/** Release what a body holds (the temp file's fd). Idempotent. */
export function disposeBody(body: RequestBody): void {
  if (body.kind === 'spooled' && body.fd !== undefined) {
    const fd = body.fd;
    body.fd = undefined;
    closeSync(fd);
  }
}
