/**
 * static/rules: the HTTP semantics of a static response, as pure functions of a file's size and mtime
 * and the request headers: dates, ETag, Accept-Encoding, If-None-Match / If-Modified-Since (-> 304),
 * Range / If-Range (-> 206 or 416), and the static-expires rules. Mirrored in
 * python/usher_wsgi/static.py; the shared corpus holds both to the same answers.
 * Must not: touch the filesystem or the clock (`now` is passed in).
 */
import type { ExpiresRule } from './spec.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MON = MONTHS.join('|');
const IMF_FIXDATE = new RegExp(`^(?:${DAYS.join('|')}), (\\d{2}) (${MON}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const RFC850 = new RegExp(`^(?:${LONG_DAYS.join('|')}), (\\d{2})-(${MON})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const ASCTIME = new RegExp(`^(?:${DAYS.join('|')}) (${MON}) ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`);

/** IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) of whole seconds since the epoch. */
export function httpDate(seconds: number): string {
  return new Date(seconds * 1000).toUTCString();
}

function utc(y: number, mon: string, d: number, h: number, mi: number, s: number): number | undefined {
  if (y < 1970 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  return Date.UTC(y, MONTHS.indexOf(mon), d, h, mi, s) / 1000;
}

/** The three date forms RFC 9110 says a recipient must accept; anything else is undefined (ignored). */
export function parseHttpDate(v: string): number | undefined {
  let m = IMF_FIXDATE.exec(v);
  if (m) return utc(Number(m[3]), m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = RFC850.exec(v);
  if (m) {
    const yy = Number(m[3]);
    return utc(yy < 70 ? 2000 + yy : 1900 + yy, m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME.exec(v);
  if (m) return utc(Number(m[6]), m[1]!, Number(m[2]!.trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return undefined;
}

/** A strong validator from mtime and size (as Nginx makes them), tagged with the content coding served. */
export function makeEtag(mtime: number, size: number, coding: string | undefined): string {
  return `"${mtime.toString(16)}-${size.toString(16)}${coding ? `-${coding}` : ''}"`;
}

/** Which precompressed codings the client takes: a coding listed with q=0 is refused. */
export function acceptedCodings(header: string | undefined): { br: boolean; gzip: boolean } {
  const out = { br: false, gzip: false };
  for (const part of (header ?? '').split(',')) {
    const [name = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    // a malformed qvalue counts as a refusal: never send a coding the client may not decode
    if (q !== undefined && !(/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(q.slice(2)) && Number(q.slice(2)) > 0)) continue;
    if (name === 'br') out.br = true;
    else if (name === 'gzip' || name === 'x-gzip') out.gzip = true;
  }
  return out;
}

function weak(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** RFC 9110 13.2.2 for GET/HEAD: If-None-Match (weak comparison) wins over If-Modified-Since. */
export function notModified(headers: Readonly<Record<string, string | undefined>>, etag: string, mtime: number): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) {
    if (inm.trim() === '*') return true;
    return inm.split(',').some((t) => weak(t.trim()) === weak(etag));
  }
  const ims = headers['if-modified-since'];
  if (ims === undefined) return false;
  const when = parseHttpDate(ims.trim());
  return when !== undefined && mtime <= when;
}

export type RangeAnswer =
  | { readonly kind: 'whole' }
  | { readonly kind: 'unsatisfiable' }
  | { readonly kind: 'part'; readonly start: number; readonly end: number };

/**
 * One `bytes=` range. A multi-range is answered with the whole file (200), which RFC 9110 allows;
 * an invalid header is ignored; an empty file ignores Range (nothing to slice).
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined || size === 0) return { kind: 'whole' };
  const m = /^bytes=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' };
  const big = BigInt(size);
  if (m[1] === '') {
    const n = BigInt(m[2]!);
    if (n === 0n) return { kind: 'unsatisfiable' };
    return { kind: 'part', start: Number(n >= big ? 0n : big - n), end: size - 1 };
  }
  const start = BigInt(m[1]!);
  const end = m[2] === '' ? big - 1n : BigInt(m[2]!);
  if (m[2] !== '' && end < start) return { kind: 'whole' };
  if (start >= big) return { kind: 'unsatisfiable' };
  return { kind: 'part', start: Number(start), end: Number(end >= big ? big - 1n : end) };
}

/** If-Range: the range applies only if the validator is still current (an ETag strongly, a date exactly). */
export function ifRangeHolds(header: string | undefined, etag: string, mtime: number): boolean {
  if (header === undefined) return true;
  const v = header.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return v === etag;
  const when = parseHttpDate(v);
  return when !== undefined && when === mtime;
}

export interface CompiledExpires extends ExpiresRule {
  readonly re: RegExp | undefined;
}

export function compileExpires(rules: readonly ExpiresRule[]): CompiledExpires[] {
  return rules.map((r) => ({ ...r, re: r.on === 'type' ? undefined : new RegExp(r.match) }));
}

/** Expires/Cache-Control from the first rule that matches (file path, then URI, then type). */
export function expiresHeaders(rules: readonly CompiledExpires[], file: string, target: string, type: string, mtime: number, now: number): [string, string][] {
  for (const r of rules) {
    const hit = r.on === 'type' ? r.match === type : r.re!.test(r.on === 'file' ? file : target);
    if (!hit) continue;
    const at = (r.fromMtime ? mtime : now) + r.seconds;
    return [['Cache-Control', `max-age=${Math.max(0, at - now)}`], ['Expires', httpDate(at)]];
  }
  return [];
}
