/**
 * logging/format: compiles the access line once per process into a list of chunks, each appending
 * one field (uWSGI's logchunks); the per-request path walks the list. Three shapes:
 *   uwsgi  uWSGI's default request line, `[pid: P|app: 0|req: N/M] ADDR (USER) {V vars in B bytes} ...`
 *   usher  usher's event shape, `<iso time> INFO  worker 1: GET / 200 bytes=.. ms=.. addr=..`
 *   log-format  uWSGI's %(var) format (empty values render `-`, unknown variables `-` plus one warning)
 * and, with `log-encoder = json`, one JSON object per line. Control characters (and C1 controls,
 * U+2028/U+2029) in the rendered line are escaped as \xHH, so a request can never forge a line.
 * python/usher_wsgi/access_log.py mirrors this file; test/fixtures/logging/ holds both to the same output.
 * Must not: write anything, read the clock, or look at process state (facts come in filled).
 */
import type { RequestFacts } from './facts.js';
import { varOf } from './facts.js';
import type { AccessLogSpec } from './spec.js';
import { compileStrftime, ctime, ltime, type CompiledStrftime } from './strftime.js';
import { uwsgiLineBytes, type LineWriter } from './line-bytes.js';

type Getter = (f: RequestFacts) => string | number;

const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;
const UNSAFE_ALL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

const hex = (c: string): string => {
  const n = c.charCodeAt(0);
  return n > 0xff ? '\\u' + n.toString(16).padStart(4, '0') : '\\x' + n.toString(16).padStart(2, '0');
};

/**
 * Printable ASCII only (what request fields nearly always are): nothing to escape. A loop the JIT
 * inlines, cheaper on short fields than a call into the regex engine.
 */
function plain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** One line per request, whatever the request carried: control characters become \xHH. */
export function escapeLine(s: string): string {
  return plain(s) || !UNSAFE.test(s) ? s : s.replace(UNSAFE_ALL, hex);
}

