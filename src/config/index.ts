/**
 * config: `usher [--ini FILE[:section]]... [--option value]...` -> what to do, and the resolved config.
 * The CLI accepts every option of the table as `--name value`, `--name=value` or, for switches,
 * a bare `--name`; a lone `something.ini` argument is read as `--ini`, as uWSGI does.
 * Must not: run anything.
 */
import { ConfigError } from '../errors.js';
import { readIniFiles } from './ini.js';
import { expandFlag } from './placeholders.js';
import { findOption, OPTIONS, type OptionDef } from './options.js';
import { resolveSettings, type RawSetting } from './resolve.js';
import { nearest } from './suggest.js';
import type { CliAction, ConfigDiagnostic, LoadedConfig, UsherConfig } from './types.js';

export { OPTIONS } from './options.js';
export type { UsherConfig, LoadedConfig, ConfigDiagnostic, CliAction } from './types.js';
export { readIniFiles, type IniEntry, type IniFile } from './ini.js';

const BOOL_WORDS = new Set(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']);

interface Cli {
  readonly action: CliAction;
  readonly inis: string[];
  readonly settings: RawSetting[];
}

function parseArgv(argv: readonly string[]): Cli {
  let action: CliAction = { kind: 'run' };
  const inis: string[] = [];
  const settings: RawSetting[] = [];
  const cli = { kind: 'cli' as const };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') { action = { kind: 'help' }; continue; }
    if (arg === '--version') { action = { kind: 'version' }; continue; }
    if (arg === '--print-config' || arg === '--show-config') { if (action.kind === 'run') action = { kind: 'print-config' }; continue; }
    if (!arg.startsWith('-')) {
      if (arg.endsWith('.ini') || /\.ini:[\w.-]+$/.test(arg)) { inis.push(arg); continue; }
      throw new ConfigError('USHER_ERR_CONFIG_SYNTAX', `command line: unexpected argument ${JSON.stringify(arg)}; options are --name value (see usher --help)`, { option: arg });
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    let value: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);
    if (name === 'ini') {
      const file = value ?? argv[++i];
      if (file === undefined) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', 'command line: --ini needs a file', { option: 'ini' });
      inis.push(file);
      continue;
    }
    const negated = name.startsWith('no-') && findOption(name) === undefined ? findOption(name.slice(3)) : undefined;
    if (negated?.type === 'bool' && value === undefined) {
      settings.push({ key: negated.name, value: 'false', source: cli });
      continue;
    }
    const def = findOption(name);
    if (def === undefined) {
      const guess = nearest(name, OPTIONS.filter((d) => d.status === 'implemented').map((d) => d.name));
      throw new ConfigError('USHER_ERR_CONFIG_UNKNOWN_OPTION', `command line: unknown option --${name}${guess ? ` (did you mean --${guess}?)` : ''}; see usher --help`, { option: name });
    }
    if (value === undefined) {
      const next = argv[i + 1];
      if (def.type === 'bool' || def.type === 'mode') {
        if (next !== undefined && (BOOL_WORDS.has(next.toLowerCase()) || (def.type === 'mode' && /^[0-7]{3,4}$/.test(next)))) { value = next; i++; }
      } else if (def.status === 'implemented') {
        if (next === undefined) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `command line: --${name} needs a value`, { option: def.name });
        value = next;
        i++;
      }
    }
    settings.push({ key: name, value, source: cli });
  }
  return { action, inis, settings };
}

function envSettings(env: NodeJS.ProcessEnv): RawSetting[] {
  const out: RawSetting[] = [];
  for (const def of OPTIONS) {
    if (def.status !== 'implemented') continue;
    const v = env[`USHER_${def.name.toUpperCase().replace(/-/g, '_')}`];
    if (v !== undefined) out.push({ key: def.name, value: v, source: { kind: 'env' } });
  }
  return out;
}

/** uWSGI applies what `inherit` reads last, so a base file's single value replaces the main file's: say so. */
function inheritOverrides(settings: readonly RawSetting[]): ConfigDiagnostic[] {
  const set = new Map<string, RawSetting>();
  const out: ConfigDiagnostic[] = [];
  for (const s of settings) {
    const def = findOption(s.key);
    if (def === undefined || def.type === 'list' || def.status !== 'implemented') continue;
    const before = set.get(def.name);
    if (s.inherited !== undefined && before !== undefined && before.inherited === undefined && before.value !== s.value) {
      const from = `${before.source.file}:${before.source.line}`;
      out.push({ level: 'warn', code: 'config', file: s.source.file, line: s.source.line, option: s.key,
        message: `${s.source.file}:${s.source.line}: ${s.key} = ${s.value ?? ''} (read by inherit at ${s.inherited[s.inherited.length - 1]}) replaces ${s.key} = ${before.value ?? ''} set at ${from}: uWSGI applies inherited files last, and so does usher; to let this file win, read the base with \`ini = ...\` above your own values instead` });
    }
    if (!set.has(def.name)) set.set(def.name, s);
  }
  return out;
}

