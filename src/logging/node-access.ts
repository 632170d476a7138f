/**
 * logging/node-access: a Node worker's access line. Fills one reused RequestFacts object from a
 * finished request (only the facts the compiled line uses), renders it, and queues it on the log
 * (batched writes to the log file itself, or to the master's pipe: src/log.ts). Per request: no closure, no map, no timer; the wall clock
 * is not read (the start is performance.timeOrigin + the response's t0).
 * For HTTP requests (http-socket) the "vars" of uWSGI's line are the request's headers as CGI
 * vars plus the six request-line ones (REQUEST_METHOD, REQUEST_URI, PATH_INFO, QUERY_STRING,
 * SERVER_PROTOCOL, REMOTE_ADDR); for uwsgi requests they are the packet's vars.
 * Must not: decide whether logging is on for the process (the master's spec and messages do).
 */
import type http from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { writeAccess, writeAccessInPlace } from '../log.js';
import { emptyFacts, type RequestFacts } from './facts.js';
import { compileAccessLog, type CompiledAccessLog } from './format.js';
import { room, type LineWriter } from './line-bytes.js';
import type { AccessLogSpec } from './spec.js';

/** The uwsgi server puts the packet's vars on the request under this key (see worker/uwsgi-server). */
export const UWSGI_VARS = Symbol.for('usher.uwsgiVars');
type WithVars = http.IncomingMessage & { [UWSGI_VARS]?: ReadonlyMap<string, string> };

/** What the access line needs of a response beyond node's own: its body bytes and start (worker/requests). */
export interface LoggedResponse extends http.ServerResponse {
  readonly t0: number;
  readonly bytes: number;
  readonly cut: boolean;
  readonly _header?: string | null;
}

let current: WithVars | null = null;

function header(req: http.IncomingMessage, lower: string): string {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).length === lower.length && (raw[i] as string).toLowerCase() === lower) return raw[i + 1] as string;
  return '';
}

/** %(var.NAME): the packet's var (uwsgi), or the CGI var an HTTP request would have made. */
function lookup(name: string): string | undefined {
  const req = current;
  if (req === null) return undefined;
  const vars = req[UWSGI_VARS];
  if (vars !== undefined) return vars.get(name);
  if (name.startsWith('HTTP_')) return header(req, name.slice(5).toLowerCase().replace(/_/g, '-')) || undefined;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  switch (name) {
    case 'REQUEST_METHOD': return req.method;
    case 'REQUEST_URI': return url;
    case 'PATH_INFO': return q === -1 ? url : url.slice(0, q);
    case 'QUERY_STRING': return q === -1 ? '' : url.slice(q + 1);
    case 'SERVER_PROTOCOL': return `HTTP/${req.httpVersion}`;
    case 'REMOTE_ADDR': return req.socket?.remoteAddress;
    case 'CONTENT_LENGTH': return header(req, 'content-length') || undefined;
    case 'CONTENT_TYPE': return header(req, 'content-type') || undefined;
    default: return undefined;
  }
}

/** `remote`: the socket's address (REMOTE_ADDR), read once per request by the caller. */
function countVars(req: WithVars, f: RequestFacts, remote: string): void {
  const vars = req[UWSGI_VARS];
  let n = 0;
  let size = 0;
  if (vars !== undefined) {
    for (const [k, v] of vars) { n++; size += k.length + v.length + 4; }
  } else {
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) { n++; size += (raw[i] as string).length + (raw[i + 1] as string).length + 9; }
    const url = req.url ?? '';
    const q = url.indexOf('?');
    n += 6;
    size += 14 + (req.method ?? '').length + 11 + url.length + 9 + (q === -1 ? url.length : q) + 12 + (q === -1 ? 0 : url.length - q - 1)
      + 15 + 8 + 11 + remote.length + 24;
  }
  f.vars = n;
  f.pktsize = size;
}

