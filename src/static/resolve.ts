/**
 * static/resolve: (mappings, request) -> a decision: not static (the app gets it), serve this open
 * file with these headers (200/206), or answer 304/403/404/416 without a body from disk.
 * Safe by construction: the path comes from static/uri (no `..`, no encoded slash, strict UTF-8), the
 * candidate is resolved with realpath and must sit in the mapping's real root (or a `static-safe`
 * folder), then it is opened with O_NOFOLLOW and the kernel's own name for the open fd
 * (/proc/self/fd/N) is checked again, so what was checked is what is read; sizes come from fstat of
 * that fd, so a file replaced or growing mid-send never changes what was promised.
 * The lookups (realpath, open, fstat: a few microseconds each on a local disk) are synchronous, as
 * Nginx makes them: through libuv's thread pool they cost several thread hand-offs per request and cut
 * small-file throughput several-fold on a busy machine. Reading the body (static/serve) is synchronous too.
 * A file found so is remembered (static/cache): the next request for the same path costs one stat(2)
 * while the file's identity (dev, ino, size, mtime and ctime in ns) is unchanged, and nothing else.
 * Mirrored in python/usher_wsgi/static.py (`Resolver`); test/fixtures/static/corpus.json holds both.
 * Must not: write to the client (static/serve does), or list a folder.
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync, statSync, type BigIntStats } from 'node:fs';
import { FileCache, sameFile, type CacheEntry, type FileIdentity, type FileMeta } from './cache.js';
import { loadMimeTable, mimeTypeFor, type MimeTable } from './mime.js';
import { acceptedCodings, compileExpires, expiresHeaders, httpDate, ifRangeHolds, makeEtag, notModified, parseRange, type CompiledExpires } from './rules.js';
import type { StaticMapping, StaticSpec } from './spec.js';
import { ALLOWED_DOT_SEGMENT, decodeTarget, mountSegments, rawUnderMount, underMount } from './uri.js';

export interface StaticRequest {
  readonly method: string;
  /** The raw request target (path and query, percent-encoded), one char per byte (latin-1). */
  readonly target: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Seconds since the epoch (for Expires); default now. */
  readonly now?: number;
}

export type Header = [string, string];

export type StaticDecision =
  /** Not a static file: the app gets the request. */
  | { readonly kind: 'pass'; readonly reason: 'method' | 'not-a-path' | 'no-mapping' | 'missing' | 'skip-ext' }
  /** An answer with a tiny in-memory body (403, 404, 416) or none (304). */
  | { readonly kind: 'respond'; readonly status: 304 | 403 | 404 | 416; readonly reason: string; readonly headers: Header[]; readonly body: string }
  /**
   * Send `length` bytes from `start` of the open file (which the server must close), or of `body`, the
   * whole file as static/cache keeps it (then `fd` is -1: nothing to close).
   */
  | { readonly kind: 'file'; readonly status: 200 | 206; readonly headers: Header[]; readonly fd: number; readonly path: string; readonly start: number; readonly length: number; readonly head: boolean; readonly body?: Buffer };

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK; // libuv adds O_CLOEXEC itself
/** A cached candidate is opened by its own name, which may be a symlink the checks already followed. */
const REOPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;
const BIG = { bigint: true } as const;
const STAT_OPTS = { bigint: true, throwIfNoEntry: false } as const;
const NS = 1_000_000_000n;
const BODIES: Record<403 | 404 | 416, string> = { 403: 'Forbidden\n', 404: 'Not Found\n', 416: 'Range Not Satisfiable\n' };

interface Root { readonly real: string; readonly isFile: boolean }
/** `direct`: the candidate itself is the file (not a folder's index). */
interface Found { readonly kind: 'file'; readonly fd: number; readonly path: string; readonly size: number; readonly mtime: number; readonly id: FileIdentity; readonly direct: boolean }
type Probe = Found | { readonly kind: 'missing' } | { readonly kind: 'refused'; readonly status: 403 | 404; readonly reason: string };
const MISSING: Probe = { kind: 'missing' };

