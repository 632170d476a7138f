/**
 * config/resolve: defaults < ini files < USHER_* environment < CLI flags, into one frozen UsherConfig.
 * Every value is checked against the options table; every problem names file, line and option.
 * Unknown keys warn with the nearest known option (errors under `strict`); uWSGI options usher does
 * not do yet warn by name; options that mean nothing to usher get an info line.
 * Within one source a repeatable option accumulates; a later source replaces it (CLI over file).
 * Must not: touch sockets or processes.
 */
import { ConfigError } from '../errors.js';
import { findOption, OPTIONS, type OptionDef } from './options.js';
import { DIRECTIVES } from './ini.js';
import { iniRespelling } from './spelling.js';
import { nearest } from './suggest.js';
import { buildStaticSpec } from '../static/spec.js';
import type { ConfigDiagnostic, OptionSource, UsherConfig } from './types.js';

export interface RawSetting {
  readonly key: string;
  readonly value: string | undefined;
  readonly source: OptionSource;
  /** For file keys: used as a %(placeholder), so not worth a warning when unknown. */
  readonly placeholder?: boolean;
  /** %(name)s nothing defines, left as written (config/placeholders). */
  readonly unresolved?: readonly string[];
  /** $(NAME)s unset in the environment, left as written. */
  readonly unsetEnv?: readonly string[];
  /** The `inherit` chain that brought this line in (its placeholders are not expanded, as in uWSGI). */
  readonly inherited?: readonly string[];
  /** uWSGI applies this option as it reads it, before any expansion. */
  readonly immediate?: boolean;
}

/** Values that carry the request logger's own %(vars): unknown %(...) there is not an error. */
const LOG_FORMAT_KEYS = new Set(['log-format', 'logformat', 'log-req-format', 'log-encoder', 'log-req-encoder']);

