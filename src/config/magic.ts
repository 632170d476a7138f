/**
 * config/magic: uWSGI's magic variables (`%d`, `%n`, `%k`, ...), substituted when a file is read,
 * before any line is parsed (uWSGI `core/utils.c` magic_sub, `core/uwsgi.c` config_magic_table_fill).
 * - per file: %o (name as given), %p (absolute path), %s (file name), %d (folder, trailing slash),
 *   %c (folder's name), %e (extension), %n (name without extension), %x (section, `` if none),
 *   %0..%9 (the folder's path components), %j (djb33x hash of %p, hex), %i (inode);
 * - the first file read: %O %P %S %D %C %E %N %X %I %J (the same, kept for included files);
 * - process-wide: %k (CPUs), %h (hostname), %v (cwd), %t / %T (unix time in s / µs), %V (version),
 *   %u %U %g %G (uid, user, gid, group), %b (usher's launcher), %[ (ESC), %% (a percent).
 * As in uWSGI, `%(` is left for the placeholder pass and any other `%X` becomes nothing (the caller
 * is told, so it can warn).
 * Must not: read the ini's lines or expand `%(...)` / `$(...)` (config/placeholders does).
 */
import { cpus, hostname, userInfo } from 'node:os';
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { isAbsolute } from 'node:path';

export type MagicTable = Record<string, string>;

/** uWSGI's djb33x hash as 8 hex digits, bytes in memory (little-endian) order. */
function djb33x(s: string): string {
  let h = 5381;
  for (const byte of Buffer.from(s)) h = (((h * 33) >>> 0) ^ (byte > 127 ? byte - 256 : byte)) >>> 0; // C's signed char
  const b = Buffer.alloc(4);
  b.writeUInt32LE(h);
  return b.toString('hex').toUpperCase();
}

function groupName(gid: number): string {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[2] === String(gid) && f[0]) return f[0];
    }
  } catch { /* no /etc/group: fall back to the number, as uWSGI does */ }
  return String(gid);
}

let processWide: MagicTable | undefined;

/** Values that do not depend on the file; computed once per process (uWSGI sets them at start). */
export function processMagic(cwd: string, version: string): MagicTable {
  if (processWide === undefined) {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    let user = String(uid);
    try { user = userInfo().username; } catch { /* keep the number */ }
    const now = Date.now();
    processWide = {
      h: hostname(),
      t: String(Math.floor(now / 1000)),
      T: String(now * 1000),
      V: version,
      k: String(cpus().length),
      '[': '\x1b',
      u: String(uid),
      U: user,
      g: String(gid),
      G: groupName(gid),
      b: process.argv[1] ?? process.execPath,
    };
  }
  return { ...processWide, v: cwd };
}

/** The per-file variables for `file` (as written), read as section `section`. */
export function fileMagic(given: string, cwd: string, section: string | undefined): MagicTable {
  let full = given;
  let inode = '';
  try {
    const st = lstatSync(isAbsolute(given) ? given : `${cwd}/${given}`);
    inode = String(st.ino);
    // uWSGI does not resolve a symlinked ini (its %d is where the link is), only makes it absolute.
    full = st.isSymbolicLink() ? (isAbsolute(given) ? given : `${cwd}/${given}`) : realpathSync(isAbsolute(given) ? given : `${cwd}/${given}`);
  } catch {
    full = isAbsolute(given) ? given : `${cwd}/${given}`;
  }
  const slash = full.lastIndexOf('/');
  const s = full.slice(slash + 1);
  const d = full.slice(0, slash + 1);
  const parts = d.split('/').filter((p) => p !== '');
  const dot = s.lastIndexOf('.');
  const t: MagicTable = {
    o: given,
    p: full,
    s,
    d,
    c: parts[parts.length - 1] ?? '',
    e: dot >= 0 ? s.slice(dot + 1) : '',
    n: dot >= 0 ? s.slice(0, dot) : s,
    x: section ?? '',
    j: djb33x(full),
    i: inode,
  };
  for (let i = 0; i <= 9; i++) t[String(i)] = parts[i] ?? '';
  return t;
}

/** The uppercase copies of the first file's variables. */
export function firstFileMagic(t: MagicTable): MagicTable {
  const out: MagicTable = {};
  for (const k of ['o', 'd', 's', 'p', 'c', 'e', 'n', 'x', 'i', 'j']) out[k.toUpperCase()] = t[k] ?? '';
  return out;
}

/**
 * Substitutes `%X` in one line. `unknown` collects the letters uWSGI would silently drop; a `%` at
 * the end of a line is reported as `\n` (uWSGI would glue the next line on).
 */
export function substituteMagic(line: string, table: MagicTable, unknown: string[]): string {
  if (!line.includes('%')) return line;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (ch !== '%') { out += ch; continue; }
    const next = line[i + 1];
    i++;
    if (next === undefined) { unknown.push('\n'); continue; }
    if (next === '%') { out += '%'; continue; }
    if (next === '(') { out += '%('; continue; }
    const v = table[next];
    if (v === undefined) unknown.push(next);
    else out += v;
  }
  return out;
}
