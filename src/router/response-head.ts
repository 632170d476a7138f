/**
 * router/response-head: reads the head of the raw HTTP response a worker writes on a uwsgi connection
 * (status line and header lines, up to the blank line). Only usher's own workers and uwsgi apps speak
 * here, and the body after the head is passed through untouched until the worker closes, so no body
 * framing is parsed; the head is bounded and every malformed line is an error (the client gets 502).
 * A hand-written head reader, because node:http's parser costs a whole ClientRequest per response
 * (measured: the router served 3x fewer requests/s through it).
 * Must not: interpret bodies, or accept a head larger than the bound.
 */

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  /** Flat [name, value, ...]. */
  readonly headers: string[];
  /** Bytes after the head: the start of the body. */
  readonly rest: Buffer;
}

export class ResponseHeadError extends Error {}

const MAX_HEAD = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

export class ResponseHeadReader {
  private buf: Buffer | undefined;

  /** Feed bytes; returns the head once complete. Throws ResponseHeadError on a malformed head. */
  push(chunk: Buffer): ResponseHead | undefined {
    const searchFrom = this.buf === undefined ? 0 : Math.max(0, this.buf.length - 3);
    const buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
    const end = buf.indexOf(CRLFCRLF, searchFrom);
    if (end < 0) {
      if (buf.length > MAX_HEAD) throw new ResponseHeadError(`response head larger than ${MAX_HEAD} bytes`);
      this.buf = buf;
      return undefined;
    }
    this.buf = undefined;
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
    if (!m) throw new ResponseHeadError(`bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
    const headers: string[] = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon <= 0 || /[\s]/.test(line.slice(0, colon))) throw new ResponseHeadError(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
      headers.push(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return { status: Number(m[1]), reason: m[2] ?? '', headers, rest: buf.subarray(end + 4) };
  }
}
