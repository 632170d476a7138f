/**
 * protocol/uwsgi: the uwsgi wire codec (what Nginx's uwsgi_pass and Apache's mod_proxy_uwsgi send).
 *
 * Wire format of a request:
 *   header  4 bytes: modifier1 (u8) | datasize (u16 little endian) | modifier2 (u8)
 *   vars    datasize bytes: repeated [keysize u16 LE][key][valsize u16 LE][value]
 *   body    CONTENT_LENGTH bytes (from the vars), raw
 * The response is a raw HTTP response written back on the same connection, ended by closing it.
 *
 * modifier1: 0 is the standard request (WSGI, and what Nginx/Apache send by default). The request-
 * carrying modifiers of other uWSGI plugins (5 PSGI, 6 Lua, 7 Rack, 8 JVM, 9 CGI, 14 PHP, ...) carry
 * the same CGI vars and are served alike; the special ones (ping 100, signals 110, 111 echo, 10
 * management, 17 spooler, 26 fastfunc, 72 raw, 99 config, 101-109, 112+...) are not requests: refused.
 *
 * Errors -> what the peer gets:
 *   USHER_ERR_UWSGI_TRUNCATED   the peer closed mid-packet: nothing can be answered; connection closed
 *   USHER_ERR_UWSGI_MALFORMED   400: a length runs past the vars block, an empty block, too many vars
 *   USHER_ERR_UWSGI_TOO_LARGE   413: datasize > buffer-size (the log line says to raise `buffer-size`)
 *   USHER_ERR_UWSGI_UNSUPPORTED 400: a modifier1 that is not a request
 * Must not: interpret the vars (protocol/cgi does), or know about sockets.
 */
import { UwsgiProtocolError } from '../errors.js';

export interface UwsgiPacket {
  readonly modifier1: number;
  readonly modifier2: number;
  readonly vars: Map<string, string>;
  readonly rest: Buffer;
}

export interface ParserOptions {
  /** The largest vars block accepted (uWSGI's `buffer-size`, default 4096). */
  readonly bufferSize: number;
  /** The most vars accepted in one packet. */
  readonly maxVars?: number;
}

const HEADER_SIZE = 4;
const DEFAULT_MAX_VARS = 256;
/** Modifiers that carry a request with CGI vars (uWSGI's packet-modifier table). */
const REQUEST_MODIFIERS = new Set([0, 5, 6, 7, 8, 9, 14, 30]);

function parseVars(block: Buffer, maxVars: number): Map<string, string> {
  if (block.length === 0) throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', 'empty vars block: a request needs at least REQUEST_METHOD');
  const vars = new Map<string, string>();
  let off = 0;
  const end = block.length;
  while (off < end) {
    if (off + 2 > end) throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', `key length at offset ${off} runs past the vars block (${end} bytes)`);
    const klen = block.readUInt16LE(off);
    off += 2;
    if (off + klen > end) throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', `key of ${klen} bytes at offset ${off} runs past the vars block (${end} bytes)`);
    const key = block.toString('latin1', off, off + klen);
    off += klen;
    if (off + 2 > end) throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', `value length for ${JSON.stringify(key)} runs past the vars block`);
    const vlen = block.readUInt16LE(off);
    off += 2;
    if (off + vlen > end) throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', `value of ${vlen} bytes for ${JSON.stringify(key)} runs past the vars block (${end} bytes)`);
    // Values are bytes; latin1 keeps every byte (PEP 3333's choice too); cgi re-decodes what needs UTF-8.
    const value = block.toString('latin1', off, off + vlen);
    off += vlen;
    if (klen === 0) continue; // an empty key carries nothing (some clients pad)
    vars.set(key, value);
    if (vars.size > maxVars) throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', `more than ${maxVars} vars in one packet`);
  }
  return vars;
}

