/**
 * static/uri: turns a raw request target into the path segments a static mapping may look up, or says
 * why it must be refused. Safe by construction: the only thing that leaves here is a list of plain
 * segments, none of them `.`, `..`, empty, or holding a `/`, `\`, NUL or control byte, decoded from
 * strict UTF-8 (overlong forms and surrogates refused). Mirrored line for line in
 * python/usher_wsgi/static.py (`decode_target`); the shared corpus holds both to the same answers.
 * Must not: touch the filesystem.
 */

/** Why a path is refused (the `reason` of a 403); stable, the corpus and the logs use them. */
export type PathRefusal = 'bad-char' | 'bad-encoding' | 'encoded-slash' | 'bad-utf8' | 'traversal' | 'dotfile';

export type DecodedTarget =
  | { readonly ok: true; readonly segments: readonly string[] }
  | { readonly ok: false; readonly reason: PathRefusal }
  /** Not an origin-form path (`*`, `http://...`): never static. */
  | { readonly ok: false; readonly reason: 'not-a-path' };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** RFC 8615's folder is the one dot-segment a site legitimately publishes (ACME challenges). */
export const ALLOWED_DOT_SEGMENT = '.well-known';

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** The path part (before `?`) of a target, as the bytes it stands for; `target` is latin-1 (one char a byte). */
export function decodeTarget(target: string): DecodedTarget {
  const q = target.indexOf('?');
  const raw = q < 0 ? target : target.slice(0, q);
  if (!raw.startsWith('/')) return { ok: false, reason: 'not-a-path' };
  return checkSegments(plainAscii(raw) ? raw : decodeBytes(raw));
}

/** Printable ASCII without `%` or `\`: decodes to itself, so the byte-by-byte pass can be skipped. */
function plainAscii(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25 || c === 0x5c) return false;
  }
  return true;
}

/** Percent-decode, then strict UTF-8; a refusal instead when a byte or the encoding is not allowed. */
function decodeBytes(raw: string): string | DecodedTarget {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    let c = raw.charCodeAt(i);
    if (c > 0xff) return { ok: false, reason: 'bad-char' };
    if (c === 0x25) { // %
      const h = i + 2 < raw.length ? hexVal(raw.charCodeAt(i + 1)) : -1;
      const l = h >= 0 ? hexVal(raw.charCodeAt(i + 2)) : -1;
      if (l < 0) return { ok: false, reason: 'bad-encoding' };
      c = h * 16 + l;
      i += 2;
      if (c === 0x2f || c === 0x5c) return { ok: false, reason: 'encoded-slash' };
    }
    if (c < 0x20 || c === 0x7f || c === 0x5c) return { ok: false, reason: 'bad-char' };
    bytes.push(c);
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return { ok: false, reason: 'bad-utf8' };
  }
}

function checkSegments(text: string | DecodedTarget): DecodedTarget {
  if (typeof text !== 'string') return text;
  const segments = text.split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (s === '.' || s === '..') return { ok: false, reason: 'traversal' };
  }
  for (const s of segments) {
    if (s.startsWith('.') && s !== ALLOWED_DOT_SEGMENT) return { ok: false, reason: 'dotfile' };
  }
  return { ok: true, segments };
}

/** The segments of a mountpoint (`/static/` and `/static` are the same mount; `/` is every path). */
export function mountSegments(mount: string): string[] {
  return mount.split('/').filter((s) => s !== '');
}

/** Does a path fall under a mount? Whole segments only: `/static` covers `/static/a`, not `/staticfoo`. */
export function underMount(segments: readonly string[], mount: readonly string[]): boolean {
  if (segments.length < mount.length) return false;
  return mount.every((m, i) => segments[i] === m);
}

/** For a target that failed to decode: could it be meant for a mount? (Then it is refused, else the app gets it.) */
export function rawUnderMount(target: string, mount: string): boolean {
  const m = mount.endsWith('/') ? mount.slice(0, -1) : mount;
  if (m === '') return true;
  return target === m || target.startsWith(m + '/') || target.startsWith(m + '?') || target.startsWith(m + '%');
}
