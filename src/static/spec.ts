/**
 * static/spec: the static-file options of a resolved config, checked once and turned into a plain
 * JSON-able StaticSpec that the master hands to every child (Node worker, HTTP router, Python worker)
 * in its spec under the key `static`. Relative paths resolve against `chdir` (else the master's cwd),
 * as uWSGI resolves them after its chdir. Every bad value is a ConfigError naming file, line, option.
 * Must not: touch the filesystem (a missing folder is skipped at request time, as in uWSGI).
 */
import { resolve as resolvePath } from 'node:path';
import { ConfigError } from '../errors.js';
import type { UsherConfig } from '../config/types.js';

export interface StaticMapping {
  /** The URL prefix, whole segments (`/static`); `/` is every path. */
  readonly mount: string;
  /** An absolute folder (or a single file). */
  readonly root: string;
  /** static-map2 and check-static: the whole request path goes under root, mount included. */
  readonly keepMount: boolean;
}

export interface ExpiresRule {
  /** What the pattern is matched against: the file's real path, the request URI, or its Content-Type. */
  readonly on: 'file' | 'uri' | 'type';
  /** A regular expression (`file`, `uri`), or an exact Content-Type (`type`). */
  readonly match: string;
  readonly seconds: number;
  /** From the file's mtime (the `-mtime` forms) instead of from now. */
  readonly fromMtime: boolean;
}

export interface StaticSpec {
  /** In the order uWSGI tries them: check-static, then static-map, then static-map2. */
  readonly maps: readonly StaticMapping[];
  readonly index: readonly string[];
  readonly skipExt: readonly string[];
  /** Folders a symlink may lead into besides the mapping's own root (`static-safe`). */
  readonly safe: readonly string[];
  readonly gzipAll: boolean;
  /** Real-path prefixes whose files get their `.br`/`.gz` siblings served (`static-gzip-dir`). */
  readonly gzipDirs: readonly string[];
  /** mime.types files, in order; empty means /etc/mime.types. */
  readonly mimefiles: readonly string[];
  /** First match wins, in this order: file, uri, type; within each, the plain form before -mtime. */
  readonly expires: readonly ExpiresRule[];
}

/** The config fields static files read (a subset of UsherConfig, so tests can build one directly). */
export type StaticConfigFields = Pick<UsherConfig, 'staticMap' | 'staticMap2' | 'checkStatic' | 'staticIndex' | 'staticSkipExt' | 'staticSafe'
  | 'staticGzipAll' | 'staticGzipDir' | 'mimefile' | 'staticExpiresType' | 'staticExpiresTypeMtime' | 'staticExpiresUri'
  | 'staticExpiresUriMtime' | 'staticExpires' | 'staticExpiresMtime' | 'chdir' | 'sources'>;

function fail(c: StaticConfigFields, option: string, value: string, expected: string): ConfigError {
  const s = c.sources[option];
  const where = s?.kind === 'file' ? `${s.file}:${s.line}: ` : s?.kind === 'env' ? 'environment: ' : s?.kind === 'cli' ? 'command line: ' : '';
  return new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${where}${option} = ${JSON.stringify(value)}: expected ${expected}`, { file: s?.file, line: s?.line, option });
}

function mapping(c: StaticConfigFields, option: string, value: string, base: string, keepMount: boolean): StaticMapping {
  const eq = value.indexOf('=');
  const mount = eq < 0 ? '' : value.slice(0, eq).trim();
  const root = eq < 0 ? '' : value.slice(eq + 1).trim();
  if (!mount.startsWith('/') || root === '') throw fail(c, option, value, '`/mountpoint=/path/to/folder` (the mountpoint starts with /)');
  return { mount, root: resolvePath(base, root), keepMount };
}

function expiresRules(c: StaticConfigFields, option: string, values: readonly string[], on: ExpiresRule['on'], fromMtime: boolean): ExpiresRule[] {
  return values.map((v) => {
    const sep = on === 'type' ? v.indexOf('=') : v.indexOf(' ');
    const match = sep < 0 ? '' : v.slice(0, sep).trim();
    const secs = sep < 0 ? '' : v.slice(sep + 1).trim();
    const form = on === 'type' ? '`content/type=seconds` (`text/css=86400`)' : '`regexp seconds` (`\\.css$ 86400`)';
    if (match === '' || !/^\d{1,10}$/.test(secs)) throw fail(c, option, v, form);
    if (on !== 'type') {
      try {
        new RegExp(match);
      } catch (e) {
        throw fail(c, option, v, `a valid regular expression (${(e as Error).message})`);
      }
    }
    return { on, match, seconds: Number(secs), fromMtime };
  });
}

/**
 * Check the static options of a config and build the spec; undefined when nothing is mapped.
 * Relative paths resolve against `chdir` taken from `cwd`; a master that has already done its chdir
 * passes `{ base: process.cwd() }` instead.
 */
export function buildStaticSpec(c: StaticConfigFields, where: { cwd?: string; base?: string } = {}): StaticSpec | undefined {
  const cwd = where.cwd ?? process.cwd();
  const base = where.base ?? (c.chdir !== undefined ? resolvePath(cwd, c.chdir) : cwd);
  const maps = [
    ...c.checkStatic.map((d) => ({ mount: '/', root: resolvePath(base, d), keepMount: true })),
    ...c.staticMap.map((v) => mapping(c, 'static-map', v, base, false)),
    ...c.staticMap2.map((v) => mapping(c, 'static-map2', v, base, true)),
  ];
  for (const ext of c.staticSkipExt) if (ext.includes('/')) throw fail(c, 'static-skip-ext', ext, 'a file name ending such as `.php`');
  for (const idx of c.staticIndex) if (idx.includes('/') || idx.startsWith('.')) throw fail(c, 'static-index', idx, 'a plain file name such as `index.html`');
  const expires = [
    ...expiresRules(c, 'static-expires', c.staticExpires, 'file', false),
    ...expiresRules(c, 'static-expires-mtime', c.staticExpiresMtime, 'file', true),
    ...expiresRules(c, 'static-expires-uri', c.staticExpiresUri, 'uri', false),
    ...expiresRules(c, 'static-expires-uri-mtime', c.staticExpiresUriMtime, 'uri', true),
    ...expiresRules(c, 'static-expires-type', c.staticExpiresType, 'type', false),
    ...expiresRules(c, 'static-expires-type-mtime', c.staticExpiresTypeMtime, 'type', true),
  ];
  if (maps.length === 0) return undefined;
  return Object.freeze({
    maps,
    index: [...c.staticIndex],
    skipExt: [...c.staticSkipExt],
    safe: c.staticSafe.map((p) => resolvePath(base, p)),
    gzipAll: c.staticGzipAll,
    gzipDirs: c.staticGzipDir.map((p) => resolvePath(base, p)),
    mimefiles: c.mimefile.map((p) => resolvePath(base, p)),
    expires,
  });
}
