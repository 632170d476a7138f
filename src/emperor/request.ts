/**
 * emperor/request: decides whether this usher run is an emperor (`usher --emperor DIR`, `emperor = DIR`
 * in an ini, or USHER_EMPEROR), and reads the emperor's own options. The value is a folder (every
 * `*.ini` in it) or a glob like uWSGI's (`/etc/uwsgi/vassals/*.ini`).
 * Must not: start anything, or resolve vassal configs (each vassal reads its own).
 */
import { basename, dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { readIni } from '../config/ini.js';

export interface EmperorRequest {
  /** The folder scanned (absolute). */
  readonly dir: string;
  /** Which file names in it are vassals. */
  readonly pattern: RegExp;
  /** The value as the user wrote it, for logs. */
  readonly spec: string;
  /** emperor-tyrant: each vassal runs as the owner of its file. */
  readonly tyrant: boolean;
  /** Lines the caller logs as warnings (options that do nothing here, "not yet" ones). */
  readonly warnings: readonly string[];
}

const BOOL: Record<string, boolean> = { true: true, yes: true, on: true, 1: true, false: false, no: false, off: false, 0: false };
const EMPEROR_KEYS = new Set(['emperor', 'emperor-tyrant', 'emperor-stats', 'emperor-stats-server']);

/** A shell glob's file-name part as a RegExp (`*`, `?`, `[...]`); folders may not be globbed. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] as string;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) { re += '\\['; continue; }
      re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** `DIR` -> every *.ini in DIR; `DIR/pattern` (with * ? [) -> the files matching pattern. */
export function parseEmperorSpec(spec: string, cwd: string, where: { file?: string; line?: number } = {}): { dir: string; pattern: RegExp } {
  if (spec.trim() === '') throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', 'emperor: needs a folder of vassal ini files (`emperor = /etc/usher/vassals`) or a glob (`/etc/usher/vassals/*.ini`)', { ...where, option: 'emperor' });
  const abs = resolve(cwd, spec);
  if (/[*?[]/.test(basename(abs))) {
    if (/[*?[]/.test(dirname(abs))) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `emperor: ${spec}: only the file-name part may be a glob, not the folders`, { ...where, option: 'emperor' });
    return { dir: dirname(abs), pattern: globToRegExp(basename(abs)) };
  }
  return { dir: abs, pattern: /^[^.].*\.ini$/ };
}

function flagValue(argv: readonly string[], name: string): { found: boolean; value: string | undefined } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === `--${name}`) {
      const next = argv[i + 1];
      return { found: true, value: next !== undefined && !next.startsWith('--') ? next : undefined };
    }
    if (a.startsWith(`--${name}=`)) return { found: true, value: a.slice(name.length + 3) };
  }
  return { found: false, value: undefined };
}

function iniSpecs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--ini' && argv[i + 1] !== undefined) out.push(argv[++i] as string);
    else if (a.startsWith('--ini=')) out.push(a.slice(6));
    else if (!a.startsWith('-') && (a.endsWith('.ini') || /\.ini:[\w.-]+$/.test(a)) && !(argv[i - 1] ?? '').startsWith('--emperor')) out.push(a);
  }
  return out;
}

/** The emperor this command line asks for, or undefined when it is an ordinary usher run. */
export function findEmperorRequest(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): EmperorRequest | undefined {
  if (argv.some((a) => a === '--help' || a === '-h' || a === '--version' || a === '--print-config' || a === '--show-config')) return undefined;
  const warnings: string[] = [];
  let spec: string | undefined;
  let at: { file?: string; line?: number } = {};
  let tyrant = false;
  let others: string[] = [];
  for (const ini of iniSpecs(argv)) {
    const f = readIni(ini, env, cwd);
    for (const e of f.entries) {
      if (e.key === 'emperor') { spec = e.value ?? ''; at = { file: e.file, line: e.line }; }
      else if (e.key === 'emperor-tyrant') tyrant = e.value === undefined || BOOL[e.value.toLowerCase()] === true;
      else if (e.key.startsWith('emperor-stats')) warnings.push(`${e.file}:${e.line}: ${e.key}: the emperor has no stats server of its own yet (give each vassal its own stats); not yet`);
      else if (!EMPEROR_KEYS.has(e.key)) others.push(`${e.file}:${e.line}: ${e.key}`);
    }
  }
  if (env.USHER_EMPEROR !== undefined) { spec = env.USHER_EMPEROR; at = {}; }
  const cli = flagValue(argv, 'emperor');
  if (cli.found) {
    if (cli.value === undefined) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', 'command line: --emperor needs a folder of vassal ini files (or a glob)', { option: 'emperor' });
    spec = cli.value;
    at = {};
  }
  if (spec === undefined) return undefined;
  if (flagValue(argv, 'emperor-tyrant').found) tyrant = true;
  if (flagValue(argv, 'emperor-stats').found) warnings.push('--emperor-stats: the emperor has no stats server of its own yet (give each vassal its own stats); not yet');
  const cliOthers = argv.filter((a, i) => a.startsWith('--') && !/^--(emperor|ini)/.test(a) && argv[i - 1] !== '--ini');
  others = [...others, ...cliOthers.map((a) => `command line: ${a}`)];
  for (const o of others) warnings.push(`${o}: ignored in emperor mode (options belong in the vassals' own ini files)`);
  const { dir, pattern } = parseEmperorSpec(spec, cwd, at);
  return { dir, pattern, spec, tyrant, warnings };
}
