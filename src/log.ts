/**
 * log: one line per event, the same shape in every usher process (and in the Python runner):
 *   2026-11-24T01:47:00.123Z INFO  master: worker spawned id=1 pid=4242
 * A short message, then key=value fields (values with spaces or quotes are JSON-quoted).
 * Lines are buffered and flushed asynchronously, so logging a request never blocks the event loop
 * on a slow pipe; fatal paths call flushSync() before exiting.
 * Must not: format for humans only (fields stay machine-greppable), or throw.
 */
import { writeSync, write, openSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, string | number | boolean | undefined | null>>;

const LEVEL_TAG: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' };
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let outFd = 2;
let minRank = LEVEL_RANK.info;
let pending: string[] = [];
let flushScheduled = false;
let writing = false;

/** Send logs to a file (uWSGI's `logto`) instead of stderr. */
export function logTo(path: string): void {
  outFd = openSync(path, 'a');
}

export function setLogLevel(level: LogLevel): void {
  minRank = LEVEL_RANK[level];
}

function formatValue(v: string | number | boolean): string {
  const s = String(v);
  return s === '' || /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

export function formatLine(level: LogLevel, proc: string, msg: string, fields?: LogFields): string {
  let line = `${new Date().toISOString()} ${LEVEL_TAG[level]} ${proc}: ${msg}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined || v === null) continue;
      line += ` ${k}=${formatValue(v)}`;
    }
  }
  return line + '\n';
}

function flush(): void {
  flushScheduled = false;
  if (writing || pending.length === 0) return;
  const data = pending.join('');
  pending = [];
  writing = true;
  write(outFd, data, (err) => {
    writing = false;
    if (err) {
      try { writeSync(2, data); } catch { /* nowhere left to report */ }
    }
    if (pending.length > 0) scheduleFlush();
  });
}

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flush);
}

/** Write everything queued, synchronously: call before process.exit(). */
export function flushSync(): void {
  if (pending.length === 0) return;
  const data = pending.join('');
  pending = [];
  try { writeSync(outFd, data); } catch { /* nothing else to do */ }
}

/** Pass a line through as it is (a Python worker's own formatted line, say). */
export function writeRaw(line: string): void {
  pending.push(line.endsWith('\n') ? line : line + '\n');
  scheduleFlush();
}

export interface Logger {
  readonly proc: string;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(proc: string): Logger;
}

export function createLogger(proc: string): Logger {
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < minRank) return;
    pending.push(formatLine(level, proc, msg, fields));
    if (level === 'error') flushSync();
    else scheduleFlush();
  };
  return {
    proc,
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (name: string) => createLogger(name),
  };
}
