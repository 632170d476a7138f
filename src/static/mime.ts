/**
 * static/mime: the extension -> Content-Type table, read from `mimefile`s in the mime.types format
 * (`type ext ext ...`, `#` comments; the first file to name an extension wins, as in uWSGI) with a
 * built-in fallback for machines without /etc/mime.types. The fallback is the same list in
 * python/usher_wsgi/static.py (`BUILTIN_MIME`); a test compares the two.
 * Must not: guess from content (no sniffing): an unknown extension is application/octet-stream.
 */
import { readFileSync } from 'node:fs';

export const DEFAULT_MIMEFILE = '/etc/mime.types';
export const UNKNOWN_TYPE = 'application/octet-stream';

/** Used when no mimefile can be read. Kept short: the common web types. */
export const BUILTIN_MIME: Readonly<Record<string, string>> = Object.freeze({
  html: 'text/html', htm: 'text/html', css: 'text/css', js: 'text/javascript', mjs: 'text/javascript',
  json: 'application/json', map: 'application/json', xml: 'application/xml', txt: 'text/plain', csv: 'text/csv',
  md: 'text/markdown', svg: 'image/svg+xml', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg',
  gif: 'image/gif', webp: 'image/webp', avif: 'image/avif', ico: 'image/vnd.microsoft.icon', bmp: 'image/bmp',
  woff: 'font/woff', woff2: 'font/woff2', ttf: 'font/ttf', otf: 'font/otf', eot: 'application/vnd.ms-fontobject',
  pdf: 'application/pdf', zip: 'application/zip', gz: 'application/gzip', br: 'application/x-brotli',
  tar: 'application/x-tar', wasm: 'application/wasm', mp4: 'video/mp4', webm: 'video/webm', ogg: 'audio/ogg',
  mp3: 'audio/mpeg', wav: 'audio/wav', webmanifest: 'application/manifest+json',
});

export interface MimeTable {
  readonly types: ReadonlyMap<string, string>;
  /** The files it was read from; empty when the built-in table is in use. */
  readonly sources: readonly string[];
  /** Files that were named but could not be read. */
  readonly unreadable: readonly string[];
}

/** Parse one mime.types text into `into` (first mention of an extension wins). */
export function parseMimeTypes(text: string, into: Map<string, string>): void {
  for (const line of text.split('\n')) {
    const hash = line.indexOf('#');
    const fields = (hash < 0 ? line : line.slice(0, hash)).split(/[ \t\r]+/).filter((f) => f !== '');
    if (fields.length < 2) continue;
    const type = fields[0]!;
    for (const ext of fields.slice(1)) {
      const e = ext.toLowerCase();
      if (!into.has(e)) into.set(e, type);
    }
  }
}

/** Read the mimefiles in order (default /etc/mime.types); none readable -> the built-in table. */
export function loadMimeTable(files: readonly string[]): MimeTable {
  const wanted = files.length > 0 ? files : [DEFAULT_MIMEFILE];
  const types = new Map<string, string>();
  const sources: string[] = [];
  const unreadable: string[] = [];
  for (const f of wanted) {
    let text: string;
    try {
      text = readFileSync(f, 'latin1');
    } catch {
      unreadable.push(f);
      continue;
    }
    parseMimeTypes(text, types);
    sources.push(f);
  }
  if (sources.length === 0) for (const [e, t] of Object.entries(BUILTIN_MIME)) types.set(e, t);
  return { types, sources, unreadable };
}

/** The extension as uWSGI takes it: the alphanumeric run after the last dot of the last segment. */
export function extensionOf(name: string): string | undefined {
  const m = /\.([A-Za-z0-9]+)$/.exec(name);
  return m ? m[1]!.toLowerCase() : undefined;
}

export function mimeTypeFor(table: MimeTable, name: string): string {
  const ext = extensionOf(name);
  return (ext !== undefined ? table.types.get(ext) : undefined) ?? UNKNOWN_TYPE;
}