/** An inline comment after a typed value: uWSGI's atoi()/word checks stop before it. */
const INLINE_COMMENT = /\s+[;#].*$/;

type Warn = (message: string) => void;

type Value = string | number | boolean | string[] | undefined;

const BOOL: Record<string, boolean> = { true: true, false: false, 1: true, 0: false, yes: true, no: false, on: true, off: false, enabled: true, enable: true };

/** uWSGI's uwsgi_opt_true: only false/off/no (any case) and 0, exactly, are false; anything else is true. */
function uwsgiBool(raw: string): boolean {
  return !(/^(false|off|no)$/i.test(raw) || raw === '0');
}

function where(s: OptionSource): string {
  if (s.kind === 'file') return `${s.file}:${s.line}: `;
  if (s.kind === 'env') return 'environment: ';
  return 'command line: ';
}

function bad(def: OptionDef, raw: string | undefined, expected: string, s: OptionSource, key: string): ConfigError {
  return new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${where(s)}${key} = ${JSON.stringify(raw ?? '')}: expected ${expected}`, { file: s.file, line: s.line, option: def.name });
}

function parseValue(def: OptionDef, raw: string | undefined, s: OptionSource, key: string, warn: Warn): Value {
  const typed = raw?.replace(INLINE_COMMENT, '').trim();
  switch (def.type) {
    case 'bool': {
      if (raw === undefined || raw === '') return true;
      const b = BOOL[(typed as string).toLowerCase()];
      if (b === undefined) throw bad(def, raw, `true/false (also 1/0, yes/no, on/off, enabled); uWSGI would read ${JSON.stringify(raw)} as true`, s, key);
      if (b !== uwsgiBool(raw)) {
        warn(`${key} = ${JSON.stringify(raw)} is ${uwsgiBool(raw)} for uWSGI (only a bare false/off/no/0 is false; the comment is part of the value) and so for usher; remove the comment to mean ${b}`);
        return uwsgiBool(raw);
      }
      return b;
    }
    case 'int': {
      if (typed === undefined || !/^-?\d+$/.test(typed)) throw bad(def, raw, `a whole number${def.min !== undefined ? ` from ${def.min}` : ''}${def.max !== undefined ? ` to ${def.max}` : ''}`, s, key);
      const n = Number(typed);
      if (def.clamp && def.max !== undefined && n > def.max) {
        warn(`${key} = ${typed} is above ${def.max}, the most uWSGI takes; using ${def.max}, as uWSGI does`);
        return def.max;
      }
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
        throw bad(def, raw, `a whole number from ${def.min ?? '-∞'} to ${def.max ?? '∞'}`, s, key);
      }
      return n;
    }
    case 'mode': {
      if (raw === undefined || raw === '' || typed === 'true') return 0o666; // a bare chmod-socket is 666 (uWSGI: on the command line)
      if (!/^[0-7]{3,4}$/.test(typed as string)) throw bad(def, raw, 'an octal mode such as 660 or 666', s, key);
      return parseInt(typed as string, 8);
    }
    case 'list':
    case 'string':
    case 'path':
    case 'address': {
      if (raw === undefined || raw === '') throw bad(def, raw, 'a value', s, key);
      if (def.field === 'env' && !/^[^=]+=/.test(raw)) throw bad(def, raw, 'KEY=VALUE', s, key);
      if (def.field !== 'env' && s.kind === 'file' && /\s[;#]/.test(raw)) {
        warn(`${key} = ${JSON.stringify(raw)}: uWSGI keeps an inline comment as part of a value like this one (only numbers and switches stop before it), and so does usher; put the comment on its own line`);
      }
      return raw;
    }
  }
}

/** A placeholder nothing defines, where usher needs the real value, is an error; an unset $(ENV) a warning. */
function checkExpansion(def: OptionDef, s: RawSetting, warn: Warn): void {
  if (s.immediate && /[%$]\(/.test(s.value ?? '')) {
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${where(s.source)}${s.key} = ${JSON.stringify(s.value)}: uWSGI applies ${s.key} the moment it reads the line, before $(...) and %(...) are expanded, so they stay as written; write the value itself`, { file: s.source.file, line: s.source.line, option: def.name });
  }
  const missing = LOG_FORMAT_KEYS.has(def.name) ? [] : s.unresolved ?? [];
  if (missing.length > 0) {
    const name = missing[0] as string;
    const why = s.inherited !== undefined
      ? 'uWSGI does not expand placeholders in a file read by `inherit` (use `ini =` to include it with expansion)'
      : name === '_' ? '%(_) has a value only inside an if-*/for block' : 'nothing in the configuration sets it (uWSGI would keep it as written)';
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${where(s.source)}${s.key} = ${JSON.stringify(s.value ?? '')}: placeholder %(${name}) is not defined: ${why}`, { file: s.source.file, line: s.source.line, option: def.name });
  }
  for (const n of s.unsetEnv ?? []) warn(`${s.key}: $(${n}) is not set in the environment; kept as written, as uWSGI does`);
}

/**
 * The option a setting sets, if usher takes it: keys uWSGI ignores in ini files and unknown keys warn
 * (errors under strict or on the command line), accepted options get an info line, options usher
 * does not do yet a warning.
 */
function settingDef(s: RawSetting, strict: boolean, diagnostics: ConfigDiagnostic[]): OptionDef | undefined {
  const at = { file: s.source.file, line: s.source.line, option: s.key };
  const report = (msg: string): undefined => {
    if (strict || s.source.kind === 'cli') throw new ConfigError('USHER_ERR_CONFIG_UNKNOWN_OPTION', msg + (strict ? '; `strict` is on' : ''), at);
    diagnostics.push({ level: 'warn', code: 'USHER_ERR_CONFIG_UNKNOWN_OPTION', message: `${msg}; ignored (set \`strict\` to make this an error)`, ...at });
    return undefined;
  };
  const respelt = s.source.kind === 'file' ? iniRespelling(s.key) : undefined;
  if (respelt !== undefined) return report(`${where(s.source)}"${s.key}": ${respelt.why}; write \`${respelt.key} = ${s.value ?? ''}\``);
  const def = findOption(s.key);
  if (def === undefined) {
    if (s.placeholder) return undefined; // a custom placeholder, as uWSGI allows
    const guess = nearest(s.key, IMPLEMENTED_NAMES) ?? nearest(s.key, [...ALL_NAMES, ...DIRECTIVES]);
    return report(`${where(s.source)}unknown option "${s.key}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
  }
  if (def.status === 'accepted') {
    diagnostics.push({ level: 'info', code: 'accepted', message: `${where(s.source)}${s.key}: accepted, nothing to do: ${def.help}`, ...at });
    return undefined;
  }
  if (def.status === 'unimplemented') {
    diagnostics.push({ level: 'warn', code: 'unimplemented', message: `${where(s.source)}${s.key}: a uWSGI option usher does not implement yet; ignored`, ...at });
    return undefined;
  }
  if (def.field === undefined) return undefined; // read by its own part of usher (the emperor's options), not the master's config
  return def;
}

const IMPLEMENTED_NAMES = OPTIONS.filter((d) => d.status === 'implemented').map((d) => d.name);
const ALL_NAMES = OPTIONS.map((d) => d.name);

function defaults(): Map<keyof UsherConfig, Value> {
  const m = new Map<keyof UsherConfig, Value>();
  for (const def of OPTIONS) {
    if (def.status !== 'implemented' || def.field === undefined) continue;
    m.set(def.field, def.type === 'list' ? [] : def.default);
  }
  return m;
}

export function resolveSettings(settings: readonly RawSetting[], iniFile: string | undefined): { config: UsherConfig; diagnostics: ConfigDiagnostic[] } {
  const values = defaults();
  const sources: Record<string, OptionSource> = {};
  const diagnostics: ConfigDiagnostic[] = [];
  const listOwner = new Map<string, OptionSource['kind']>();
  const strict = settings.some((s) => s.key === 'strict' && (s.value === undefined || s.value === '' || BOOL[s.value.replace(INLINE_COMMENT, '').trim().toLowerCase()] === true));
  const usable = (s: RawSetting): OptionDef | undefined => settingDef(s, strict, diagnostics);

  for (const s of settings) {
    const def = usable(s);
    if (def === undefined || def.field === undefined) continue;
    const at = { file: s.source.file, line: s.source.line, option: s.key };
    checkExpansion(def, s, (message) => diagnostics.push({ level: 'warn', code: 'config', message: `${where(s.source)}${message}`, ...at }));
    const v = parseValue(def, s.value, s.source, s.key, (message) => diagnostics.push({ level: 'warn', code: 'config', message: `${where(s.source)}${message}`, ...at }));
    if (def.type === 'list') {
      const owner = listOwner.get(def.name);
      const prev = owner === s.source.kind ? (values.get(def.field) as string[]) : [];
      values.set(def.field, [...prev, v as string]);
      listOwner.set(def.name, s.source.kind);
    } else {
      values.set(def.field, v);
    }
    sources[def.name] = s.source;
  }

  // Built from the options table, field by field: adding an option is its table entry and its field
  // in types.ts (the type every module reads), never a third list here.
  const fields: Record<string, unknown> = {};
  for (const [field, v] of values) fields[field] = Array.isArray(v) ? Object.freeze([...v]) : v;
  const config = Object.freeze({ ...fields, sources: Object.freeze(sources), iniFile }) as unknown as UsherConfig;
  validate(config);
  buildStaticSpec(config); // static-map & co: checked here so a bad value stops usher before anything starts
  return { config, diagnostics };
}

function at(c: UsherConfig, option: string): { file?: string; line?: number; option: string } {
  return { file: c.sources[option]?.file, line: c.sources[option]?.line, option };
}

function validate(c: UsherConfig): void {
  const file = c.iniFile ? `${c.iniFile}: ` : '';
  if (c.http.length + c.httpSocket.length + c.socket.length === 0) {
    throw new ConfigError('USHER_ERR_CONFIG_MISSING', `${file}nothing to serve on: add \`http = 127.0.0.1:8080\` (HTTP), \`socket = /run/app.sock\` (uwsgi protocol, for Nginx/Apache) or \`http-socket\``, { file: c.iniFile });
  }
  const python = c.wsgiFile !== undefined || c.module !== undefined;
  if (c.app === undefined && !python) {
    throw new ConfigError('USHER_ERR_CONFIG_MISSING', `${file}no app to run: add \`app = app.js\` (Node) or \`wsgi-file = project/wsgi.py\` / \`module = project.wsgi\` (Python)`, { file: c.iniFile });
  }
  if (c.app !== undefined && python) {
    const other = c.wsgiFile !== undefined ? 'wsgi-file' : 'module';
    throw new ConfigError('USHER_ERR_CONFIG_CONFLICT', `both a Node \`app\` and a Python \`${other}\` are set; one usher runs one app: keep one`, at(c, other));
  }
  if (c.wsgiFile !== undefined && c.module !== undefined) {
    throw new ConfigError('USHER_ERR_CONFIG_CONFLICT', 'both `wsgi-file` and `module` are set; keep one', at(c, 'module'));
  }
  validateCheaper(c);
  if (c.protocol !== 'uwsgi' && c.protocol !== 'http') {
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `protocol = ${c.protocol}: usher speaks uwsgi and http on \`socket\` (fastcgi, scgi and the others are not implemented); use one of those, or put Nginx in front`, at(c, 'protocol'));
  }
  validateLogging(c);
}

