/**
 * router/body: where a worker's response body ends. Content-Length counts bytes; chunked (what a
 * Python worker uses on a kept connection when the app gave no length) is decoded here, strictly
 * (hex size, CRLF, data, CRLF; a last-chunk with no trailers); otherwise the body runs to the end of
 * the connection. Must not: accept a malformed chunk stream (the client gets the connection reset).
 */

export type Framing = { kind: 'length'; remaining: number } | { kind: 'chunked' } | { kind: 'close' } | { kind: 'none' };

export class BodyError extends Error {}

/** Feeds body bytes; emits the payload through `out`; returns true once the body is complete. */
export class BodyReader {
  private state: 'size' | 'data' | 'data-crlf' | 'last-crlf' | 'done' = 'size';
  private sizeLine = '';
  private chunkLeft = 0;
  private remaining: number;
  /** Bytes after the end of the body (there must be none on this link). */
  leftover = 0;

  constructor(readonly framing: Framing, private readonly out: (b: Buffer) => void) {
    this.remaining = framing.kind === 'length' ? framing.remaining : 0;
    if (framing.kind === 'none' || (framing.kind === 'length' && this.remaining === 0)) this.state = 'done';
  }

  get done(): boolean {
    return this.state === 'done';
  }

  push(b: Buffer): boolean {
    if (this.state === 'done') {
      this.leftover += b.length;
      return true;
    }
    if (this.framing.kind === 'close') {
      this.out(b);
      return false;
    }
    if (this.framing.kind === 'length') {
      const part = b.length > this.remaining ? b.subarray(0, this.remaining) : b;
      this.remaining -= part.length;
      if (part.length > 0) this.out(part);
      this.leftover += b.length - part.length;
      if (this.remaining === 0) this.state = 'done';
      return this.state === 'done';
    }
    let i = 0;
    while (i < b.length && this.state !== 'done') {
      if (this.state === 'size') {
        const nl = b.indexOf(10, i);
        const end = nl < 0 ? b.length : nl;
        this.sizeLine += b.toString('latin1', i, end);
        if (this.sizeLine.length > 32) throw new BodyError('chunk size line too long');
        if (nl < 0) return false;
        i = nl + 1;
        const line = this.sizeLine.replace(/\r$/, '').split(';')[0]?.trim() ?? '';
        this.sizeLine = '';
        if (!/^[0-9a-fA-F]+$/.test(line)) throw new BodyError(`bad chunk size ${JSON.stringify(line)}`);
        this.chunkLeft = parseInt(line, 16);
        this.state = this.chunkLeft === 0 ? 'last-crlf' : 'data';
      } else if (this.state === 'data') {
        const n = Math.min(this.chunkLeft, b.length - i);
        this.out(b.subarray(i, i + n));
        this.chunkLeft -= n;
        i += n;
        if (this.chunkLeft === 0) this.state = 'data-crlf';
      } else {
        // data-crlf / last-crlf: exactly CRLF
        const nl = b.indexOf(10, i);
        if (nl < 0) { i = b.length; continue; }
        i = nl + 1;
        this.state = this.state === 'last-crlf' ? 'done' : 'size';
      }
    }
    this.leftover += b.length - i;
    return this.state === 'done';
  }
}

export function framingOf(status: number, method: string, headers: readonly string[]): { framing: Framing; keepAlive: boolean } {
  let length: number | undefined;
  let chunked = false;
  let keepAlive = true;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = (headers[i] as string).toLowerCase();
    const value = (headers[i + 1] as string).toLowerCase();
    if (name === 'content-length') length = Number(value);
    else if (name === 'transfer-encoding') chunked = value.includes('chunked');
    else if (name === 'connection' && value.includes('close')) keepAlive = false;
  }
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) return { framing: { kind: 'none' }, keepAlive };
  if (chunked) return { framing: { kind: 'chunked' }, keepAlive };
  if (length !== undefined && Number.isInteger(length) && length >= 0) return { framing: { kind: 'length', remaining: length }, keepAlive };
  return { framing: { kind: 'close' }, keepAlive: false };
}