const JSON_EXTRA = /[\x7f-\x9f\u2028\u2029]/g;
/** A JSON string literal that is also one safe line (JSON.stringify leaves DEL, C1 and U+2028 raw). */
export function jsonString(s: string): string {
  const j = JSON.stringify(s);
  return UNSAFE.test(j) ? j.replace(JSON_EXTRA, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : j;
}

/** A cache of a time string per second of request start (ctime, ltime): computed once a second, not per request. */
function perSecond(fn: (d: Date) => string): (f: RequestFacts) => string {
  let sec = -1;
  let text = '';
  return (f) => {
    const s = Math.floor(f.startUs / 1e6);
    if (s !== sec) { sec = s; text = fn(new Date(s * 1000)); }
    return text;
  };
}

const dash = (s: string): string => (s === '' ? '-' : s);

/**
 * uWSGI's %(...) variables. Text ones render `-` when empty; numeric ones are numbers in JSON.
 * Text values come out through `esc`: escapeLine for a text line, which is then escaped field by field,
 * the same as escaping it whole (escapeLine maps each character alone) without scanning the numbers;
 * as they are for JSON values (jsonString escapes them).
 */
function variables(ftime: (f: RequestFacts) => string, esc: (s: string) => string): Record<string, { get: Getter; numeric: boolean }> {
  const text = (get: (f: RequestFacts) => string) => ({ get: (f: RequestFacts) => esc(dash(get(f))), numeric: false });
  const num = (get: (f: RequestFacts) => number) => ({ get, numeric: true });
  return {
    addr: text((f) => f.addr), user: text((f) => f.user), method: text((f) => f.method), uri: text((f) => f.uri),
    proto: text((f) => f.proto), referer: text((f) => f.referer), uagent: text((f) => f.uagent), host: text((f) => f.host),
    status: num((f) => f.status), rsize: num((f) => f.rsize), hsize: num((f) => f.hsize), size: num((f) => f.rsize + f.hsize),
    cl: num((f) => f.cl), headers: num((f) => f.headers),
    msecs: num((f) => Math.floor(f.durUs / 1000)), micros: num((f) => f.durUs),
    secs: text((f) => (f.durUs / 1e6).toFixed(6)),
    time: num((f) => Math.floor(f.startUs / 1e6)), epoch: num((f) => Math.floor((f.startUs + f.durUs) / 1e6)),
    tmsecs: num((f) => Math.floor(f.startUs / 1000)), tmicros: num((f) => f.startUs),
    ltime: text(perSecond(ltime)), ctime: text(perSecond(ctime)), ftime: text(ftime),
    pid: num((f) => f.pid), wid: num((f) => f.wid), core: num((f) => f.core), switches: num((f) => f.switches),
    vars: num((f) => f.vars), pktsize: num((f) => f.pktsize),
    rss: num((f) => f.rss), vsz: num((f) => f.vsz), rssM: num((f) => Math.floor(f.rss / 1048576)), vszM: num((f) => Math.floor(f.vsz / 1048576)),
    modifier1: num(() => 0), modifier2: num(() => 0), werr: num(() => 0), rerr: num(() => 0), ioerr: num(() => 0),
  };
}

/** The variables of uWSGI's default line, the keys of `log-encoder = json` without a log-format. */
export const DEFAULT_JSON_VARS = ['time', 'pid', 'wid', 'core', 'addr', 'user', 'method', 'uri', 'proto', 'status',
  'rsize', 'hsize', 'headers', 'msecs', 'vars', 'pktsize', 'host', 'referer', 'uagent'] as const;

const UWSGI_USES = ['pid', 'req', 'addr', 'user', 'vars', 'pktsize', 'ctime', 'method', 'uri', 'rsize', 'msecs', 'proto', 'status', 'headers', 'hsize', 'switches', 'core'];
const USHER_USES = ['method', 'uri', 'status', 'rsize', 'msecs', 'addr'];

interface Chunk { readonly lit: string | null; readonly get: Getter | null; readonly key: string; readonly numeric: boolean }

export interface CompiledAccessLog {
  /** Whether this request is to be logged (cheap: status, time and size only). */
  wants(status: number, durUs: number, rsize: number): boolean;
  /** The whole line, newline included, safe to write. */
  render(f: RequestFacts): string;
  /** The same line written straight into a buffer (logging/line-bytes), for uWSGI's default line; else null. */
  readonly write: LineWriter | null;
  /** True when some request may be logged at all. */
  readonly active: boolean;
  /** The line needs rss/vsz (read from /proc at most once a second). */
  readonly needsMemory: boolean;
  /** The variables the line uses (`var.*` as `env`): a worker gathers only those facts. */
  readonly uses: ReadonlySet<string>;
  /** Startup warnings: unknown variables, strftime conversions usher does not render. */
  readonly warnings: readonly string[];
}

/** Parse `%(name)` chunks as uWSGI does: text between them is kept as it is. */
export function parseFormat(fmt: string): { lit: string | null; name: string | null }[] {
  const out: { lit: string | null; name: string | null }[] = [];
  const re = /%\(([^)]+)\)/g;
  let last = 0;
  for (let m = re.exec(fmt); m !== null; m = re.exec(fmt)) {
    if (m.index > last) out.push({ lit: fmt.slice(last, m.index), name: null });
    out.push({ lit: null, name: m[1] as string });
    last = m.index + m[0].length;
  }
  if (last < fmt.length) out.push({ lit: fmt.slice(last), name: null });
  return out;
}

