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
import { nearest } from './suggest.js';
import type { ConfigDiagnostic, OptionSource, UsherConfig } from './types.js';

export interface RawSetting {
  readonly key: string;
  readonly value: string | undefined;
  readonly source: OptionSource;
  /** For file keys: used as a %(placeholder), so not worth a warning when unknown. */
  readonly placeholder?: boolean;
}

type Value = string | number | boolean | string[] | undefined;

const BOOL: Record<string, boolean> = { true: true, false: false, 1: true, 0: false, yes: true, no: false, on: true, off: false };

function where(s: OptionSource): string {
  if (s.kind === 'file') return `${s.file}:${s.line}: `;
  if (s.kind === 'env') return 'environment: ';
  return 'command line: ';
}

function bad(def: OptionDef, raw: string | undefined, expected: string, s: OptionSource, key: string): ConfigError {
  return new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${where(s)}${key} = ${JSON.stringify(raw ?? '')}: expected ${expected}`, { file: s.file, line: s.line, option: def.name });
}

function parseValue(def: OptionDef, raw: string | undefined, s: OptionSource, key: string): Value {
  switch (def.type) {
    case 'bool': {
      if (raw === undefined || raw === '') return true;
      const b = BOOL[raw.toLowerCase()];
      if (b === undefined) throw bad(def, raw, 'true/false (also 1/0, yes/no, on/off)', s, key);
      return b;
    }
    case 'int': {
      if (raw === undefined || !/^-?\d+$/.test(raw)) throw bad(def, raw, `a whole number${def.min !== undefined ? ` from ${def.min}` : ''}${def.max !== undefined ? ` to ${def.max}` : ''}`, s, key);
      const n = Number(raw);
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
        throw bad(def, raw, `a whole number from ${def.min ?? '-∞'} to ${def.max ?? '∞'}`, s, key);
      }
      return n;
    }
    case 'mode': {
      if (raw === undefined || raw === '' || raw === 'true') return 0o666; // uWSGI: a bare chmod-socket is 666
      if (!/^[0-7]{3,4}$/.test(raw)) throw bad(def, raw, 'an octal mode such as 660 or 666', s, key);
      return parseInt(raw, 8);
    }
    case 'list':
    case 'string':
    case 'path':
    case 'address': {
      if (raw === undefined || raw === '') throw bad(def, raw, 'a value', s, key);
      if (def.field === 'env' && !/^[^=]+=/.test(raw)) throw bad(def, raw, 'KEY=VALUE', s, key);
      return raw;
    }
  }
}

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
  const strict = settings.some((s) => findOption(s.key)?.name === 'strict' && (s.value === undefined || BOOL[s.value.toLowerCase()] === true));
  const implementedNames = OPTIONS.filter((d) => d.status === 'implemented').map((d) => d.name);
  const allNames = OPTIONS.map((d) => d.name);

  for (const s of settings) {
    const def = findOption(s.key);
    const at = { file: s.source.file, line: s.source.line, option: s.key };
    if (def === undefined) {
      if (s.placeholder) continue; // a custom placeholder, as uWSGI allows
      const guess = nearest(s.key, implementedNames) ?? nearest(s.key, allNames);
      const msg = `${where(s.source)}unknown option "${s.key}"${guess ? ` (did you mean "${guess}"?)` : ''}`;
      if (strict || s.source.kind === 'cli') throw new ConfigError('USHER_ERR_CONFIG_UNKNOWN_OPTION', msg + (strict ? '; `strict` is on' : ''), at);
      diagnostics.push({ level: 'warn', code: 'USHER_ERR_CONFIG_UNKNOWN_OPTION', message: `${msg}; ignored (set \`strict\` to make this an error)`, ...at });
      continue;
    }
    if (def.status === 'accepted') {
      diagnostics.push({ level: 'info', code: 'accepted', message: `${where(s.source)}${s.key}: accepted, nothing to do: ${def.help}`, ...at });
      continue;
    }
    if (def.status === 'unimplemented' || def.field === undefined) {
      diagnostics.push({ level: 'warn', code: 'unimplemented', message: `${where(s.source)}${s.key}: a uWSGI option usher does not implement yet; ignored`, ...at });
      continue;
    }
    const v = parseValue(def, s.value, s.source, s.key);
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

  const get = <T extends Value>(f: keyof UsherConfig): T => values.get(f) as T;
  const config: UsherConfig = Object.freeze({
    http: Object.freeze(get<string[]>('http')),
    httpSocket: Object.freeze(get<string[]>('httpSocket')),
    socket: Object.freeze(get<string[]>('socket')),
    chmodSocket: get<number | undefined>('chmodSocket'),
    chdir: get<string | undefined>('chdir'),
    processes: get<number>('processes'),
    threads: get<number>('threads'),
    master: get<boolean>('master'),
    vacuum: get<boolean>('vacuum'),
    pidfile: get<string | undefined>('pidfile'),
    env: Object.freeze(get<string[]>('env')),
    listen: get<number>('listen'),
    bufferSize: get<number>('bufferSize'),
    app: get<string | undefined>('app'),
    wsgiFile: get<string | undefined>('wsgiFile'),
    module: get<string | undefined>('module'),
    callable: get<string>('callable'),
    pythonpath: Object.freeze(get<string[]>('pythonpath')),
    home: get<string | undefined>('home'),
    python: get<string | undefined>('python'),
    httpRouter: get<boolean | undefined>('httpRouter'),
    httpProcesses: get<number>('httpProcesses'),
    harakiri: get<number>('harakiri'),
    socketTimeout: get<number>('socketTimeout'),
    maxRequests: get<number>('maxRequests'),
    postBuffering: get<number>('postBuffering'),
    reloadMercy: get<number>('reloadMercy'),
    heartbeatTimeout: get<number>('heartbeatTimeout'),
    maxRequestsDelta: get<number>('maxRequestsDelta'),
    minWorkerLifetime: get<number>('minWorkerLifetime'),
    maxWorkerLifetime: get<number>('maxWorkerLifetime'),
    maxWorkerLifetimeDelta: get<number>('maxWorkerLifetimeDelta'),
    reloadOnRss: get<number>('reloadOnRss'),
    reloadOnAs: get<number>('reloadOnAs'),
    evilReloadOnRss: get<number>('evilReloadOnRss'),
    evilReloadOnAs: get<number>('evilReloadOnAs'),
    cheaper: get<number>('cheaper'),
    cheaperInitial: get<number>('cheaperInitial'),
    cheaperStep: get<number>('cheaperStep'),
    cheaperOverload: get<number>('cheaperOverload'),
    cheaperAlgo: get<string>('cheaperAlgo'),
    touchReload: Object.freeze(get<string[]>('touchReload')),
    touchWorkersReload: Object.freeze(get<string[]>('touchWorkersReload')),
    touchChainReload: Object.freeze(get<string[]>('touchChainReload')),
    fsReload: Object.freeze(get<string[]>('fsReload')),
    logto: get<string | undefined>('logto'),
    disableLogging: get<boolean>('disableLogging'),
    logStyle: get<string>('logStyle'),
    logFormat: get<string | undefined>('logFormat'),
    logEncoder: get<string | undefined>('logEncoder'),
    logDate: get<string | undefined>('logDate'),
    logMicros: get<boolean>('logMicros'),
    log4xx: get<boolean>('log4xx'),
    log5xx: get<boolean>('log5xx'),
    logSlow: get<number>('logSlow'),
    logBig: get<number>('logBig'),
    logZero: get<boolean>('logZero'),
    logXForwardedFor: get<boolean>('logXForwardedFor'),
    logger: Object.freeze(get<string[]>('logger')),
    reqLogger: Object.freeze(get<string[]>('reqLogger')),
    logReopen: get<boolean>('logReopen'),
    touchLogreopen: Object.freeze(get<string[]>('touchLogreopen')),
    logMaxsize: get<number>('logMaxsize'),
    logBackupname: get<string | undefined>('logBackupname'),
    strict: get<boolean>('strict'),
    sources: Object.freeze(sources),
    iniFile,
  });
  validate(config);
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
