/**
 * config/logic: uWSGI's "opt logic" blocks (`core/config.c` uwsgi_logic_opt_*): a block opener
 * (`if-env = NAME`, `for = a b c`, ...) runs up to the next `endif`/`endfor`/`end`, and each line in
 * it is kept or dropped, or repeated, on its own, with `%(_)` standing for the tested value or the
 * loop item. The argument is taken as read (magic vars only): uWSGI tests it before `%(...)` and
 * `$(...)` are expanded.
 * Must not: read ini files (config/ini does) or know what options mean.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/** What a block yields for one line inside it: the `%(_)` values to emit it with (`null` = as is). */
export type LogicResult = readonly (string | null)[];

export interface LogicContext {
  readonly env: NodeJS.ProcessEnv;
  /** Relative paths are tested from here (uWSGI's current folder). */
  readonly cwd: string;
  /** The first value set for an option so far (for if-opt), as uWSGI's exported options. */
  readonly optionValue: (key: string) => string | undefined;
}

type LogicFn = (arg: string, ctx: LogicContext) => LogicResult;

const once = (cond: boolean, underscore: string | undefined): LogicResult => (cond ? [underscore ?? null] : []);

/** `NAME` or `NAME=VALUE` against a lookup, as uWSGI's if-env / if-opt. */
function ifValue(arg: string, get: (k: string) => string | undefined, negate: boolean): LogicResult {
  const eq = arg.indexOf('=');
  const name = eq < 0 ? arg : arg.slice(0, eq);
  const v = get(name);
  const match = v !== undefined && (eq < 0 || arg.slice(eq + 1) === v);
  return negate ? once(!match, v) : once(match, v);
}

const isFile = (p: string): boolean => { try { return statSync(p).isFile(); } catch { return false; } };
const isDir = (p: string): boolean => { try { return statSync(p).isDirectory(); } catch { return false; } };

/** Plugins usher has built in, for `if-plugin` (uWSGI's Debian build loads them with `plugins =`). */
const BUILT_IN_PLUGINS = /^(python\d*|http|router_http|corerouter)$/;

function hostnameMatch(arg: string): boolean {
  try { return new RegExp(arg).test(hostname()); } catch { return false; }
}

const LOGIC: Record<string, LogicFn> = {
  'if-env': (a, c) => ifValue(a, (k) => c.env[k], false),
  ifenv: (a, c) => ifValue(a, (k) => c.env[k], false),
  'if-not-env': (a, c) => ifValue(a, (k) => c.env[k], true),
  'if-opt': (a, c) => ifValue(a, c.optionValue, false),
  'if-not-opt': (a, c) => ifValue(a, c.optionValue, true),
  'if-exists': (a, c) => once(existsSync(resolve(c.cwd, a)), a),
  ifexists: (a, c) => once(existsSync(resolve(c.cwd, a)), a),
  'if-not-exists': (a, c) => once(!existsSync(resolve(c.cwd, a)), a),
  'if-file': (a, c) => once(isFile(resolve(c.cwd, a)), a),
  'if-not-file': (a, c) => once(!isFile(resolve(c.cwd, a)), a),
  'if-dir': (a, c) => once(isDir(resolve(c.cwd, a)), a),
  ifdir: (a, c) => once(isDir(resolve(c.cwd, a)), a),
  'if-directory': (a, c) => once(isDir(resolve(c.cwd, a)), a),
  'if-not-dir': (a, c) => once(!isDir(resolve(c.cwd, a)), a),
  'if-hostname': (a) => once(hostname() === a, a),
  'if-not-hostname': (a) => once(hostname() !== a, a),
  'if-hostname-match': (a) => once(hostnameMatch(a), a),
  'if-not-hostname-match': (a) => once(!hostnameMatch(a), a),
  // usher reads its config afresh on every start; a reload does not re-read it
  'if-reload': () => [],
  'if-not-reload': () => [null],
  'if-plugin': (a) => once(BUILT_IN_PLUGINS.test(a), a),
  ifplugin: (a) => once(BUILT_IN_PLUGINS.test(a), a),
  'if-not-plugin': (a) => once(!BUILT_IN_PLUGINS.test(a), a),
  for: (a) => a.split(' ').filter((t) => t !== ''),
  'for-times': (a) => Array.from({ length: Math.max(0, parseInt(a, 10) || 0) }, (_, i) => String(i + 1)),
  'for-glob': (a, c) => glob(a, c.cwd),
  'for-readline': (a, c) => readLines(resolve(c.cwd, a)),
};

export const BLOCK_OPENERS: ReadonlySet<string> = new Set(Object.keys(LOGIC));
/** Any of these closes any open block (uWSGI does not tell an endif from an endfor). */
export const BLOCK_CLOSERS: ReadonlySet<string> = new Set(['end', 'endif', 'end-if', 'endfor', 'end-for']);

export function runLogic(opener: string, arg: string, ctx: LogicContext): LogicResult {
  return (LOGIC[opener] as LogicFn)(arg, ctx);
}

export class LogicFileError extends Error {}

function readLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new LogicFileError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => l.replace(/\r$/, ''));
}

function segmentRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i] as string;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close < 0) { re += '\\['; continue; }
      const body = seg.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
      re += `[${body}]`;
      i = close;
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** glob(3) with GLOB_MARK | GLOB_NOCHECK, as uWSGI's for-glob: sorted, folders end in `/`, no match = the pattern. */
export function glob(pattern: string, cwd: string): string[] {
  const abs = (p: string): string => resolve(cwd, p);
  const absolute = pattern.startsWith('/');
  const segs = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let paths: string[] = [absolute ? '/' : ''];
  for (const seg of segs) {
    if (seg === '') continue;
    const next: string[] = [];
    for (const base of paths) {
      const join = (name: string): string => (base === '' ? name : base.endsWith('/') ? base + name : `${base}/${name}`);
      if (!/[*?[]/.test(seg)) { if (existsSync(abs(join(seg)))) next.push(join(seg)); continue; }
      const re = segmentRegExp(seg);
      let names: string[] = [];
      try { names = readdirSync(abs(base === '' ? '.' : base)); } catch { continue; }
      for (const n of names) if (re.test(n) && (!n.startsWith('.') || seg.startsWith('.'))) next.push(join(n));
    }
    paths = next;
  }
  if (paths.length === 0 || (paths.length === 1 && paths[0] === (absolute ? '/' : ''))) return [pattern];
  return paths.sort().map((p) => (isDir(abs(p)) ? `${p}/` : p));
}