function compileChunks(fmt: string, vars: ReturnType<typeof variables>, esc: (s: string) => string, warnings: string[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (const p of parseFormat(fmt)) {
    if (p.lit !== null) { chunks.push({ lit: esc(p.lit), get: null, key: '', numeric: false }); continue; }
    const name = p.name as string;
    const v = vars[name];
    if (v !== undefined) { chunks.push({ lit: null, get: v.get, key: name, numeric: v.numeric }); continue; }
    if (name.startsWith('var.') && name.length > 4) {
      const cgi = name.slice(4);
      chunks.push({ lit: null, get: (f) => esc(dash(varOf(f, cgi) ?? '')), key: name, numeric: false });
      continue;
    }
    warnings.push(`log-format: unknown variable %(${name}); it renders as "-"`);
    chunks.push({ lit: null, get: () => '-', key: name, numeric: false });
  }
  return chunks;
}

/**
 * uWSGI's default request line (core/logging.c, uwsgi_logit_simple). Text fields are escaped one by one.
 * It is the line nearly every request gets, so it is one concatenation with no dispatch per field:
 * the `[pid: P|app: 0|req: ` head is built once per pid (it is the process's), the time once a second.
 * `end` is appended (the newline, when the line is the whole output: one concatenation less).
 */
function uwsgiLine(micros: boolean, memory: boolean, end: string): (f: RequestFacts) => string {
  const when = perSecond(ctime);
  const close = memory ? ')' : ')' + end;
  const unit = micros ? ' micros (' : ' msecs (';
  let pid = -1;
  let head = '';
  const line = (f: RequestFacts): string => {
    if (f.pid !== pid) { pid = f.pid; head = `[pid: ${pid}|app: 0|req: `; }
    return head + f.req + '/' + f.req + '] ' + escapeLine(f.addr) + ' (' + escapeLine(f.user) + ') {' + f.vars + ' vars in '
      + f.pktsize + ' bytes} [' + when(f) + '] ' + escapeLine(f.method) + ' ' + escapeLine(f.uri) + ' => generated ' + f.rsize
      + ' bytes in ' + (micros ? f.durUs : Math.floor(f.durUs / 1000)) + unit + escapeLine(f.proto) + ' ' + f.status + ') '
      + f.headers + ' headers in ' + f.hsize + ' bytes (' + f.switches + ' switches on core ' + f.core + close;
  };
  if (!memory) return line;
  // uWSGI's memory-report: the worker's address space and RSS after the request.
  return (f) => `${line(f)} {address space usage: ${f.vsz} bytes/${Math.floor(f.vsz / 1048576)}MB} {rss usage: ${f.rss} bytes/${Math.floor(f.rss / 1048576)}MB}${end}`;
}

const FIELD_QUOTE = /[\s"=]/;
const field = (s: string): string => (s === '' || FIELD_QUOTE.test(s) ? jsonString(s) : s);

/** usher's own shape: the same as every event line (src/log.ts). Text fields are escaped one by one. */
function usherLine(name: string): (f: RequestFacts) => string {
  const proc = escapeLine(name);
  return (f) => {
    const tenths = Math.floor((f.durUs + 50) / 100);
    const iso = new Date(Math.floor((f.startUs + f.durUs) / 1000)).toISOString();
    return `${iso} INFO  ${proc}: ${escapeLine(f.method)} ${escapeLine(f.uri)} ${f.status} bytes=${f.rsize} ms=${Math.floor(tenths / 10)}.${tenths % 10} addr=${escapeLine(field(f.addr))}${f.aborted ? ' aborted=true' : ''}`;
  };
}

/** uWSGI's json encoder template: `${msg}` and friends in a literal JSON skeleton. */
function compileTemplate(tpl: string, warnings: string[]): (line: string, f: RequestFacts) => string {
  const parts: ((line: string, f: RequestFacts) => string)[] = [];
  const re = /\$\{([^}]+)\}/g;
  let last = 0;
  const lit = (s: string) => () => s;
  for (let m = re.exec(tpl); m !== null; m = re.exec(tpl)) {
    if (m.index > last) parts.push(lit(tpl.slice(last, m.index)));
    const name = m[1] as string;
    const now = (f: RequestFacts): number => f.startUs + f.durUs;
    if (name === 'msg' || name === 'msgnl') {
      const nl = name === 'msgnl' ? '\\n' : '';
      parts.push((line) => jsonString(line).slice(1, -1) + nl);
    } else if (name === 'unix') parts.push((_l, f) => String(Math.floor(now(f) / 1e6)));
    else if (name === 'micros') parts.push((_l, f) => String(now(f)));
    else if (name === 'millis') parts.push((_l, f) => String(Math.floor(now(f) / 1000)));
    else if (name.startsWith('strftime:')) {
      const st = compileStrftime(name.slice(9));
      for (const u of st.unknown) warnings.push(`log-encoder: strftime conversion ${u} is not rendered by usher; kept as written`);
      parts.push((_l, f) => jsonString(st(new Date(Math.floor(now(f) / 1000)))).slice(1, -1));
    } else {
      warnings.push(`log-encoder: unknown variable \${${name}}; it renders empty`);
    }
    last = m.index + m[0].length;
  }
  if (last < tpl.length) parts.push(lit(tpl.slice(last)));
  return (line, f) => {
    let out = '';
    for (const p of parts) out += p(line, f);
    return out;
  };
}

export function compileAccessLog(spec: AccessLogSpec, proc: string): CompiledAccessLog {
  const warnings: string[] = [];
  let strf: CompiledStrftime | null = null;
  if (spec.strftime !== null) {
    strf = compileStrftime(spec.strftime);
    for (const u of strf.unknown) warnings.push(`log-date: strftime conversion ${u} is not rendered by usher; kept as written`);
  }
  // %(ftime): log-date's strftime (uWSGI also wants log-format-strftime; usher needs log-date only).
  const ftime = perSecond(strf ?? ltime);

  const json = spec.encoder !== null && /^json\b/.test(spec.encoder);
  const template = json ? (spec.encoder as string).slice(4).trim() : '';
  const keyedJson = json && template === '';
  const esc = keyedJson ? (s: string): string => s : escapeLine;
  const vars = variables(ftime, esc);
  /** The line without its newline, escaped (text variables and literals are, numbers need not be). */
  let text: (f: RequestFacts) => string;
  let needsMemory = false;
  let uses: Set<string>;
  if (spec.format !== null || keyedJson) {
    const fmt = spec.format ?? DEFAULT_JSON_VARS.map((v) => `%(${v})`).join(' ');
    const chunks = compileChunks(fmt, vars, esc, warnings);
    needsMemory = chunks.some((c) => ['rss', 'vsz', 'rssM', 'vszM'].includes(c.key));
    uses = new Set(chunks.filter((c) => c.get !== null).map((c) => (c.key.startsWith('var.') ? 'env' : c.key)));
    if (keyedJson) {
      const seen = new Set<string>();
      const keyed = chunks.filter((c) => c.get !== null && !seen.has(c.key) && seen.add(c.key));
      const heads = keyed.map((c, i) => (i === 0 ? '{' : ',') + jsonString(c.key) + ':');
      text = (f) => {
        let out = '';
        for (let i = 0; i < keyed.length; i++) {
          const c = keyed[i] as Chunk;
          const v = (c.get as Getter)(f);
          out += heads[i] + (c.numeric ? String(v) : jsonString(String(v)));
        }
        return out + '}';
      };
    } else {
      text = (f) => {
        let out = '';
        for (const c of chunks) out += c.lit ?? (c.get as Getter)(f);
        return out;
      };
    }
  } else {
    text = spec.style === 'usher' ? usherLine(proc) : uwsgiLine(spec.micros, spec.memoryReport, '');
    needsMemory = spec.style !== 'usher' && spec.memoryReport;
    uses = new Set(spec.style === 'usher' ? USHER_USES : UWSGI_USES);
  }

  let render: (f: RequestFacts) => string;
  let write: LineWriter | null = null;
  if (keyedJson) render = (f) => text(f) + '\n';
  else if (json) {
    const tpl = compileTemplate(template, warnings);
    render = (f) => tpl(text(f), f) + '\n';
  } else if (spec.format === null && spec.style !== 'usher') {
    render = uwsgiLine(spec.micros, spec.memoryReport, '\n');
    if (!spec.memoryReport) write = uwsgiLineBytes(spec.micros, escapeLine);
  }
  else render = (f) => text(f) + '\n';
  if (spec.encoder !== null && !json) warnings.push(`log-encoder = ${spec.encoder}: usher has the json encoder only; lines stay text`);

  const active = spec.enabled || spec.log4xx || spec.log5xx || spec.slowMs > 0 || spec.bigBytes > 0 || spec.zero;
  const slowUs = spec.slowMs * 1000;
  const wants = spec.enabled
    ? () => true
    : (status: number, durUs: number, rsize: number): boolean =>
      (spec.zero && rsize === 0) || (slowUs > 0 && durUs >= slowUs) || (spec.log4xx && status >= 400 && status <= 499)
      || (spec.log5xx && status >= 500 && status <= 599) || (spec.bigBytes > 0 && rsize >= spec.bigBytes);
  return { wants, render, write, active, needsMemory, uses, warnings };
}
