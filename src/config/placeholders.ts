/**
 * config/placeholders: the three passes uWSGI runs over every option once all files are read
 * (`core/utils.c` uwsgi_apply_config_pass, `core/config.c` uwsgi_manage_placeholder):
 * 1. `$(NAME)` -> the environment variable; an unset one stays as written (uWSGI keeps it literally);
 * 2. `@(path)` -> the file's content without its last newline (uWSGI stops when it cannot read it);
 * 3. `%(key)` -> the first value set for `key` anywhere in the configuration (late binding: a key set
 *    further down works), and `%(a + 1)` / `%(%k * 2)` / `%(a b)` (concatenation) / `%(a ++)` maths,
 *    64-bit integers, left to right, division by zero is 0, unknown names count as empty (uWSGI).
 *    A `%(name)` nothing defines stays literal (the log format's `%(addr)` relies on this); the entry
 *    lists it in `unresolved` so config/resolve can refuse it where a real value is needed.
 * Differences, kept on purpose: a referenced value is expanded in full before use (uWSGI leaves a
 * nested placeholder unexpanded when it lands at the very start of a value), and a cycle is an error
 * (uWSGI loops forever).
 * Must not: read ini files (config/ini does); only `@(path)` reads a file.
 */
import { ConfigError } from '../errors.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { IniEntry } from './ini.js';

/** uWSGI's uwsgi_at_file_read: the whole file, one trailing \n or \r dropped. */
function atFile(e: IniEntry, path: string, cwd: string): string {
  try {
    return readFileSync(resolve(cwd, path), 'utf8').replace(/[\n\r]$/, '');
  } catch (err) {
    throw new ConfigError('USHER_ERR_CONFIG_FILE', `${e.file}:${e.line}: ${e.key}: @(${path}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: e.file, line: e.line, option: e.key });
  }
}

/** Finds `sym(` ... `)` (nesting-aware, as uWSGI scans) and replaces each with `fn(inner)` unless it returns undefined. */
function scan(s: string, sym: '$' | '@' | '%', fn: (inner: string) => string | undefined): string {
  const open = `${sym}(`;
  let out = '';
  let i = 0;
  for (;;) {
    const k = s.indexOf(open, i);
    if (k < 0) return out + s.slice(i);
    let depth = 0;
    let j = k + 2;
    for (; j < s.length; j++) {
      if (s[j] === '(') depth++;
      else if (s[j] === ')') { if (depth === 0) break; depth--; }
    }
    if (j >= s.length) return out + s.slice(i);
    const inner = s.slice(k + 2, j);
    const v = inner === '' ? undefined : fn(inner);
    out += s.slice(i, k) + (v ?? s.slice(k, j + 1));
    i = j + 1;
  }
}

/** C's strtoll on a leading integer (0 when there is none), as uWSGI's maths reads values. */
function strtoll(s: string): bigint {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m ? BigInt.asIntN(64, BigInt(m[1] as string)) : 0n;
}

type Op = 'concat' | '+' | '-' | '*' | '/';

function maths(expr: string, lookup: (name: string) => string | undefined, unresolved: string[]): string | undefined {
  let current: string | undefined;
  let op: Op = 'concat';
  for (const tok of expr.split(' ').filter((t) => t !== '')) {
    if (tok === '+' || tok === '-' || tok === '*' || tok === '/') { op = tok; continue; }
    if (tok === '++' || tok === '--') {
      if (current !== undefined) current = String(BigInt.asIntN(64, strtoll(current) + (tok === '++' ? 1n : -1n)));
      op = 'concat';
      continue;
    }
    let value: string;
    if (/^\d+$/.test(tok)) value = tok;
    else {
      const v = lookup(tok);
      if (v === undefined) unresolved.push(tok);
      value = v ?? '';
    }
    const a = strtoll(current ?? '');
    const b = strtoll(value);
    switch (op) {
      case 'concat': current = (current ?? '') + value; break;
      case '+': current = String(BigInt.asIntN(64, a + b)); break;
      case '-': current = String(BigInt.asIntN(64, a - b)); break;
      case '*': current = String(BigInt.asIntN(64, a * b)); break;
      case '/': current = b === 0n ? '0' : String(a / b); break;
    }
    op = 'concat';
  }
  return current;
}

/** Runs the three passes over `entries` in place; returns the names used as %(placeholders). */
export function expandAll(entries: IniEntry[], env: NodeJS.ProcessEnv, cwd: string): Set<string> {
  for (const e of entries) {
    if (e.raw || e.value === undefined) continue;
    e.value = scan(e.value, '$', (name) => {
      const v = env[name];
      if (v === undefined) e.unsetEnv.push(name);
      return v;
    });
  }
  for (const e of entries) if (!e.raw && e.value !== undefined) e.value = scan(e.value, '@', (path) => atFile(e, path, cwd));
  const first = new Map<string, number>();
  entries.forEach((e, i) => { if (!first.has(e.key)) first.set(e.key, i); });
  const state: number[] = entries.map(() => 0); // 0 to do, 1 in progress, 2 done
  const path: number[] = [];
  const used = new Set<string>();

  const valueOf = (i: number): string => {
    const e = entries[i] as IniEntry;
    if (e.raw || e.value === undefined || state[i] === 2) return e.value ?? '';
    if (state[i] === 1) {
      const cyc = [...path.slice(path.indexOf(i)), i].map((n) => `${entries[n]!.key} (${entries[n]!.file}:${entries[n]!.line})`).join(' -> ');
      throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${e.file}:${e.line}: ${e.key}: placeholder cycle: ${cyc}`, { file: e.file, line: e.line, option: e.key });
    }
    state[i] = 1;
    path.push(i);
    const lookup = (name: string): string | undefined => {
      used.add(name);
      const j = first.get(name);
      return j === undefined ? undefined : valueOf(j);
    };
    e.value = scan(e.value, '%', (inner) => {
      if (!inner.includes(' ')) {
        const v = lookup(inner);
        if (v === undefined) e.unresolved.push(inner);
        return v;
      }
      return maths(inner, lookup, e.unresolved);
    });
    path.pop();
    state[i] = 2;
    return e.value;
  };
  entries.forEach((_, i) => valueOf(i));
  return used;
}

/**
 * Expands a command-line value as uWSGI's passes do for its own flags: `$(NAME)`, then `%(key)`
 * against the already expanded ini entries.
 */
export function expandFlag(value: string, entries: readonly IniEntry[], env: NodeJS.ProcessEnv): { value: string; unresolved: string[]; unsetEnv: string[] } {
  const unresolved: string[] = [];
  const unsetEnv: string[] = [];
  const withEnv = scan(value, '$', (name) => {
    const v = env[name];
    if (v === undefined) unsetEnv.push(name);
    return v;
  });
  const lookup = (name: string): string | undefined => {
    const e = entries.find((x) => x.key === name);
    return e === undefined ? undefined : e.value ?? '';
  };
  const out = scan(withEnv, '%', (inner) => {
    if (inner.includes(' ')) return maths(inner, lookup, unresolved);
    const v = lookup(inner);
    if (v === undefined) unresolved.push(inner);
    return v;
  });
  return { value: out, unresolved, unsetEnv };
}
