/**
 * protocol/uwsgi: the uwsgi wire codec (what Nginx's uwsgi_pass, Apache's mod_proxy_uwsgi and usher's
 * own HTTP router send). Owns bytes <-> (modifier1, modifier2, vars); must not interpret the vars
 * (protocol/cgi does), know about sockets, or ever choose code from request data.
 *
 * Wire format of a request (every integer little endian):
 *   header  4 bytes   modifier1 u8 | datasize u16 | modifier2 u8
 *   vars    datasize  repeated: keysize u16 | key | valsize u16 | value   (keysize >= 1, valsize >= 0)
 *   body    CONTENT_LENGTH bytes (a var), raw; `rest` is whatever of it came with the head
 * The response is a raw HTTP response written back on the same connection (uWSGI's modifier1 72).
 *
 * modifier1 (uWSGI's packet table): served are the two kinds usher implements, 0 (WSGI/CGI vars: what
 * Nginx and Apache send by default) and 30 (the same with SCRIPT_NAME stripped from PATH_INFO; protocol/cgi
 * applies that). Refused with USHER_ERR_UWSGI_UNSUPPORTED, as uWSGI refuses a modifier1 no loaded plugin
 * handles: the other languages' requests (5 PSGI, 6 Lua/WSAPI, 7 Rack, 8 JVM, 9 CGI, 14 PHP, 15 Mono:
 * usher runs none of those, and serving them as 0 would pretend it did), the non-requests
 * (10 management, 17 spooler, 22 eval, 31-33 messages, 48 SNMP, 72 raw HTTP, 73/74 multicast, 95-99
 * cluster/reload/config, 100 ping, 101 echo, 109 legion, 110 signal, 111 cache, 173 RPC, 200 close mark,
 * 224 subscription, 255 response) and the plugin calls that would pick code or files other than the app
 * (18 symcall, 23 XSLT, 24 V8, 25 GridFS, 26 GlusterFS/fastfunc).
 * modifier2 is passed through (usher's router sets 1 to keep the connection; see worker/uwsgi-server).
 *
 * Vars are bytes; they become latin1 strings (one char per byte, as Node's own HTTP parser and PEP 3333
 * do), so nothing is lost and protocol/cgi decides what is UTF-8. A key sent twice: HTTP_* values are
 * joined as HTTP joins repeated fields (", ", "; " for HTTP_COOKIE), which is what Nginx >= 1.23 and
 * Apache send themselves; for any other key the last one wins, as a CGI environ built in order would.
 *
 * Errors, and what the peer gets (UwsgiProtocolError.status):
 *   USHER_ERR_UWSGI_TOO_LARGE    413  datasize > buffer-size (the message says to raise `buffer-size`)
 *   USHER_ERR_UWSGI_MALFORMED    400  a size runs past the vars block, an empty key, an empty vars block
 *                                     (a request needs REQUEST_METHOD), more than maxVars vars
 *   USHER_ERR_UWSGI_UNSUPPORTED  400  a modifier1 that is not a request usher serves
 *   USHER_ERR_UWSGI_TRUNCATED    400  the peer closed mid-packet: nobody is left to answer; just close
 */
import { UwsgiProtocolError } from '../errors.js';

export interface UwsgiPacket {
  readonly modifier1: number;
  readonly modifier2: number;
  readonly vars: Map<string, string>;
  /** Bytes that followed the vars block in what was pushed: the start of the body. */
  readonly rest: Buffer;
}

export interface ParserOptions {
  /** The largest vars block accepted (uWSGI's `buffer-size`, default 4096). */
  readonly bufferSize: number;
  /** The most vars accepted in one packet (default 256). */
  readonly maxVars?: number;
}

export const UWSGI_HEADER_SIZE = 4;
/** The largest vars block the 16-bit datasize can describe. */
export const UWSGI_MAX_DATASIZE = 0xffff;
const DEFAULT_MAX_VARS = 256;

/** modifier1 values that carry an HTTP request as CGI vars (see the header comment). */
export const REQUEST_MODIFIERS: ReadonlySet<number> = new Set([0, 30]);

function malformed(message: string): UwsgiProtocolError {
  return new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', `malformed uwsgi packet: ${message}`, 400);
}

function addVar(vars: Map<string, string>, key: string, value: string): void {
  const prev = vars.get(key);
  if (prev === undefined || !key.startsWith('HTTP_')) vars.set(key, value);
  else vars.set(key, prev + (key === 'HTTP_COOKIE' ? '; ' : ', ') + value);
}