function refusal(status: 403 | 404 | 416, reason: string, extra: Header[] = []): StaticDecision {
  const body = BODIES[status];
  return { kind: 'respond', status, reason, headers: [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Length', String(Buffer.byteLength(body))], ...extra], body };
}

function within(p: string, dir: string): string[] | undefined {
  if (p === dir) return [];
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return p.startsWith(prefix) ? p.slice(prefix.length).split('/') : undefined;
}

/** The kernel's name for an open fd (Linux); undefined where /proc is not mounted. */
function procName(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? '';
}

/** Whole seconds since the epoch, rounded down as Math.floor(mtimeMs / 1000) is (mtimes before 1970 too). */
function floorSeconds(ns: bigint): number {
  const s = ns / NS;
  return Number(ns < 0n && s * NS !== ns ? s - 1n : s);
}

function identity(st: BigIntStats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** Exactly `size` bytes from the start of an open file, or undefined if it is shorter now (or unreadable). */
function readWhole(fd: number, size: number): Buffer | undefined {
  const body = Buffer.allocUnsafeSlow(size);
  let got = 0;
  try {
    while (got < size) {
      const n = readSync(fd, body, got, size - got, got);
      if (n === 0) return undefined;
      got += n;
    }
  } catch {
    return undefined;
  }
  return body;
}

export class StaticResolver {
  readonly spec: StaticSpec;
  readonly mime: MimeTable;
  private readonly mounts: { readonly map: StaticMapping; readonly segs: string[] }[];
  private readonly roots = new Map<string, Root>();
  private readonly safe: string[];
  private readonly expires: CompiledExpires[];
  private readonly cache: FileCache | undefined;

  /** `cache: false` looks every request up from scratch (see static/cache for what is kept). */
  constructor(spec: StaticSpec, mime: MimeTable = loadMimeTable(spec.mimefiles), opts: { cache?: boolean } = {}) {
    this.spec = spec;
    this.cache = opts.cache === false ? undefined : new FileCache();
    this.mime = mime;
    this.mounts = spec.maps.map((map) => ({ map, segs: mountSegments(map.mount) }));
    this.safe = spec.safe.map((p) => { try { return realpathSync(p); } catch { return p; } });
    this.expires = compileExpires(spec.expires);
  }

  resolve(req: StaticRequest): StaticDecision {
    if (req.method !== 'GET' && req.method !== 'HEAD') return { kind: 'pass', reason: 'method' };
    const d = decodeTarget(req.target);
    if (!d.ok) {
      if (d.reason === 'not-a-path') return { kind: 'pass', reason: 'not-a-path' };
      return this.mounts.some((m) => rawUnderMount(req.target, m.map.mount)) ? refusal(403, d.reason) : { kind: 'pass', reason: 'no-mapping' };
    }
    const path = `/${d.segments.join('/')}`;
    let matched = false;
    for (const { map, segs } of this.mounts) {
      if (!underMount(d.segments, segs)) continue;
      matched = true;
      if (this.spec.skipExt.some((e) => path.endsWith(e))) return { kind: 'pass', reason: 'skip-ext' };
      const root = this.rootOf(map.root);
      if (root === undefined) continue;
      let probe: Probe;
      if (root.isFile) {
        probe = d.segments.length === segs.length ? this.openSafe(root.real, root, false) : MISSING;
      } else {
        const rel = map.keepMount ? d.segments : d.segments.slice(segs.length);
        const candidate = [root.real === '/' ? '' : root.real, ...rel].join('/') || '/';
        const hit = this.fromCache(candidate, req);
        if (hit !== undefined) return hit;
        probe = this.openSafe(candidate, root, true);
        if (this.cache !== undefined && probe.kind === 'file' && probe.direct && !this.skipped(probe.path) && !this.gzipEligible(probe.path)) return this.remember(this.cache, candidate, probe, req);
      }
      if (probe.kind === 'missing') continue;
      if (probe.kind === 'refused') return refusal(probe.status, probe.reason);
      if (this.skipped(probe.path)) {
        closeSync(probe.fd);
        return { kind: 'pass', reason: 'skip-ext' };
      }
      return this.answer(probe, root, req);
    }
    return { kind: 'pass', reason: matched ? 'missing' : 'no-mapping' };
  }

  private skipped(path: string): boolean {
    return this.spec.skipExt.some((e) => path.endsWith(e));
  }

  private gzipEligible(path: string): boolean {
    return this.spec.gzipAll || this.spec.gzipDirs.some((p) => path.startsWith(p));
  }

  /**
   * A candidate looked up before and still the same file (static/cache): its kept bytes, or the file
   * opened again by name and checked to be that file. Anything else: undefined, and the full lookup runs.
   */
  private fromCache(candidate: string, req: StaticRequest): StaticDecision | undefined {
    const cache = this.cache;
    const e = cache?.get(candidate);
    if (cache === undefined || e === undefined) return undefined;
    let st: BigIntStats | undefined;
    try {
      st = statSync(candidate, STAT_OPTS);
    } catch {
      st = undefined; // ENOTDIR, EACCES...: the full lookup gives the right answer
    }
    if (st === undefined || !sameFile(e.id, st)) {
      cache.drop(candidate);
      return undefined;
    }
    if (e.body !== undefined) return this.decide(e.meta, req, -1, e.body);
    let fd: number;
    try {
      fd = openSync(candidate, REOPEN_FLAGS);
    } catch {
      cache.drop(candidate);
      return undefined;
    }
    let ok = false;
    try {
      ok = sameFile(e.id, fstatSync(fd, BIG)); // what was opened is what was checked, not a swap since the stat
    } finally {
      if (!ok) {
        closeSync(fd);
        cache.drop(candidate);
      }
    }
    if (!ok) return undefined;
    return this.withBody(cache, candidate, e, fd, req);
  }

  /** Store what the full lookup found for a candidate, then answer from it. */
  private remember(cache: FileCache, candidate: string, f: Found, req: StaticRequest): StaticDecision {
    const meta: FileMeta = { path: f.path, size: f.size, mtime: f.mtime, type: mimeTypeFor(this.mime, f.path), etag: makeEtag(f.mtime, f.size, undefined), lastModified: httpDate(f.mtime) };
    const entry: CacheEntry = { id: f.id, meta, body: undefined };
    cache.set(candidate, entry);
    return this.withBody(cache, candidate, entry, f.fd, req);
  }

  /** Answer from an open fd, keeping the file's bytes first if the cache wants them (then the fd is closed). */
  private withBody(cache: FileCache, candidate: string, e: CacheEntry, fd: number, req: StaticRequest): StaticDecision {
    if (!cache.wantsBody(e.id)) return this.decide(e.meta, req, fd, undefined);
    const body = readWhole(fd, e.meta.size);
    if (body === undefined) return this.decide(e.meta, req, fd, undefined); // shrank: serve (and fail) as before
    closeSync(fd);
    cache.set(candidate, { id: e.id, meta: e.meta, body });
    return this.decide(e.meta, req, -1, body);
  }

  /** A mapping's real root, looked up until it exists (uWSGI skips a missing root the same way). */
  private rootOf(dir: string): Root | undefined {
    const known = this.roots.get(dir);
    if (known !== undefined) return known;
    try {
      const real = realpathSync.native(dir);
      const root = { real, isFile: statSync(real).isFile() };
      this.roots.set(dir, root);
      return root;
    } catch {
      return undefined;
    }
  }

  /** Is a real path one the mapping may serve? Inside its root with no dot-segment, or inside a static-safe folder. */
  private allowed(real: string, root: Root): 'ok' | 'symlink-escape' | 'dotfile' {
    if (root.isFile) return real === root.real ? 'ok' : 'symlink-escape';
    const rel = within(real, root.real) ?? this.safe.map((s) => within(real, s)).find((r) => r !== undefined);
    if (rel === undefined) return 'symlink-escape';
    return rel.some((s) => s.startsWith('.') && s !== ALLOWED_DOT_SEGMENT) ? 'dotfile' : 'ok';
  }

  private openSafe(candidate: string, root: Root, allowIndex: boolean): Probe {
    let real: string;
    try {
      real = realpathSync.native(candidate);
    } catch (e) {
      const c = errCode(e);
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ENAMETOOLONG') return MISSING;
      return { kind: 'refused', status: 403, reason: c === 'ELOOP' ? 'symlink-loop' : 'unreadable' };
    }
    const verdict = this.allowed(real, root);
    if (verdict !== 'ok') return { kind: 'refused', status: 403, reason: verdict };
    let fd: number;
    try {
      fd = openSync(real, OPEN_FLAGS);
    } catch (e) {
      const c = errCode(e);
      if (c === 'ENOENT') return MISSING;
      return { kind: 'refused', status: 403, reason: c === 'ELOOP' ? 'symlink-escape' : 'unreadable' };
    }
    try {
      // What the kernel says this fd is: a rename or symlink swap after realpath cannot smuggle in another file.
      const opened = procName(fd) ?? real;
      if (opened !== real && this.allowed(opened, root) !== 'ok') {
        closeSync(fd);
        return { kind: 'refused', status: 403, reason: 'symlink-escape' };
      }
      const st = fstatSync(fd, BIG);
      if (st.isDirectory()) {
        closeSync(fd);
        if (!allowIndex) return MISSING;
        for (const idx of this.spec.index) {
          const p = this.openSafe(`${opened === '/' ? '' : opened}/${idx}`, root, false);
          if (p.kind === 'file') return { ...p, direct: false };
          if (p.kind !== 'missing') return p;
        }
        return MISSING; // never a listing: the app gets folder paths without an index
      }
      if (!st.isFile()) {
        closeSync(fd);
        return { kind: 'refused', status: 404, reason: 'not-regular' };
      }
      return { kind: 'file', fd, path: opened, size: Number(st.size), mtime: floorSeconds(st.mtimeNs), id: identity(st), direct: true };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** A precompressed sibling to serve instead (br before gzip), and whether any exists (for Vary). */
  private variant(base: Found, root: Root, accept: string | undefined): { found?: Found; coding?: string; vary: boolean } {
    if (!this.gzipEligible(base.path)) return { vary: false };
    const ok = acceptedCodings(accept);
    let out: { found?: Found; coding?: string; vary: boolean } = { vary: false };
    for (const [coding, ext] of [['br', '.br'], ['gzip', '.gz']] as const) {
      const p = this.openSafe(base.path + ext, root, false);
      if (p.kind !== 'file') continue;
      if (out.found === undefined && ok[coding]) out = { found: p, coding, vary: true };
      else {
        out.vary = true;
        closeSync(p.fd);
      }
    }
    return out;
  }

  private answer(base: Found, root: Root, req: StaticRequest): StaticDecision {
    const type = mimeTypeFor(this.mime, base.path);
    const v = this.variant(base, root, req.headers['accept-encoding']);
    const f = v.found ?? base;
    if (v.found !== undefined) closeSync(base.fd);
    const meta: FileMeta = { path: f.path, size: f.size, mtime: f.mtime, type, etag: makeEtag(f.mtime, f.size, v.coding), lastModified: httpDate(f.mtime) };
    return this.decide(meta, req, f.fd, undefined, v.coding, v.vary, base.path);
  }

  /**
   * The answer for one file (an open fd, or -1 with its bytes in `body`): 304, 416, or 200/206 with
   * its headers. Content-Type and static-expires go by the uncompressed file (`typePath`).
   */
  private decide(meta: FileMeta, req: StaticRequest, fd: number, body: Buffer | undefined, coding?: string, vary = false, typePath = meta.path): StaticDecision {
    const release = (): void => {
      if (fd >= 0) closeSync(fd);
    };
    const common: Header[] = [['Last-Modified', meta.lastModified], ['ETag', meta.etag]];
    if (vary) common.push(['Vary', 'Accept-Encoding']);
    if (this.expires.length > 0) common.push(...expiresHeaders(this.expires, typePath, req.target, meta.type, meta.mtime, req.now ?? Math.floor(Date.now() / 1000)));
    if (notModified(req.headers, meta.etag, meta.mtime)) {
      release();
      return { kind: 'respond', status: 304, reason: 'not-modified', headers: common, body: '' };
    }
    const head = req.method === 'HEAD';
    const range = head || !ifRangeHolds(req.headers['if-range'], meta.etag, meta.mtime) ? { kind: 'whole' as const } : parseRange(req.headers['range'], meta.size);
    if (range.kind === 'unsatisfiable') {
      release();
      return refusal(416, 'range', [['Content-Range', `bytes */${meta.size}`]]);
    }
    const start = range.kind === 'part' ? range.start : 0;
    const length = range.kind === 'part' ? range.end - range.start + 1 : meta.size;
    const headers: Header[] = [['Content-Type', meta.type], ['Content-Length', String(length)]];
    if (range.kind === 'part') headers.push(['Content-Range', `bytes ${range.start}-${range.end}/${meta.size}`]);
    if (coding !== undefined) headers.push(['Content-Encoding', coding]);
    headers.push(['Accept-Ranges', 'bytes'], ...common);
    return { kind: 'file', status: range.kind === 'part' ? 206 : 200, headers, fd, path: meta.path, start, length, head, body };
  }
}