export class NodeAccessLog {
  private readonly compiled: CompiledAccessLog;
  private readonly f: RequestFacts = emptyFacts();
  private readonly needVars: boolean;
  private readonly needHead: boolean;
  private readonly needHeaders: boolean;
  private readonly needUser: boolean;
  private readonly tag: string;
  /** The tag and uWSGI's default line written into the log queue (logging/line-bytes); null for the other shapes. */
  private readonly fill: LineWriter | null;
  private memAt = -Infinity;
  /** The last response head counted, and its header count: an app sends the same head again and again,
   * and comparing equal strings is cheaper than looking for every CRLF in it. */
  private lastHead = '';
  private lastHeaders = 0;
  /** performance.timeOrigin, read once (a getter). */
  private readonly origin = performance.timeOrigin;
  private served = 0;
  /** Every request is logged; the master may switch it (master fifo). */
  enabled: boolean;

  constructor(private readonly spec: AccessLogSpec, wid: number, proc: string) {
    this.compiled = compileAccessLog(spec, proc);
    const u = this.compiled.uses;
    this.needVars = u.has('vars') || u.has('pktsize');
    this.needHead = u.has('hsize') || u.has('headers') || u.has('size');
    this.needHeaders = u.has('referer') || u.has('uagent') || u.has('host') || u.has('cl');
    this.needUser = u.has('user');
    this.enabled = spec.enabled;
    this.tag = spec.tag;
    const write = this.compiled.write;
    const tag = this.tag;
    this.fill = write === null ? null : tag === '' ? write : (f, buf, off) => write(f, buf, off + buf.write(tag, off));
    this.f.wid = wid;
    this.f.lookup = lookup;
  }

  /** Whether finished requests need to come here at all. */
  get active(): boolean {
    return this.enabled || this.compiled.active;
  }

  /** A request is over: log it if the spec wants it. `ms` is its response time. */
  finished(req: http.IncomingMessage, res: LoggedResponse, ms: number): void {
    this.served++;
    const durUs = Math.round(ms * 1000);
    const status = res.statusCode;
    if (!this.enabled && !this.compiled.wants(status, durUs, res.bytes)) return;
    const f = this.f;
    const r = req as WithVars;
    const remote = req.socket?.remoteAddress ?? '';
    f.addr = (this.spec.xForwardedFor ? header(req, 'x-forwarded-for') : '') || remote;
    f.method = req.method ?? '';
    f.uri = req.url ?? '';
    f.proto = req.httpVersion === '1.1' ? 'HTTP/1.1' : `HTTP/${req.httpVersion}`;
    f.status = status;
    f.rsize = res.bytes;
    f.startUs = Math.floor((this.origin + res.t0) * 1000);
    f.durUs = durUs;
    f.req = this.served;
    f.aborted = !res.writableFinished || res.cut;
    if (this.needUser) f.user = r[UWSGI_VARS]?.get('REMOTE_USER') ?? '';
    if (this.needVars) countVars(r, f, remote);
    if (this.needHead) {
      const h = res._header ?? '';
      if (h !== this.lastHead) {
        let n = 0;
        for (let i = h.indexOf('\r\n'); i !== -1; i = h.indexOf('\r\n', i + 2)) n++;
        this.lastHead = h;
        this.lastHeaders = n > 1 ? n - 2 : 0;
      }
      f.hsize = h.length;
      f.headers = this.lastHeaders;
    }
    if (this.needHeaders) {
      f.referer = header(req, 'referer');
      f.uagent = header(req, 'user-agent');
      f.host = header(req, 'host');
      f.cl = Number(header(req, 'content-length')) || 0;
    }
    if (this.compiled.needsMemory) this.memory();
    // uWSGI's default line (it has no %(var.*): `current` is not needed): written into the queue itself.
    if (this.fill !== null && writeAccessInPlace(room(f) + this.tag.length * 3, this.fill, f)) return;
    current = r;
    const line = this.compiled.render(f);
    current = null;
    writeAccess(this.tag === '' ? line : this.tag + line);
  }

  /** rss and vsz, read at most once a second. */
  private memory(): void {
    const now = performance.now();
    if (now - this.memAt < 1000) return;
    this.memAt = now;
    try {
      const [size, resident] = readFileSync('/proc/self/statm', 'latin1').split(' ');
      this.f.vsz = Number(size) * 4096;
      this.f.rss = Number(resident) * 4096;
    } catch {
      this.f.rss = process.memoryUsage.rss();
    }
  }
}
