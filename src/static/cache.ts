/**
 * static/cache: what the resolver learnt about a file, kept per worker so the next request for it
 * costs one stat(2) instead of realpath + open + readlink + fstat + read + close.
 * An entry remembers a mapped candidate path that resolved, through every safety check of
 * static/resolve, straight to a regular file (not an index, no precompressed sibling to consider), with
 * that file's identity: device, inode, size, mtime and ctime to the nanosecond. A later request for the
 * same candidate is answered from the entry only if stat(candidate) still gives that identity, so a
 * file replaced, rewritten, touched, chmod-ed or a symlink pointed elsewhere is looked up afresh at once
 * (no time window, unlike Nginx's open_file_cache_valid). Same inode, same identity means the very file
 * that was checked, so the path checks need not be repeated.
 * Small files (<= SMALL_MAX) also keep their bytes, within TOTAL_BYTES per process, but only once their
 * ctime is RACY_NS in the past when read: the kernel stamps ctime on every write, truncate, utimes or
 * chmod (and nobody can set it back), so any change after the read moves ctime forward and misses the
 * entry, even a same-size rewrite whose mtime was put back to the same nanosecond. A file changed
 * within the last seconds is read from disk on each request until it settles (what git calls racy).
 * Must not: decide what may be served (static/resolve does, before anything is stored here).
 */
import type { BigIntStats } from 'node:fs';

/** Files up to this size keep their bytes in memory (most CSS, JS, icons). */
export const SMALL_MAX = 64 * 1024;
/** Bytes of file content one process keeps at most. */
export const TOTAL_BYTES = 4 * 1024 * 1024;
/** Entries one process keeps at most (the oldest goes first). */
export const MAX_ENTRIES = 2048;
/** A file's bytes are kept only if its ctime is at least this far in the past (2 s, in ns). */
export const RACY_NS = 2_000_000_000n;
const SMALL_MAX_N = BigInt(SMALL_MAX);

export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

export function sameFile(a: FileIdentity, b: BigIntStats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && b.isFile();
}

/** What every response for a file shares, computed once per file version. */
export interface FileMeta {
  /** The file's real path (for static-expires file rules and logs). */
  readonly path: string;
  readonly size: number;
  /** Whole seconds, as Last-Modified and the ETag carry it. */
  readonly mtime: number;
  readonly type: string;
  readonly etag: string;
  readonly lastModified: string;
}

export interface CacheEntry {
  readonly id: FileIdentity;
  readonly meta: FileMeta;
  /** The whole file, when small and settled (see the module comment). */
  readonly body: Buffer | undefined;
}

export class FileCache {
  private readonly entries = new Map<string, CacheEntry>();
  private bytes = 0;

  get(candidate: string): CacheEntry | undefined {
    return this.entries.get(candidate);
  }

  /** Forget a candidate whose file changed or went away. */
  drop(candidate: string): void {
    const e = this.entries.get(candidate);
    if (e === undefined) return;
    this.entries.delete(candidate);
    if (e.body !== undefined) this.bytes -= e.body.length;
  }

  set(candidate: string, entry: CacheEntry): void {
    this.drop(candidate);
    while (this.entries.size >= MAX_ENTRIES) this.drop(this.entries.keys().next().value as string);
    this.entries.set(candidate, entry);
    if (entry.body !== undefined) this.bytes += entry.body.length;
  }

  /** May a file of this identity keep its bytes now (small, settled, and room left)? */
  wantsBody(id: FileIdentity): boolean {
    if (id.size > SMALL_MAX_N || this.bytes + Number(id.size) > TOTAL_BYTES) return false; // big files: no clock read per request
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    return id.ctimeNs + RACY_NS < nowNs && id.mtimeNs < nowNs;
  }
}