/** Parse a whole vars block `buf[start, end)`; every size is checked against `end` before it is used. */
function parseVars(buf: Buffer, start: number, end: number, maxVars: number): Map<string, string> {
  const vars = new Map<string, string>();
  // One latin1 decode of the block, then substrings: latin1 is one char per byte, so offsets carry over,
  // and slicing a JS string is far cheaper than a Buffer -> string call per key and value.
  const text = buf.toString('latin1', start, end);
  let count = 0;
  let off = start;
  while (off < end) {
    if (off + 2 > end) throw malformed(`a key size at offset ${off - start} runs past the ${end - start}-byte vars block`);
    const klen = buf[off]! | (buf[off + 1]! << 8);
    off += 2;
    if (klen === 0) throw malformed(`an empty key at offset ${off - 2 - start}`);
    if (off + klen + 2 > end) throw malformed(`a ${klen}-byte key (and its value size) at offset ${off - start} runs past the ${end - start}-byte vars block`);
    const key = text.slice(off - start, off - start + klen);
    off += klen;
    const vlen = buf[off]! | (buf[off + 1]! << 8);
    off += 2;
    if (off + vlen > end) throw malformed(`the ${vlen}-byte value of ${JSON.stringify(key.slice(0, 64))} runs past the ${end - start}-byte vars block`);
    if (++count > maxVars) throw malformed(`more than ${maxVars} vars in one packet`);
    addVar(vars, key, text.slice(off - start, off - start + vlen));
    off += vlen;
  }
  return vars;
}

/**
 * Incremental parser for one request head; any chunking of the input gives the same result. The
 * header is checked as soon as its 4 bytes are in, so an oversized or foreign packet is refused
 * before its vars are buffered. When the whole head arrives in one chunk (the usual case) no bytes are
 * copied: the vars block is decoded in place, once, and `rest` is a view of that chunk.
 */
export class UwsgiRequestParser {
  readonly #bufferSize: number;
  readonly #maxVars: number;
  #chunks: Buffer[] = [];
  #have = 0;
  /** 4 + datasize once the header is known. */
  #total = 0;
  #modifier1 = 0;
  #modifier2 = 0;
  #state: 'head' | 'done' | 'failed' = 'head';

  constructor(opts: ParserOptions) {
    if (!Number.isInteger(opts.bufferSize) || opts.bufferSize < 1) throw new RangeError(`bufferSize must be a positive integer, got ${opts.bufferSize}`);
    this.#bufferSize = Math.min(opts.bufferSize, UWSGI_MAX_DATASIZE);
    this.#maxVars = opts.maxVars ?? DEFAULT_MAX_VARS;
  }

  /** Bytes of the head received so far (0: the peer has sent nothing of this packet). */
  get buffered(): number {
    return this.#have;
  }

