/**
 * logging/spec: how a child logs requests, as the master tells it (the `accessLog` key of the worker
 * spec, see src/ipc.ts). Derived once from the config by `accessLogSpec`.
 * Must not: know about processes or files (the master's writer owns destinations).
 */
import type { UsherConfig } from '../config/types.js';

export interface AccessLogSpec {
  /** `log-style`: uWSGI's request line (default) or usher's key=value event shape. */
  readonly style: 'uwsgi' | 'usher';
  /** `log-format` / `logformat`: uWSGI's %(var) format, or null for the style's line. */
  readonly format: string | null;
  /** `log-req-encoder` / `log-encoder`: `json` (one object per line) or `json <template>` (uWSGI's ${msg} form); null = text. */
  readonly encoder: string | null;
  /** `log-date` / `logdate`: the strftime format of `%(ftime)` (null = `%(ltime)`'s). */
  readonly strftime: string | null;
  /** `log-micros`: the default line says microseconds. */
  readonly micros: boolean;
  /** `memory-report`: uWSGI's default line ends with the worker's address space and RSS. */
  readonly memoryReport: boolean;
  /** Every request is logged (`disable-logging` off). */
  readonly enabled: boolean;
  /** With `disable-logging`, these still log (uWSGI's log-4xx, log-5xx, log-slow, log-big, log-zero). */
  readonly log4xx: boolean;
  readonly log5xx: boolean;
  readonly slowMs: number;
  readonly bigBytes: number;
  readonly zero: boolean;
  /** `log-x-forwarded-for`: %(addr) is the X-Forwarded-For the front sent. */
  readonly xForwardedFor: boolean;
  /** Prefix that marks access lines for the master (req-logger to another destination); '' = none. */
  readonly tag: string;
}

/** The marker before an access line on a child's output when request lines go elsewhere than events. */
export const ACCESS_TAG = '\x1e';

export function accessLogSpec(c: UsherConfig): AccessLogSpec {
  return {
    style: c.logStyle === 'usher' ? 'usher' : 'uwsgi',
    format: c.logFormat ?? null,
    encoder: c.logEncoder ?? null,
    strftime: c.logDate ?? null,
    micros: c.logMicros,
    memoryReport: c.memoryReport,
    enabled: !c.disableLogging,
    log4xx: c.log4xx,
    log5xx: c.log5xx,
    slowMs: c.logSlow,
    bigBytes: c.logBig,
    zero: c.logZero,
    xForwardedFor: c.logXForwardedFor,
    tag: c.reqLogger.length > 0 ? ACCESS_TAG : '',
  };
}

/** A spec for tests and tools: uWSGI's default line, every request. */
export const DEFAULT_ACCESS_LOG: AccessLogSpec = Object.freeze({
  style: 'uwsgi', format: null, encoder: null, strftime: null, micros: false, memoryReport: false, enabled: true,
  log4xx: false, log5xx: false, slowMs: 0, bigBytes: 0, zero: false, xForwardedFor: false, tag: '',
});
