/**
 * log: one line per event, the same shape in every usher process (and in the Python runner):
 *   2026-11-24T01:47:00.123Z INFO  master: worker spawned id=1 pid=4242
 * A short message, then key=value fields (values with spaces or quotes are JSON-quoted).
 * In a child, lines are queued (encoded into one reused buffer as they come) and written in batches of whole lines (event
 * lines on the next turn of the loop, access lines every 20 ms or sooner when 32 KB wait). A Node worker
 * given the log file (setLogFile: a plain logto file, opened O_APPEND by the master) writes each batch
 * to it in one write, which the kernel appends whole. Otherwise a batch goes to stderr, the master's
 * non-blocking log pipe, at most PIPE_BUF bytes per write: each write is atomic, so lines of many workers never interleave
 * mid-line, and a full pipe never blocks the event loop; while it stays full the queue is capped,
 * lines beyond it are dropped and counted, and the count is logged once writing works again (a full
 * disk drops and counts the same way). In the master, lines go to its log writer
 * (src/logging/writer.ts) instead. Fatal paths call flushSync() before exiting.
 * Must not: format for humans only (fields stay machine-greppable), or throw.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, string | number | boolean | undefined | null>>;

const LEVEL_TAG: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' };
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Lines larger than this may be split by the kernel when many processes write the same pipe. */
const PIPE_BUF = 4096;
/** One write to the log file itself: a whole batch (see writeMax). */
const MAX_DIRECT_WRITE = 1 << 20;
/** Queued bytes past which lines are dropped (and counted) rather than held while the destination is stuck. */
const MAX_PENDING = 1 << 20;

let outFd = 2;
/**
 * The most bytes one write carries. To the master's pipe: PIPE_BUF (a larger write may be split and
 * interleaved with another child's). To the log file itself (opened O_APPEND): a whole batch, as the
 * kernel appends each write whole (the file's lock is held for the write).
 */
let writeMax = PIPE_BUF;
/** The log file this process writes directly (a Node worker when the master allows it), else null. */
let direct: { fd: number; path: string } | null = null;
let minRank = LEVEL_RANK.info;
/**
 * The queue: lines are encoded into this buffer as they come (not kept as strings to be joined and
 * encoded per batch), so a line is garbage at once and a batch is written from it as it is.
 */
const QUEUE_BYTES = 64 * 1024;
let queue = Buffer.allocUnsafe(QUEUE_BYTES);
let queued = 0;
let flushScheduled = false;
let dropped = 0;
/** The master's writer, when this process is the master. */
let sink: { write(data: string): void; flushSync(): void } | null = null;

/** The master routes every line of its own to its log writer (files, rotation, reopen). */
export function setLogSink(s: { write(data: string): void; flushSync(): void } | null): void {
  if (s !== null) flushSync();
  sink = s;
}

/**
 * Write straight to the log file (the master passed it open, O_APPEND, at `fd`; `path` is for
 * reopening) instead of the master's pipe: the lines cost no relay through the master. Only a
 * regular file (O_APPEND appends each write whole) or /dev/null qualifies; anything else keeps the pipe.
 */
export function setLogFile(fd: number, path: string): boolean {
  try {
    if (!appendsWhole(fstatSync(fd), path)) return false;
  } catch {
    return false;
  }
  flushSync();
  writeTo({ fd, path });
  return true;
}

/**
 * A destination several processes may append to at once, each write landing whole: a regular file
 * opened O_APPEND, or /dev/null (which takes everything; `--logto /dev/null` then costs what a file does,
 * not a relay through the master). A pipe, a tty or a socket keeps the master's pipe.
 */
export function appendsWhole(st: { isFile(): boolean; isCharacterDevice(): boolean }, path: string): boolean {
  return st.isFile() || (st.isCharacterDevice() && path === '/dev/null');
}