function checkHeader(buf: Buffer, opts: ParserOptions): { modifier1: number; datasize: number; modifier2: number } {
  const modifier1 = buf[0] as number;
  const datasize = buf.readUInt16LE(1);
  const modifier2 = buf[3] as number;
  if (!REQUEST_MODIFIERS.has(modifier1)) {
    throw new UwsgiProtocolError('USHER_ERR_UWSGI_UNSUPPORTED', `modifier1 ${modifier1} is not a request usher serves (expected 0)`);
  }
  if (datasize > opts.bufferSize) {
    throw new UwsgiProtocolError('USHER_ERR_UWSGI_TOO_LARGE', `request vars are ${datasize} bytes, more than buffer-size (${opts.bufferSize}); raise \`buffer-size\` if such requests are legitimate`, 413);
  }
  if (datasize === 0) throw new UwsgiProtocolError('USHER_ERR_UWSGI_MALFORMED', 'empty vars block: a request needs at least REQUEST_METHOD');
  return { modifier1, datasize, modifier2 };
}

/** Incremental parser for one request head; any chunking of the input gives the same result. */
export class UwsgiRequestParser {
  private pending: Buffer | undefined;
  private done = false;

  constructor(private readonly opts: ParserOptions) {}

  push(chunk: Buffer): UwsgiPacket | undefined {
    if (this.done) throw new Error('UwsgiRequestParser: fed after the packet was complete');
    const buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    if (buf.length < HEADER_SIZE) {
      this.pending = buf;
      return undefined;
    }
    const h = checkHeader(buf, this.opts);
    const total = HEADER_SIZE + h.datasize;
    if (buf.length < total) {
      this.pending = buf;
      return undefined;
    }
    this.pending = undefined;
    this.done = true;
    const vars = parseVars(buf.subarray(HEADER_SIZE, total), this.opts.maxVars ?? DEFAULT_MAX_VARS);
    return { modifier1: h.modifier1, modifier2: h.modifier2, vars, rest: buf.subarray(total) };
  }

  end(): void {
    if (this.pending !== undefined && this.pending.length > 0) {
      const have = this.pending.length;
      this.pending = undefined;
      throw new UwsgiProtocolError('USHER_ERR_UWSGI_TRUNCATED', `the peer closed after ${have} bytes of an incomplete uwsgi packet`);
    }
  }
}

export function decodePacket(buf: Buffer, opts: ParserOptions): UwsgiPacket {
  const p = new UwsgiRequestParser(opts);
  const packet = p.push(buf);
  if (packet === undefined) {
    p.end();
    throw new UwsgiProtocolError('USHER_ERR_UWSGI_TRUNCATED', 'incomplete uwsgi packet');
  }
  return packet;
}

export function encodePacket(vars: Iterable<readonly [string, string]>, modifier1 = 0, modifier2 = 0): Buffer {
  const pairs: [Buffer, Buffer][] = [];
  let size = 0;
  for (const [k, v] of vars) {
    const kb = Buffer.from(k, 'latin1');
    const vb = Buffer.from(v, 'latin1');
    if (kb.length > 0xffff || vb.length > 0xffff) throw new UwsgiProtocolError('USHER_ERR_UWSGI_TOO_LARGE', `var ${k} is longer than the uwsgi protocol allows (65535 bytes)`, 413);
    pairs.push([kb, vb]);
    size += 4 + kb.length + vb.length;
  }
  if (size > 0xffff) throw new UwsgiProtocolError('USHER_ERR_UWSGI_TOO_LARGE', `request vars are ${size} bytes; the uwsgi protocol allows 65535`, 413);
  const out = Buffer.allocUnsafe(HEADER_SIZE + size);
  out[0] = modifier1;
  out.writeUInt16LE(size, 1);
  out[3] = modifier2;
  let off = HEADER_SIZE;
  for (const [kb, vb] of pairs) {
    out.writeUInt16LE(kb.length, off);
    kb.copy(out, off + 2);
    off += 2 + kb.length;
    out.writeUInt16LE(vb.length, off);
    vb.copy(out, off + 2);
    off += 2 + vb.length;
  }
  return out;
}
