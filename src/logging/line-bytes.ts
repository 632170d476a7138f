/**
 * logging/line-bytes: uWSGI's default request line (logging/format's uwsgiLine) written straight into
 * the log queue's buffer, byte for byte what encoding that line as UTF-8 gives. The string path built a
 * ~30-piece concatenation per request, which the queue then flattened and encoded; here printable-ASCII
 * fields (nearly all) are stored a byte per character, numbers digit by digit, and only a field that
 * is not printable ASCII goes through escapeLine and the UTF-8 encoder, alone (every text field sits
 * between ASCII literals, so encoding it alone is encoding it in the line).
 * Must not: differ from uwsgiLine by one byte (test/logging/line-bytes.test.ts compares them).
 */
import type { RequestFacts } from './facts.js';
import { ctime } from './strftime.js';

/** Writes the line (newline included) at `off`; returns where it ends. The caller makes room first (room()). */
export type LineWriter = (f: RequestFacts, buf: Buffer, off: number) => number;

/** ASCII text known to need no escaping (the `[pid: ...` head, String(n) of an odd number): a byte per character. */
function ascii(buf: Buffer, o: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[o++] = s.charCodeAt(i);
  return o;
}

/** A literal of the line, as bytes (copied from a typed array, no string read per character). */
const lit = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

/**
 * `pre`, then a request's text field: a byte per character while it is printable ASCII (what
 * escapeLine leaves alone); at the first other character, the whole field again through `esc`
 * (escapeLine) and UTF-8. A literal and its field in one call: a call less per field (V8 does not
 * inline this many call sites).
 */
function text(buf: Buffer, o: number, pre: Uint8Array, s: string, esc: (s: string) => string): number {
  for (let i = 0; i < pre.length; i++) buf[o++] = pre[i] as number;
  const start = o;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return start + buf.write(esc(s), start);
    buf[o++] = c;
  }
  return o;
}

/** `pre`, then a number as `'' + n` writes it: digits for a non-negative integer below 2^31, String(n) otherwise. */
function num(buf: Buffer, o: number, pre: Uint8Array, n: number): number {
  for (let i = 0; i < pre.length; i++) buf[o++] = pre[i] as number;
  if ((n | 0) !== n || n < 0) return ascii(buf, o, String(n));
  if (n < 10) { buf[o] = 48 + n; return o + 1; }
  let digits = 2;
  for (let t = n; t >= 100; t = (t / 10) | 0) digits++;
  let at = o + digits;
  for (let t = n; at > o; t = (t / 10) | 0) buf[--at] = 48 + (t % 10);
  return o + digits;
}

/**
 * Bytes the line may take: its literals and numbers (under 512: ten numbers of up to 24 characters), the text fields at 6 bytes a character
 * at worst (escapeLine's `\u2028` for one UTF-16 unit).
 */
export function room(f: RequestFacts): number {
  return 512 + 6 * (f.addr.length + f.user.length + f.method.length + f.uri.length + f.proto.length);
}

const NONE = lit('');
const SLASH = lit('/');
const ADDR = lit('] ');
const USER = lit(' (');
const VARS = lit(') {');
const PKTSIZE = lit(' vars in ');
const WHEN = lit(' bytes} [');
const METHOD = lit('] ');
const URI = lit(' ');
const RSIZE = lit(' => generated ');
const DUR = lit(' bytes in ');
const STATUS = lit(' ');
const HEADERS = lit(') ');
const HSIZE = lit(' headers in ');
const SWITCHES = lit(' bytes (');
const CORE = lit(' switches on core ');

/** uwsgiLine(micros, false, '\n') as bytes (the memory-report variant keeps the string path); `esc` is escapeLine. */
export function uwsgiLineBytes(micros: boolean, esc: (s: string) => string): LineWriter {
  const unit = lit(micros ? ' micros (' : ' msecs (');
  let pid = -1;
  let head = '';
  let sec = -1;
  let when = '';
  return (f, buf, o) => {
    if (f.pid !== pid) { pid = f.pid; head = `[pid: ${pid}|app: 0|req: `; }
    const s = Math.floor(f.startUs / 1e6);
    if (s !== sec) { sec = s; when = ctime(new Date(s * 1000)); }
    o = ascii(buf, o, head);
    o = num(buf, o, NONE, f.req);
    o = num(buf, o, SLASH, f.req);
    o = text(buf, o, ADDR, f.addr, esc);
    o = text(buf, o, USER, f.user, esc);
    o = num(buf, o, VARS, f.vars);
    o = num(buf, o, PKTSIZE, f.pktsize);
    o = text(buf, o, WHEN, when, esc);
    o = text(buf, o, METHOD, f.method, esc);
    o = text(buf, o, URI, f.uri, esc);
    o = num(buf, o, RSIZE, f.rsize);
    o = num(buf, o, DUR, micros ? f.durUs : Math.floor(f.durUs / 1000));
    o = text(buf, o, unit, f.proto, esc);
    o = num(buf, o, STATUS, f.status);
    o = num(buf, o, HEADERS, f.headers);
    o = num(buf, o, HSIZE, f.hsize);
    o = num(buf, o, SWITCHES, f.switches);
    o = num(buf, o, CORE, f.core);
    buf[o++] = 0x29; // ')'
    buf[o++] = 0x0a;
    return o;
  };
}