/** Log destinations usher can write, and the styles it has, with the reason when not. */
function validateLogging(c: UsherConfig): void {
  if (c.logStyle !== 'uwsgi' && c.logStyle !== 'usher') {
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `log-style = ${c.logStyle}: expected \`uwsgi\` (uWSGI's request line) or \`usher\` (usher's key=value shape)`, at(c, 'log-style'));
  }
  for (const [option, list] of [['logger', c.logger], ['req-logger', c.reqLogger]] as const) {
    for (const spec of list) {
      if (spec === 'stdio' || /^file:./.test(spec)) continue;
      const why = spec.startsWith('syslog') ? 'syslog is not available yet: log to `stdio` (journald takes stderr under systemd) or a file' : 'usher writes `file:/path` and `stdio`';
      throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${option} = ${spec}: ${why}`, at(c, option));
    }
  }
  if (c.logEncoder !== undefined && !/^json(\s|$)/.test(c.logEncoder)) {
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `log-encoder = ${c.logEncoder}: usher has the \`json\` encoder (\`json\` alone, or uWSGI's \`json {template with \${msg}}\`)`, at(c, 'log-encoder'));
  }
}

/** uWSGI's own rules for cheaper, with the reason said. */
function validateCheaper(c: UsherConfig): void {
  if (c.cheaper === 0) return;
  if (c.cheaper >= c.processes) {
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `cheaper = ${c.cheaper} must be lower than processes = ${c.processes} (the most workers that may run)`, at(c, 'cheaper'));
  }
  if (c.cheaperAlgo !== 'spare') {
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `cheaper-algo = ${c.cheaperAlgo}: usher has only \`spare\` (uWSGI's default); remove the line or set spare`, at(c, 'cheaper-algo'));
  }
  if (c.cheaperInitial !== 0 && (c.cheaperInitial < c.cheaper || c.cheaperInitial > c.processes)) {
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `cheaper-initial = ${c.cheaperInitial} must be between cheaper (${c.cheaper}) and processes (${c.processes})`, at(c, 'cheaper-initial'));
  }
}