export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { action: CliAction; loaded?: LoadedConfig } {
  const cli = parseArgv(argv);
  if (cli.action.kind === 'help' || cli.action.kind === 'version') return { action: cli.action };
  const settings: RawSetting[] = [];
  const ini = cli.inis.length > 0 ? readIniFiles(cli.inis, env, cwd) : undefined;
  for (const e of ini?.entries ?? []) {
    if (e.directive || e.placeholderOnly) continue; // done by the reader (ini, if-*, for, set, ...)
    settings.push({
      key: e.key, value: e.value, source: { kind: 'file', file: e.file, line: e.line }, placeholder: ini!.placeholders.has(e.key),
      unresolved: e.unresolved, unsetEnv: e.unsetEnv, inherited: e.inherited, immediate: e.immediate,
    });
  }
  const inheritNotes = inheritOverrides(settings);
  settings.push(...envSettings(env));
  for (const c of cli.settings) {
    // uWSGI expands its flags too: $(ENV), and %(key) from the ini files
    if (c.value === undefined || !/[$%]\(/.test(c.value)) { settings.push(c); continue; }
    settings.push({ ...c, ...expandFlag(c.value, ini?.entries ?? [], env) });
  }
  const { config, diagnostics } = resolveSettings(settings, ini?.file);
  return { action: cli.action, loaded: { config, diagnostics: [...(ini?.diagnostics ?? []), ...inheritNotes, ...diagnostics] } };
}

export function formatDiagnostic(d: ConfigDiagnostic): string {
  return d.message;
}

export function formatConfigError(e: ConfigError): string {
  const loc = e.location;
  const prefix = loc.file !== undefined && !e.message.includes(loc.file) ? `${loc.file}${loc.line !== undefined ? `:${loc.line}` : ''}: ` : '';
  return `config error: ${prefix}${e.message}`;
}

function typeHint(t: string): string {
  return t === 'bool' ? '' : t === 'int' ? ' N' : t === 'mode' ? ' [MODE]' : t === 'list' ? ' VALUE' : ' VALUE';
}

const STATUS_WORD: Record<OptionDef['status'], string> = { implemented: 'honoured', accepted: 'accepted, no-op', unimplemented: 'not yet' };

/** The ini-only config language (config/ini), listed with the options. */
const LANGUAGE = 'ini/include = FILE[:section] or :section, inherit = FILE, if-env/if-not-env/if-opt/if-not-opt = NAME[=VALUE], '
  + 'if-exists/if-not-exists/if-file/if-not-file/if-dir/if-not-dir = PATH, if-hostname, if-plugin ... endif; '
  + 'for = a b c, for-glob = PATTERN, for-readline = FILE, for-times = N ... endfor, with %(_); set/set-placeholder = name=value; '
  + '%(key) and %(a + 1) placeholders, $(ENV), @(file), magic vars %d %n %p %s %c %e %x %o %k %h %v %t %T %u %U %g %G %0-%9 and the first file\'s %D %N %P %S %C %E %X %O';

function wrap(text: string, width = 100): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) { out.push(line); line = '  '; }
    line += line === '' || line === '  ' ? word : ` ${word}`;
  }
  return [...out, line];
}

export function renderHelp(): string {
  const lines = [
    'usher: an application server for Node.js and Python (WSGI) apps, with uWSGI\'s deployment model.',
    '',
    'Usage: usher --ini uwsgi.ini[:section] [--option value ...]',
    '       usher --http :8080 --processes 4 --app app.js',
    '       usher deploy systemd|nginx|apache --ini uwsgi.ini',
    '',
    'Every option can be set in the ini file (`name = value`), as USHER_NAME in the environment, or as',
    '--name on the command line (later wins). Signals: HUP reloads gracefully, TERM/INT stop gracefully,',
    'QUIT stops at once.',
    '',
    'Options usher honours:',
  ];
  for (const d of OPTIONS.filter((o) => o.status === 'implemented')) {
    const names = [`--${d.name}${typeHint(d.type)}`, ...(d.aliases ?? []).map((a) => a.length > 1 ? `--${a}` : `-${a}`)].join(', ');
    const dflt = d.default !== undefined && d.default !== false ? ` (default: ${d.default})` : '';
    lines.push(`  ${names}`, `      ${d.help}${dflt}`);
  }
  lines.push('', '  --print-config, --show-config', '      show the effective configuration and where each value came from, then exit',
    '  --help, --version', '', 'uWSGI options accepted as documented no-ops (an info line says why):');
  for (const d of OPTIONS.filter((o) => o.status === 'accepted')) lines.push(`  ${d.name}: ${d.help}`);
  lines.push('', ...wrap(`uWSGI options usher does not do yet (a warning names them; they are ignored): ${OPTIONS.filter((o) => o.status === 'unimplemented').map((o) => o.name).join(', ')}.`),
    '', ...wrap(`Config language (ini files, as uWSGI 2.0): ${LANGUAGE}.`), '');
  return lines.join('\n');
}

export function renderConfig(c: UsherConfig): string {
  const lines = ['[uwsgi]'];
  for (const d of OPTIONS) {
    if (d.status !== 'implemented' || d.field === undefined) continue;
    const v = c[d.field];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    const src = c.sources[d.name];
    const from = src === undefined ? 'default' : src.kind === 'file' ? `${src.file}:${src.line}` : src.kind === 'env' ? 'environment' : 'command line';
    const values: readonly unknown[] = Array.isArray(v) ? v : [d.type === 'mode' && typeof v === 'number' ? v.toString(8) : v];
    for (const one of values) lines.push(`${`${d.name} = ${String(one)}`.padEnd(44)} ; ${from}`);
  }
  return lines.join('\n') + '\n';
}

export function renderOptionsMarkdown(): string {
  const rows = ['| option | status | aliases | default | what it does |', '| --- | --- | --- | --- | --- |'];
  for (const d of OPTIONS) {
    rows.push(`| \`${d.name}\` | ${STATUS_WORD[d.status]} | ${(d.aliases ?? []).map((a) => `\`${a}\``).join(' ')} | ${d.default !== undefined ? `\`${String(d.default)}\`` : ''} | ${d.help.replace(/\|/g, '\\|')} |`);
  }
  rows.push('', `Config language (ini files, as uWSGI 2.0): ${LANGUAGE.replace(/\|/g, '\\|')}.`);
  return rows.join('\n') + '\n';
}