/** Where batches go from now on: the log file itself (a whole batch per write), or the master's pipe. */
function writeTo(file: { fd: number; path: string } | null): void {
  direct = file;
  outFd = file?.fd ?? 2;
  writeMax = file !== null ? MAX_DIRECT_WRITE : PIPE_BUF;
}

/**
 * The master reopened the log file (log-reopen, touch-logreopen, the master fifo, a deleted or moved
 * file): what is queued goes to the old file, then this process opens the path itself. If it cannot
 * (the file's folder is gone, or it is not allowed), it goes back to the master's pipe, so no line
 * is lost and the master's file gets them.
 */
export function reopenLogFile(): 'reopened' | 'pipe' | 'none' {
  if (direct === null) return 'none';
  flushSync();
  let fd: number;
  try {
    fd = openSync(direct.path, 'a', 0o640);
  } catch {
    fd = -1;
  }
  try { closeSync(direct.fd); } catch { /* closed */ }
  writeTo(fd >= 0 ? { fd, path: direct.path } : null);
  return fd >= 0 ? 'reopened' : 'pipe';
}

export function setLogLevel(level: LogLevel): void {
  minRank = LEVEL_RANK[level];
}

/** Lines lost so far (destination unwritable or too slow); reported once writing works again. */
export function droppedLines(): number {
  return dropped;
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

/** Lines wait this long to be written together (or until a batch is full): one write per batch, not per line. */
const BATCH_MS = 20;
const BATCH_BYTES = 32768;

/** Event lines go out on the next turn of the event loop; access lines (`batch`) wait for their batch. */
function enqueue(line: string, batch = false): void {
  if (sink !== null) { sink.write(line); return; }
  if (queued > MAX_PENDING) { dropped++; return; }
  // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4).
  if (queued + line.length * 3 > queue.length) grow(queued + line.length * 3);
  queued += queue.write(line, queued);
  added(batch);
}

/** Lines were added to the queue: a write is scheduled (the next turn for event lines, the batch's end for access lines). */
function added(batch: boolean): void {
  if (blocked) return; // the retry timer writes it
  if (!batch || queued >= BATCH_BYTES) {
    if (!flushScheduled) { flushScheduled = true; setImmediate(flush); }
  } else if (batchTimer === undefined) {
    batchTimer = setTimeout(flush, BATCH_MS);
  }
}

/** A larger queue (the pipe is full, or one line is very long): what is queued moves along. */
function grow(need: number): void {
  const next = Buffer.allocUnsafe(Math.max(need, queue.length * 2));
  queue.copy(next, 0, 0, queued);
  queue = next;
}

/** The queue is empty: a queue grown while the pipe was full goes back to its usual size. */
function emptied(): void {
  queued = 0;
  if (queue.length > QUEUE_BYTES * 4) queue = Buffer.allocUnsafe(QUEUE_BYTES);
}

function countLines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(10, from); i !== -1 && i < to; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/** Where the next write ends: whole lines, at most writeMax bytes (a longer line goes alone). */
function chunkEnd(buf: Buffer, off: number, len: number): number {
  if (len - off <= writeMax) return len;
  const nl = buf.lastIndexOf(10, off + writeMax - 1);
  if (nl >= off) return nl + 1;
  const next = buf.indexOf(10, off + writeMax);
  return next === -1 || next >= len ? len : next + 1;
}

let batchTimer: NodeJS.Timeout | undefined;
/** The pipe was full (EAGAIN): what is left waits for the retry timer. */
let blocked = false;
let reported = 0;
/** A failed write (a full disk) left the file ending mid-line: the next line written starts a new one. */
let torn = false;

/**
 * Lines were lost: the count goes first in the queue, written with the next batch. Returns the report's
 * length, and what `reported` and `torn` were: should the disk still be full, the report is not
 * written either, and flush() puts them back, so the next report still carries the whole count.
 */
function reportDropped(): { end: number; reported: number; torn: boolean } {
  const undo = { end: 0, reported, torn };
  const warn = Buffer.from((torn ? '\n' : '') + formatLine('warn', `pid ${process.pid}`, 'log lines were lost: the log destination was unwritable or too slow', { lost: dropped - reported }));
  undo.end = warn.length;
  torn = false;
  reported = dropped;
  const next = Buffer.allocUnsafe(Math.max(queue.length, warn.length + queued));
  warn.copy(next, 0);
  queue.copy(next, warn.length, 0, queued);
  queue = next;
  queued += warn.length;
  return undo;
}

/**
 * Write the queue now, synchronously: the log pipe is non-blocking (the master opens it so), so a
 * write never stalls the event loop; a full pipe leaves the rest queued for a retry a little later.
 */
function flush(): void {
  flushScheduled = false;
  if (batchTimer !== undefined) { clearTimeout(batchTimer); batchTimer = undefined; }
  blocked = false;
  if (queued === 0 && dropped <= reported) return;
  const report = dropped > reported ? reportDropped() : undefined;
  const buf = queue;
  const len = queued;
  let off = 0;
  while (off < len) {
    const end = chunkEnd(buf, off, len);
    try {
      off += writeSync(outFd, buf, off, end - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        // Keep the rest (whole lines) first in the queue; try again shortly.
        buf.copyWithin(0, off, len);
        queued = len - off;
        blocked = true;
        setTimeout(flush, 5).unref();
        return;
      }
      retryReport();
      if (report !== undefined && off < report.end) {
        // The report itself was not (wholly) written: it is not a lost line, its count is not reported yet.
        reported = report.reported;
        if (off === 0) torn = report.torn;
        else torn = true;
        dropped += countLines(buf, report.end, len);
        break;
      }
      if (off > 0 && buf[off - 1] !== 10) torn = true; // a short write before the error ended mid-line
      dropped += countLines(buf, off, len);
      break;
    }
  }
  emptied();
}

/**
 * A write failed (a full disk): try again in a second even if no line comes meanwhile, so the loss is
 * reported once the destination works again, not only with this process's next line (a worker the
 * load balancer leaves idle may have none for long).
 */
let reportTimer: NodeJS.Timeout | undefined;
function retryReport(): void {
  if (reportTimer !== undefined) return;
  reportTimer = setTimeout(() => { reportTimer = undefined; if (!flushScheduled && !blocked) flush(); }, 1000);
  reportTimer.unref();
}

/** Write everything queued, synchronously: call before process.exit(). */
export function flushSync(): void {
  if (sink !== null) { sink.flushSync(); return; }
  if (batchTimer !== undefined) { clearTimeout(batchTimer); batchTimer = undefined; }
  if (queued === 0) return;
  const buf = queue;
  const len = queued;
  for (let off = 0; off < len;) {
    const end = chunkEnd(buf, off, len);
    try { off += writeSync(outFd, buf, off, end - off); } catch { dropped += countLines(buf, off, len); break; }
  }
  emptied();
}

/** Pass a line through as it is (an access line, a Python worker's own formatted line). */
export function writeRaw(line: string): void {
  enqueue(line.endsWith('\n') ? line : line + '\n');
}

/** An access line (ends with a newline): written with the next batch, within 20 ms. */
export function writeAccess(line: string): void {
  enqueue(line, true);
}

/**
 * An access line written in place (logging/line-bytes): `fill(arg, buf, off)` writes at most `max` bytes
 * into the queue's buffer from `off` and returns where its line ends. False when the line is to go
 * through writeAccess() instead (the master's own lines go to its sink; a stuck destination drops and
 * counts lines there).
 */
export function writeAccessInPlace<T>(max: number, fill: (arg: T, buf: Buffer, off: number) => number, arg: T): boolean {
  if (sink !== null || queued > MAX_PENDING) return false;
  if (queued + max > queue.length) grow(queued + max);
  queued = fill(arg, queue, queued);
  added(true);
  return true;
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
    enqueue(formatLine(level, proc, msg, fields));
    if (level === 'error') flushSync();
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