  push(chunk: Buffer): UwsgiPacket | undefined {
    if (this.#state !== 'head') throw new Error(`UwsgiRequestParser: push() after the packet ${this.#state === 'done' ? 'was complete' : 'failed'}`);
    try {
      return this.#push(chunk);
    } catch (err) {
      this.#state = 'failed';
      this.#chunks = [];
      throw err;
    }
  }

  #push(chunk: Buffer): UwsgiPacket | undefined {
    if (chunk.length === 0) return undefined;
    if (this.#have === 0 && chunk.length >= UWSGI_HEADER_SIZE) {
      this.#readHeader(chunk);
      if (chunk.length >= this.#total) return this.#finish(chunk);
      this.#chunks.push(chunk);
      this.#have = chunk.length;
      return undefined;
    }
    this.#chunks.push(chunk);
    this.#have += chunk.length;
    if (this.#total === 0) {
      if (this.#have < UWSGI_HEADER_SIZE) return undefined;
      this.#readHeader(this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, UWSGI_HEADER_SIZE));
    }
    if (this.#have < this.#total) return undefined;
    const buf = Buffer.concat(this.#chunks, this.#have);
    this.#chunks = [];
    return this.#finish(buf);
  }

  #readHeader(head: Buffer): void {
    const modifier1 = head[0]!;
    const datasize = head[1]! | (head[2]! << 8);
    if (!REQUEST_MODIFIERS.has(modifier1)) {
      throw new UwsgiProtocolError('USHER_ERR_UWSGI_UNSUPPORTED', `uwsgi packet with modifier1 ${modifier1} is not a request usher serves (served: ${[...REQUEST_MODIFIERS].join(', ')})`, 400);
    }
    if (datasize > this.#bufferSize) {
      throw new UwsgiProtocolError('USHER_ERR_UWSGI_TOO_LARGE', `uwsgi request vars are ${datasize} bytes, more than buffer-size ${this.#bufferSize}: raise \`buffer-size\` (up to ${UWSGI_MAX_DATASIZE}) if such requests are legitimate`, 413);
    }
    if (datasize === 0) throw malformed('an empty vars block (a request needs at least REQUEST_METHOD)');
    this.#modifier1 = modifier1;
    this.#modifier2 = head[3]!;
    this.#total = UWSGI_HEADER_SIZE + datasize;
  }

  #finish(buf: Buffer): UwsgiPacket {
    const vars = parseVars(buf, UWSGI_HEADER_SIZE, this.#total, this.#maxVars);
    this.#state = 'done';
    return { modifier1: this.#modifier1, modifier2: this.#modifier2, vars, rest: buf.subarray(this.#total) };
  }

  /** The peer closed: a partial packet is an error, nothing pending is not. */
  end(): void {
    if (this.#state !== 'head' || this.#have === 0) return;
    const have = this.#have;
    const expected = this.#total === 0 ? 'a 4-byte header' : `${this.#total} bytes of head`;
    this.#state = 'failed';
    this.#chunks = [];
    throw new UwsgiProtocolError('USHER_ERR_UWSGI_TRUNCATED', `uwsgi peer closed after ${have} bytes of ${expected}`, 400);
  }
}

/** Parse a complete buffer (tests, tools): header, vars, and `rest` = everything after the vars. */
export function decodePacket(buf: Buffer, opts: ParserOptions): UwsgiPacket {
  const p = new UwsgiRequestParser(opts);
  const packet = p.push(buf);
  if (packet !== undefined) return packet;
  p.end();
  throw new UwsgiProtocolError('USHER_ERR_UWSGI_TRUNCATED', 'uwsgi packet is empty', 400);
}

/**
 * One packet head (header + vars) in a single allocation. Keys and values are written as latin1, one
 * byte per char (the inverse of the parser), so callers pass byte strings. Throws
 * USHER_ERR_UWSGI_TOO_LARGE (413) when a key, a value or the whole block passes 65535 bytes.
 */
export function encodePacket(vars: Iterable<readonly [string, string]>, modifier1 = 0, modifier2 = 0): Buffer {
  const pairs = Array.isArray(vars) ? (vars as readonly (readonly [string, string])[]) : [...vars];
  let size = 0;
  for (const [k, v] of pairs) {
    // latin1 is one byte per UTF-16 unit, so .length is the encoded size.
    if (k.length > UWSGI_MAX_DATASIZE || v.length > UWSGI_MAX_DATASIZE) {
      throw new UwsgiProtocolError('USHER_ERR_UWSGI_TOO_LARGE', `uwsgi var ${JSON.stringify(k.slice(0, 64))} is longer than the protocol's 65535 bytes`, 413);
    }
    size += 4 + k.length + v.length;
  }
  if (size > UWSGI_MAX_DATASIZE) {
    throw new UwsgiProtocolError('USHER_ERR_UWSGI_TOO_LARGE', `uwsgi request vars would be ${size} bytes; the protocol allows ${UWSGI_MAX_DATASIZE}`, 413);
  }
  if (!Number.isInteger(modifier1) || modifier1 < 0 || modifier1 > 255 || !Number.isInteger(modifier2) || modifier2 < 0 || modifier2 > 255) {
    throw new RangeError(`uwsgi modifiers are bytes, got ${modifier1}/${modifier2}`);
  }
  const out = Buffer.allocUnsafe(UWSGI_HEADER_SIZE + size);
  out[0] = modifier1;
  out[1] = size & 0xff;
  out[2] = size >>> 8;
  out[3] = modifier2;
  let off = UWSGI_HEADER_SIZE;
  for (const [k, v] of pairs) {
    out[off] = k.length & 0xff;
    out[off + 1] = k.length >>> 8;
    off += 2 + out.write(k, off + 2, k.length, 'latin1');
    out[off] = v.length & 0xff;
    out[off + 1] = v.length >>> 8;
    off += 2 + out.write(v, off + 2, v.length, 'latin1');
  }
  return out;
}
