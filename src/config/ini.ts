/**
 * config/ini: reads uWSGI ini files the way uWSGI 2.0 does (`core/ini.c`, `core/config.c`) into the
 * ordered list uWSGI calls its exported options (what `uwsgi --show-config` prints), each entry with
 * file and line:
 * - `FILE:section` picks a section ([uwsgi] by default, [usher] too); `;`/`#` start comment lines;
 *   anything else after `=` is the value, inline comments included (uWSGI keeps them: typed options
 *   read the number or word before them, config/resolve does the same);
 * - a line without `=` is its own key with an empty value (`master` alone is on);
 * - magic vars (`%d`, `%k`, ... see config/magic) are replaced as the file is read;
 * - `ini = other.ini[:section]`, `include`, `ini = :section` (a section of the file read last) read
 *   another file in place; a cycle is an error naming the chain; `inherit = base.ini` is read after
 *   everything else, so its values come last and, as in uWSGI, its placeholders stay literal;
 * - `if-*` / `for*` blocks up to `endif` / `endfor` (config/logic); `set = key=value`,
 *   `set-placeholder = key=value`;
 * - then `$(ENV)`, `@(file)` and `%(key)` / `%(a + 1)` are expanded over all entries (config/placeholders).
 * Must not: know what options mean (config/resolve does).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { BLOCK_CLOSERS, BLOCK_OPENERS, LogicFileError, runLogic } from './logic.js';
import { fileMagic, firstFileMagic, processMagic, substituteMagic, type MagicTable } from './magic.js';
import { expandAll } from './placeholders.js';
import type { ConfigDiagnostic } from './types.js';

export interface IniEntry {
  readonly key: string;
  /** The value after expansion; `undefined` for a line without `=`. */
  value: string | undefined;
  readonly file: string;
  readonly line: number;
  /** A config-language line (ini, if-env, endfor, set, ...): done by the reader, not an option. */
  readonly directive: boolean;
  /** From `set-placeholder`: a name for %(...) only. */
  readonly placeholderOnly?: boolean;
  /** Not expanded by the `$(...)`/`%(...)` passes: immediate lines, and what `inherit` read. */
  readonly raw: boolean;
  /** An option uWSGI applies as it reads it (listen, strict, ...): placeholders in it stay as written. */
  readonly immediate?: boolean;
  /** The `inherit` chain that brought this line in, if any. */
  readonly inherited?: readonly string[];
  /** %(name)s left literal because no such key is set; $(NAME)s left literal because unset. */
  unresolved: string[];
  unsetEnv: string[];
}

export interface IniFile {
  /** The first file read (absolute). */
  readonly file: string;
  readonly section: string;
  readonly entries: readonly IniEntry[];
  /** Keys referenced through %(key) (so unknown keys used as placeholders aren't reported). */
  readonly placeholders: ReadonlySet<string>;
  readonly diagnostics: readonly ConfigDiagnostic[];
}

/** Lines the reader acts on itself, as uWSGI's immediate options. `inherit` is not immediate. */
const INCLUDES = new Set(['ini', 'include']);
const SETTERS = new Set(['set', 'set-placeholder', 'set-ph']);
export const DIRECTIVES: ReadonlySet<string> = new Set([...INCLUDES, ...SETTERS, ...BLOCK_OPENERS, ...BLOCK_CLOSERS, 'inherit']);
/** uWSGI 2.0 options applied the moment they are read (UWSGI_OPT_IMMEDIATE), so never expanded. */
const UWSGI_IMMEDIATE = new Set(['xmlconfig', 'xml', 'config', 'fallback-config', 'strict', 'declare-option', 'resolve', 'blacklist',
  'end-blacklist', 'whitelist', 'end-whitelist', 'inject-before', 'inject-after', 'stop', 'reload', 'pause', 'suspend', 'resume',
  'connect-and-read', 'extract', 'listen', 'umask', 'help', 'usage', 'print-sym', 'print-symbol', 'spooler-processes', 'signal',
  'flock', 'flock-wait', 'flock2', 'flock-wait2', 'immediate-uid', 'immediate-gid', 'yaml', 'yml', 'json', 'js', 'command-mode',
  'pcre-jit', 'early-envdir', 'plugins', 'plugin', 'need-plugins', 'need-plugin', 'plugins-dir', 'plugin-dir', 'autoload', 'dlopen',
  'binary-append-data', 'iprint', 'exit', 'cflags', 'dot-h', 'config-py', 'build-plugin']);

