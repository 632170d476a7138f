/**
 * config/ini: reads a uWSGI-style ini file with uWSGI's semantics and returns its entries in order,
 * each with file and line. `FILE:section` picks a section ([uwsgi] by default, [usher] too).
 * - `;` and `#` start full-line comments (uWSGI keeps anything else after `=` as the value);
 * - a bare key (no `=`) is an on-switch: `master` alone means `master = true`;
 * - magic vars: %d (the ini's folder, with trailing slash), %n (name without extension), %p (absolute
 *   path), %s (file name), %c (name of the ini's folder), %x (extension), %% (a percent);
 * - %(key) is the value of any key defined earlier (uWSGI placeholders, known option or not);
 * - $(NAME) is the environment variable NAME (empty when unset, as uWSGI does).
 * Must not: know what options mean (config/resolve does), or read anything but the one file.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';

export interface IniEntry {
  readonly key: string;
  /** The value after expansion; `undefined` for a bare key. */
  readonly value: string | undefined;
  readonly file: string;
  readonly line: number;
}

export interface IniFile {
  readonly file: string;
  readonly section: string;
  readonly entries: readonly IniEntry[];
  /** Keys referenced through %(key) (so unknown keys used as placeholders aren't reported). */
  readonly placeholders: ReadonlySet<string>;
}

/** `uwsgi.ini:prod` -> file + section; a Windows-free world, so the last colon after an extension splits. */
export function splitIniSpec(spec: string): { path: string; section: string | undefined } {
  const m = /^(.*\.ini):([A-Za-z0-9_.-]+)$/.exec(spec);
  return m ? { path: m[1] as string, section: m[2] } : { path: spec, section: undefined };
}

function expand(raw: string, vars: Map<string, string>, magic: Record<string, string>, env: NodeJS.ProcessEnv, used: Set<string>, where: { file: string; line: number; key: string }): string {
  return raw.replace(/%\(([^)]+)\)|%([a-zA-Z%])|\$\(([^)]+)\)/g, (whole, ph: string | undefined, mg: string | undefined, envName: string | undefined) => {
    if (ph !== undefined) {
      used.add(ph);
      const v = vars.get(ph) ?? magic[ph];
      if (v === undefined) {
        throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${where.file}:${where.line}: ${where.key}: placeholder %(${ph}) is not defined above this line`, { file: where.file, line: where.line, option: where.key });
      }
      return v;
    }
    if (mg !== undefined) return magic[mg] ?? whole;
    return env[envName as string] ?? '';
  });
}

export function readIni(spec: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): IniFile {
  const { path, section: wantedSection } = splitIniSpec(spec);
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : String((err as Error).message);
    throw new ConfigError('USHER_ERR_CONFIG_FILE', `cannot read config ${file}: ${why}`, { file });
  }
  const dir = dirname(file);
  const ext = extname(file);
  const magic: Record<string, string> = {
    d: dir.endsWith('/') ? dir : `${dir}/`,
    n: basename(file, ext),
    p: file,
    s: basename(file),
    c: basename(dir),
    x: ext.replace(/^\./, ''),
    '%': '%',
  };
  const lines = text.split(/\r?\n/);
  const sections = new Set<string>();
  for (const l of lines) {
    const m = /^\s*\[([^\]]+)\]\s*$/.exec(l);
    if (m) sections.add((m[1] as string).trim());
  }
  const section = wantedSection ?? (sections.has('uwsgi') || !sections.has('usher') ? 'uwsgi' : 'usher');
  if (!sections.has(section)) {
    const found = sections.size > 0 ? `sections found: ${[...sections].map((s) => `[${s}]`).join(', ')}` : 'the file has no [sections]';
    throw new ConfigError('USHER_ERR_CONFIG_FILE', `${file}: no [${section}] section (${found}); add [uwsgi] at the top, or name a section as FILE:section`, { file });
  }
  const entries: IniEntry[] = [];
  const vars = new Map<string, string>();
  const used = new Set<string>();
  let current: string | undefined;
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    const l = rawLine.trim();
    if (l === '' || l.startsWith(';') || l.startsWith('#')) return;
    const sec = /^\[([^\]]+)\]$/.exec(l);
    if (sec) {
      current = (sec[1] as string).trim();
      return;
    }
    if (l.startsWith('[')) {
      throw new ConfigError('USHER_ERR_CONFIG_SYNTAX', `${file}:${line}: a section header must be [name] on its own line`, { file, line });
    }
    if (current !== section) return;
    const eq = l.indexOf('=');
    const key = (eq < 0 ? l : l.slice(0, eq)).trim();
    if (key === '' || /\s/.test(key)) {
      throw new ConfigError('USHER_ERR_CONFIG_SYNTAX', `${file}:${line}: expected \`key = value\` or a bare key, got ${JSON.stringify(l)}`, { file, line });
    }
    if (eq < 0) {
      entries.push({ key, value: undefined, file, line });
      vars.set(key, 'true');
      return;
    }
    const value = expand(l.slice(eq + 1).trim(), vars, magic, env, used, { file, line, key });
    entries.push({ key, value, file, line });
    vars.set(key, value);
  });
  return { file, section, entries, placeholders: used };
}