/** `uwsgi.ini:prod` -> file + section; `:prod` alone is a section of the file read last. */
export function splitIniSpec(spec: string): { path: string; section: string | undefined } {
  const m = /^(.*):([A-Za-z0-9_.-]+)$/.exec(spec);
  return m && !(m[2] as string).includes('/') ? { path: m[1] as string, section: m[2] } : { path: spec, section: undefined };
}

interface At { readonly file: string; readonly line: number; readonly key: string }
interface Block { readonly opener: string; readonly arg: string; readonly at: At }

const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch { return '0'; }
})();

/** include/inherit pick uWSGI's reader by extension (yaml, json, xml, ...); usher has the ini one only. */
function notIniRefused(value: string, at: At): void {
  const { path } = splitIniSpec(value);
  if (path === '' || path.endsWith('.ini')) return;
  throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${at.file}:${at.line}: ${at.key} = ${value}: usher reads ini files only (uWSGI picks its reader by the extension, and only \`.ini\` is ini there); convert it to ini, or use \`ini =\`, which reads any file as ini`, { file: at.file, line: at.line, option: at.key });
}

class Reader {
  readonly entries: IniEntry[] = [];
  readonly diagnostics: ConfigDiagnostic[] = [];
  private block: Block | undefined;
  private running = false;
  private lastFile: { path: string; given: string; magic: MagicTable } | undefined;
  private first: MagicTable | undefined;
  private firstFile: { file: string; section: string } | undefined;
  private readonly stack: string[] = [];
  private inheritChain: readonly string[] | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv, private readonly cwd: string) {}

  get result(): { file: string; section: string } { return this.firstFile ?? { file: '', section: 'uwsgi' }; }

  warn(at: { file: string; line?: number; option?: string }, message: string, code = 'config'): void {
    this.diagnostics.push({ level: 'warn', code, message: `${at.file}${at.line !== undefined ? `:${at.line}` : ''}: ${message}`, file: at.file, line: at.line, option: at.option });
  }

  private readText(file: string, path: string, from: At | undefined): string {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : String((err as Error).message);
      const hint = from && !isAbsolute(path) ? ` (relative paths are read from the current folder ${this.cwd}, as uWSGI does; write %d${path} for the including file's folder)` : '';
      throw new ConfigError('USHER_ERR_CONFIG_FILE', `${from ? `${from.file}:${from.line}: ${from.key}: ` : ''}cannot read config ${file}: ${why}${hint}`, { file: from?.file ?? file, line: from?.line, option: from?.key });
    }
  }

  /** Reads one file (or `:section` of the last one) and adds its lines in order. */
  readFile(spec: string, from: At | undefined): void {
    const { path, section: asked } = splitIniSpec(spec);
    const sameFile = path === '' && this.lastFile !== undefined;
    if (path === '' && !sameFile) throw new ConfigError('USHER_ERR_CONFIG_FILE', `${from ? `${from.file}:${from.line}: ` : ''}${spec}: no file has been read yet to take a section from`, { file: from?.file, line: from?.line, option: from?.key });
    const file = sameFile ? this.lastFile!.path : resolve(this.cwd, path);
    const text = this.readText(file, path, from);
    // uWSGI's %o is the name as given without its :section (it cuts the string there before reading)
    const magic = sameFile ? { ...this.lastFile!.magic, o: '', x: asked ?? '' } : fileMagic(path, this.cwd, asked);
    this.first ??= firstFileMagic(magic);
    this.lastFile = { path: file, given: sameFile ? this.lastFile!.given : path, magic };
    const table = { ...processMagic(this.cwd, VERSION), ...magic, ...this.first };
    const lines = text.split('\n');
    const sections = new Set<string>();
    for (const l of lines) {
      const m = /^\s*\[([^\]]+)\]\s*$/.exec(l);
      if (m) sections.add((m[1] as string).trim());
    }
    const wanted = asked ?? (sections.has('uwsgi') || !sections.has('usher') ? 'uwsgi' : 'usher');
    this.firstFile ??= { file, section: wanted };
    if (!sections.has(wanted)) {
      const found = sections.size > 0 ? `sections found: ${[...sections].map((s) => `[${s}]`).join(', ')}` : 'the file has no [sections]';
      const lead = from ? `${from.file}:${from.line}: ${from.key} = ${spec}: ` : '';
      const which = sameFile ? ` (\`:${wanted}\` names a section of the file read last, as in uWSGI)` : '';
      throw new ConfigError('USHER_ERR_CONFIG_FILE', `${lead}${file}: no [${wanted}] section${which} (${found}); add [uwsgi] at the top, or name a section as FILE:section`, { file: from?.file ?? file, line: from?.line, option: from?.key });
    }
    const id = `${file}[${wanted}]`;
    if (this.stack.includes(id)) {
      const chain = [...this.stack.slice(this.stack.indexOf(id)), id].join(' -> ');
      throw new ConfigError('USHER_ERR_CONFIG_SYNTAX', `${from!.file}:${from!.line}: ${from!.key} = ${spec}: include cycle: ${chain}`, { file: from!.file, line: from!.line, option: from!.key });
    }
    this.stack.push(id);
    this.readLines(lines, file, wanted, table);
    this.stack.pop();
  }

  private readLines(lines: readonly string[], file: string, wanted: string, table: MagicTable): void {
    let current: string | undefined;
    lines.forEach((rawLine, i) => {
      const line = i + 1;
      const l = rawLine.trim();
      if (l === '' || l.startsWith(';') || l.startsWith('#')) return;
      const sec = /^\[([^\]]*)\]$/.exec(l);
      if (sec) { current = (sec[1] as string).trim(); return; }
      if (l.startsWith('[')) throw new ConfigError('USHER_ERR_CONFIG_SYNTAX', `${file}:${line}: a section header must be [name] on its own line`, { file, line });
      if (current !== wanted) return;
      const unknown: string[] = [];
      const text = substituteMagic(l, table, unknown);
      const eq = text.indexOf('=');
      const key = (eq < 0 ? text : text.slice(0, eq)).trim();
      const at = { file, line, key };
      if (unknown.includes('\n')) throw new ConfigError('USHER_ERR_CONFIG_SYNTAX', `${file}:${line}: ${key}: a % at the end of a line (uWSGI would join the next line onto this one); write %% for a percent sign`, { file, line, option: key });
      for (const u of new Set(unknown)) this.warn({ file, line, option: key }, `${key}: %${u} is not a magic variable; uWSGI replaces it with nothing and so does usher (write %%${u} for a literal %${u})`);
      if (key === '') { this.warn({ file, line }, `a line with no key before \`=\` (uWSGI ignores it); ignored`); return; }
      this.add(key, eq < 0 ? undefined : text.slice(eq + 1).trim(), at);
    });
  }

  private nested(key: string, at: At): ConfigError {
    const b = this.block as Block;
    return new ConfigError('USHER_ERR_CONFIG_SYNTAX', `${at.file}:${at.line}: ${key} inside the ${b.opener} block opened at ${b.at.file}:${b.at.line}: blocks do not nest (uWSGI refuses this too); close the first with endif/endfor`, { file: at.file, line: at.line, option: key });
  }

  /** uWSGI's add_exported_option: block handling, then the entry, then what the line does. */
  add(key: string, value: string | undefined, at: At): void {
    if (!this.running) {
      if (BLOCK_CLOSERS.has(key)) {
        if (this.block === undefined) this.warn({ file: at.file, line: at.line, option: key }, `${key} without an open if/for block; nothing to end`);
        this.block = undefined;
      } else if (this.block !== undefined) {
        if (BLOCK_OPENERS.has(key)) throw this.nested(key, at);
        this.runBlock(key, value, at);
        return;
      }
    }
    const directive = DIRECTIVES.has(key);
    const immediate = UWSGI_IMMEDIATE.has(key);
    const raw = (directive && key !== 'inherit') || immediate || this.inheritChain !== undefined;
    this.entries.push({ key, value, file: at.file, line: at.line, directive, raw, immediate, inherited: this.inheritChain, unresolved: [], unsetEnv: [] });
    if (!directive) return;
    if (BLOCK_OPENERS.has(key)) {
      if (this.block !== undefined) throw this.nested(key, at);
      if (/[%$]\(/.test(value ?? '')) this.warn({ file: at.file, line: at.line, option: key }, `${key} = ${value}: uWSGI tests this before $(...) and %(...) are expanded, so it tests the text as written; usher does the same`);
      this.block = { opener: key, arg: value ?? '', at };
    } else if (INCLUDES.has(key)) {
      if (value === undefined || value === '') throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${at.file}:${at.line}: ${key} needs a file (or :section)`, { file: at.file, line: at.line, option: key });
      if (key === 'include') notIniRefused(value, at);
      this.readFile(value, at);
    } else if (SETTERS.has(key)) {
      const eq = (value ?? '').indexOf('=');
      if (eq <= 0) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${at.file}:${at.line}: ${key} = ${JSON.stringify(value ?? '')}: expected name=value`, { file: at.file, line: at.line, option: key });
      const name = (value as string).slice(0, eq);
      const v = (value as string).slice(eq + 1);
      if (key === 'set') this.add(name, v, { ...at, key: name });
      else this.entries.push({ key: name, value: v, file: at.file, line: at.line, directive: false, placeholderOnly: true, raw: true, unresolved: [], unsetEnv: [] });
    }
  }

  private runBlock(key: string, value: string | undefined, at: At): void {
    const b = this.block as Block;
    let items;
    try {
      items = runLogic(b.opener, b.arg, { env: this.env, cwd: this.cwd, optionValue: (k) => {
        const e = this.entries.find((x) => x.key === k);
        return e === undefined ? undefined : e.value ?? '';
      } });
    } catch (err) {
      if (err instanceof LogicFileError) throw new ConfigError('USHER_ERR_CONFIG_FILE', `${b.at.file}:${b.at.line}: ${b.opener}: ${err.message}`, { file: b.at.file, line: b.at.line, option: b.opener });
      throw err;
    }
    this.running = true;
    try {
      for (const item of items) this.add(key, item === null || value === undefined ? value : value.split('%(_)').join(item), at);
    } finally {
      this.running = false;
    }
  }

  /** After the passes: `inherit` lines, in order (new ones too), each file's lines appended raw. */
  runInherits(): void {
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i] as IniEntry;
      if (e.key !== 'inherit' || e.value === undefined) continue;
      notIniRefused(e.value, { file: e.file, line: e.line, key: 'inherit' });
      const chain = [...(e.inherited ?? []), `${e.file}:${e.line}`];
      const target = resolve(this.cwd, splitIniSpec(e.value).path);
      if ((e.inherited ?? []).some((c) => c.startsWith(`${target}:`)) || target === e.file) {
        throw new ConfigError('USHER_ERR_CONFIG_SYNTAX', `${e.file}:${e.line}: inherit = ${e.value}: inherit cycle: ${[...chain, target].join(' -> ')}`, { file: e.file, line: e.line, option: 'inherit' });
      }
      this.inheritChain = chain;
      try { this.readFile(e.value, { file: e.file, line: e.line, key: 'inherit' }); } finally { this.inheritChain = undefined; }
    }
  }

  finish(): void {
    if (this.block !== undefined) {
      const o = this.block.at;
      this.warn({ file: o.file, line: o.line, option: o.key }, `${o.key} = ${this.block.arg}: no endif/endfor; the block runs to the end of the configuration (as in uWSGI)`);
    }
  }
}

/** Reads the given files (`FILE[:section]`, in order, sharing one state as uWSGI's --ini flags do). */
export function readIniFiles(specs: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): IniFile {
  const r = new Reader(env, cwd);
  for (const spec of specs) {
    // the flag is an option too in uWSGI (first in --show-config, and what %(ini) names)
    r.entries.push({ key: 'ini', value: spec, file: '(command line)', line: 0, directive: true, raw: true, unresolved: [], unsetEnv: [] });
    r.readFile(spec, undefined);
  }
  const placeholders = expandAll(r.entries, env, cwd);
  r.runInherits();
  r.finish();
  const { file, section } = r.result;
  return { file, section, entries: r.entries, placeholders, diagnostics: r.diagnostics };
}

export function readIni(spec: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): IniFile {
  return readIniFiles([spec], env, cwd);
}
