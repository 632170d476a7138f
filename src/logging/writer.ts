/**
 * logging/writer: the master's log writer (uWSGI's log-master). Every child's stdout and stderr
 * is the write end of one pipe the master reads; the master writes what it reads, and its own lines,
 * to the destinations: `logto`, `logger = file:/stdio`, and `req-logger` for access lines (children
 * mark those with ACCESS_TAG when they go elsewhere). One writer per file means lines never
 * interleave, a file can be reopened (`log-reopen`, `touch-logreopen`, a deleted file) or rotated
 * (`log-maxsize`) without touching a worker, and no line is lost in a rotation (writes are serialised).
 * A destination that fails (disk full) drops lines with a count, reported once it works again.
 * Writes are synchronous and batched per read of the pipe (read up to 10 ms late, so one read takes many
 * children's writes and passes them on as one Buffer, with no per-line work unless req-logger splits
 * access lines from events; a file takes them at once; a full stderr
 * pipe keeps them queued, capped, for a retry), so a rotation never races a write.
 * The exception (directFile): with one plain file for every line and no log-maxsize or log-master, Node
 * workers get that file and append their lines to it themselves (src/log.ts setLogFile), as uWSGI's
 * workers do without log-master: no copy through the pipe and the master. A reopen here is then passed
 * on (onReopen: the master sends `reopen-logs`, each worker reopens the path).
 * Must not: wait on a slow destination, or render access lines (children do).
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import net from 'node:net';
import type { UsherConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { appendsWhole, formatLine, setLogSink } from '../log.js';
import { subscribe } from '../master/events.js';
import { ACCESS_TAG } from './spec.js';
import type { LogPipe } from './pipe.js';

const MAX_QUEUED = 8 << 20;
/** One read of the children's pipe takes up to this much (a pipe holds 64 KB unless enlarged). */
const READ_BYTES = 256 * 1024;
/** A read this large means the pipe (64 KB) is filling up: read again at once rather than pause. */
const PIPE_HALF = 32 * 1024;
/** How long the master leaves the pipe alone after a small read (lines wait at most this much longer). */
const READ_PAUSE_MS = 10;

/** One destination: a file (reopened, rotated) or the master's stderr. */
export class LogDestination {
  private fd: number;
  private size = 0;
  private queue: Buffer[] = [];
  private queued = 0;
  private writing = false;
  private dropped = 0;
  private ino = 0;
  private rotating = false;
  /** A failed write (a full disk) left the file ending mid-line: the next write starts a new one. */
  private torn = false;
  private reportTimer: NodeJS.Timeout | undefined;

  constructor(readonly option: string, readonly path: string | null, private readonly maxsize: number, private readonly backupname: string | undefined) {
    this.fd = path === null ? 2 : this.open(path);
  }

  private open(path: string): number {
    let fd: number;
    try {
      fd = openSync(path, 'a', 0o640);
    } catch (err) {
      throw new ConfigError('USHER_ERR_LOG_FILE', `${this.option}: cannot open ${path} for writing: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check the folder exists and usher may write there`, { option: this.option });
    }
    const st = fstatSync(fd);
    this.size = st.size;
    this.ino = st.ino;
    return fd;
  }

  /**
   * Write now, synchronously: a regular file takes it at once (a full disk fails at once, and the lines
   * are counted as lost); a pipe or terminal that is full (EAGAIN) keeps the rest queued for a retry.
   */
  write(data: string | Buffer): void {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (this.queue.length > 0) {
      if (this.queued > MAX_QUEUED) { this.dropped += countLines(buf); return; }
      this.queue.push(typeof data === 'string' ? buf : Buffer.from(buf)); // the caller's buffer is reused
      this.queued += buf.length;
      return;
    }
    this.writeNow(buf);
  }

  private writeNow(data: Buffer): void {
    let buf = data;
    // A newline ending a line a full disk cut short, then the loss report, go first; should they not be
    // written either (the disk still full), the report is not a lost line itself and its count stays
    // for the next one (reportEnd, lostBefore, wasTorn).
    let reportEnd = 0;
    const lostBefore = this.dropped;
    const wasTorn = this.torn;
    if (this.dropped > 0 || this.torn) {
      const report = (this.torn ? '\n' : '') + (this.dropped > 0 ? formatLine('warn', 'master', 'log lines were lost: the destination was unwritable', { lost: this.dropped, [this.option]: this.path ?? 'stderr' }) : '');
      reportEnd = Buffer.byteLength(report);
      buf = Buffer.concat([Buffer.from(report), buf]);
      this.dropped = 0;
      this.torn = false;
    }
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.queue.push(Buffer.from(buf.subarray(off))); // a copy: the caller's buffer is reused
          this.queued += buf.length - off;
          if (!this.writing) {
            this.writing = true;
            setTimeout(() => this.retry(), 10).unref();
          }
        } else {
          if (off < reportEnd) {
            this.dropped = lostBefore + countLines(buf.subarray(reportEnd));
            this.torn = off === 0 ? wasTorn : true;
          } else {
            this.dropped += countLines(buf.subarray(off));
            if (off > 0 && buf[off - 1] !== 10) this.torn = true; // the file now ends mid-line
          }
          // Report the loss once the file takes lines again, even if none comes meanwhile.
          if (this.reportTimer === undefined) {
            this.reportTimer = setTimeout(() => { this.reportTimer = undefined; if (this.queue.length === 0) this.writeNow(Buffer.alloc(0)); }, 1000);
            this.reportTimer.unref();
          }
        }
        break;
      }
    }
    this.size += off;
    if (this.maxsize > 0 && this.size >= this.maxsize && !this.rotating) this.rotate();
  }

  private retry(): void {
    this.writing = false;
    const queued = Buffer.concat(this.queue);
    this.queue = [];
    this.queued = 0;
    this.writeNow(queued);
  }

  /** Rename to FILE.<unix time> (or log-backupname) and start a new file, as uWSGI's log-maxsize. */
  rotate(): void {
    if (this.path === null) return;
    this.rotating = true; // the new file's first line (reopened) must not rotate it again
    try {
      this.rotateNow();
    } finally {
      this.rotating = false;
    }
  }

  private rotateNow(): void {
    if (this.path === null) return;
    let target = this.backupname ?? `${this.path}.${Math.floor(Date.now() / 1000)}`;
    if (this.backupname === undefined) for (let i = 1; existsSync(target); i++) target = `${this.path}.${Math.floor(Date.now() / 1000)}.${i}`;
    try {
      renameSync(this.path, target);
    } catch (err) {
      this.write(formatLine('error', 'master', 'log rotation failed', { [this.option]: this.path, error: (err as Error).message }));
      return;
    }
    this.reopen(`rotated to ${target}`);
  }

  /** Close and open the path again (logrotate moved it, or it was deleted). Lines queued meanwhile go to the new file. */
  reopen(why: string): void {
    if (this.path === null) return;
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o640);
    } catch (err) {
      this.write(formatLine('error', 'master', 'cannot reopen the log file; still writing the old one', { [this.option]: this.path, error: (err as Error).message }));
      return;
    }
    try { closeSync(this.fd); } catch { /* closed */ }
    this.fd = fd;
    this.torn = false; // a new file
    const st = fstatSync(fd);
    this.size = st.size;
    this.ino = st.ino;
    this.write(formatLine('info', 'master', 'log file reopened', { [this.option]: this.path, reason: why }));
  }

  /**
   * The open file, when it is a regular one or /dev/null (a Node worker may then append to it itself:
   * each write lands whole), else null.
   */
  regularFile(): { fd: number; path: string } | null {
    if (this.path === null) return null;
    try {
      return appendsWhole(fstatSync(this.fd), this.path) ? { fd: this.fd, path: this.path } : null;
    } catch {
      return null;
    }
  }

  /** The file was deleted or replaced under usher (no rotate hook): true when it should be reopened. */
  moved(): boolean {
    if (this.path === null) return false;
    try {
      return statSync(this.path).ino !== this.ino;
    } catch {
      return true;
    }
  }

  /** Write what a full pipe held back (at exit). */
  flushSync(): void {
    const buf = Buffer.concat(this.queue);
    this.queue = [];
    this.queued = 0;
    for (let off = 0; off < buf.length;) {
      try { off += writeSync(this.fd, buf, off, buf.length - off); } catch { return; }
    }
  }
}

function countLines(data: string | Buffer): number {
  let n = 0;
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

function destinations(config: UsherConfig, option: 'logger' | 'req-logger', list: readonly string[]): LogDestination[] {
  return list.map((spec) => new LogDestination(option, spec === 'stdio' ? null : spec.slice('file:'.length), config.logMaxsize, config.logBackupname));
}

export interface MasterLogs {
  /** The fd children get as stdout and stderr. */
  readonly childFd: number;
  /**
   * The log file Node workers may append their lines to themselves (no relay through the pipe):
   * the one destination of every line, a regular file, with no `log-maxsize` (rotation needs one
   * writer) and no `log-master`. Null = every line goes through the master.
   */
  directFile(): { fd: number; path: string } | null;
  /** Called after the files were reopened (children writing them directly must reopen too). */
  onReopen(fn: () => void): void;
  reopen(why: string): void;
  /** Read what the children left in the pipe, write everything, stop watching. */
  close(): void;
}

/**
 * Open every destination (`logFile`: logto, or daemonize's file; an unwritable file is a startup
 * error naming its option), read the children's pipe (pipe.ts),
 * route the master's own lines to the writer, and watch for reopen triggers.
 */
export function startLogging(config: UsherConfig, logFile: string | undefined, pipe: LogPipe): MasterLogs {
  const events = [
    ...(logFile !== undefined ? [new LogDestination(config.logto !== undefined ? 'logto' : 'daemonize', logFile, config.logMaxsize, config.logBackupname)] : []),
    ...destinations(config, 'logger', config.logger),
  ];
  if (events.length === 0) events.push(new LogDestination('stderr', null, 0, undefined));
  const requests = config.reqLogger.length > 0 ? destinations(config, 'req-logger', config.reqLogger) : events;
  const all = [...new Set([...events, ...requests])];
  const toEvents = (data: string | Buffer): void => { for (const d of events) d.write(data); };
  const toRequests = (data: string | Buffer): void => { for (const d of requests) d.write(data); };

  const { readFd, writeFd } = pipe;
  const split = requests !== events;
  let rest = '';
  let closed = false;
  const feed = (chunk: Buffer): void => {
    if (!split) { toEvents(chunk); return; }
    const text = rest + chunk.toString('utf8');
    const last = text.lastIndexOf('\n');
    rest = text.slice(last + 1);
    if (last === -1) return;
    let ev = '';
    let rq = '';
    for (const line of text.slice(0, last).split('\n')) {
      if (line.startsWith(ACCESS_TAG)) rq += line.slice(1) + '\n';
      else ev += line + '\n';
    }
    if (ev !== '') toEvents(ev);
    if (rq !== '') toRequests(rq);
  };
  // Every read is written at once (one write per read: lines arrive in the children's batches), from
  // one buffer reused for every read. After a read that left the pipe far from full, the master stops
  // watching it for READ_PAUSE_MS: the children's writes meanwhile wake nobody (a woken master costs a
  // context switch on both sides, per 4 KB write), and the next read takes them all at once. A read
  // that found the pipe half full or more reads again at once, so a busy log is not held back (and
  // should the pipe fill anyway, children keep their lines and retry: src/log.ts).
  const readBuf = Buffer.allocUnsafe(READ_BYTES);
  let resumeTimer: NodeJS.Timeout | undefined;
  const resume = (): void => { resumeTimer = undefined; reader.resume(); };
  // `onread` (one caller-owned buffer, pausing by returning false) is read by net.Socket's constructor
  // too, though @types/node lists it for connect() only.
  const reader = new net.Socket(<net.SocketConstructorOpts & { onread: net.OnReadOpts }>{
    fd: readFd, readable: true, writable: false,
    onread: {
      buffer: readBuf,
      callback: (n: number): boolean => {
        feed(readBuf.subarray(0, n));
        if (n >= PIPE_HALF || closed) return true;
        resumeTimer = setTimeout(resume, READ_PAUSE_MS);
        return false; // stop reading (the socket pauses) until resume()
      },
    },
  });
  reader.on('error', () => { /* the pipe is ours; nothing to report to */ });

  setLogSink({ write: toEvents, flushSync: () => { for (const d of all) d.flushSync(); } });

  const direct = events.length === 1 && !split && config.logMaxsize === 0 && !config.logMaster ? events[0] as LogDestination : null;
  let reopened = (): void => undefined;
  const reopen = (why: string): void => { for (const d of all) d.reopen(why); reopened(); };
  const touchFiles = config.touchLogreopen.map((p) => ({ path: p, mtime: mtimeOf(p) }));
  const fileDests = all.filter((d) => d.path !== null);
  // Once a second, as uWSGI's master: touched reopen files, and files deleted or moved under usher.
  const poll = touchFiles.length + fileDests.length > 0 ? setInterval(() => {
    let touched = false;
    for (const t of touchFiles) {
      const m = mtimeOf(t.path);
      if (m !== t.mtime) { t.mtime = m; touched = touched || m !== 0; }
    }
    if (touched) { reopen('touch-logreopen'); return; }
    let moved = false;
    for (const d of fileDests) if (d.moved()) { d.reopen('the file was moved or deleted'); moved = true; }
    if (moved) reopened();
  }, 1000) : undefined;
  poll?.unref();
  const unsubscribe = config.logReopen ? subscribe((e) => { if (e.type === 'reload-started') reopen('log-reopen on reload'); }) : () => undefined;

  return {
    childFd: writeFd,
    directFile: () => direct?.regularFile() ?? null,
    onReopen: (fn) => { reopened = fn; },
    reopen,
    close(): void {
      closed = true;
      if (resumeTimer !== undefined) clearTimeout(resumeTimer);
      if (poll !== undefined) clearInterval(poll);
      unsubscribe();
      const chunk = Buffer.alloc(256 * 1024);
      for (;;) {
        let n = 0;
        try { n = readSync(readFd, chunk, 0, chunk.length, null); } catch { break; }
        if (n <= 0) break;
        feed(Buffer.from(chunk.subarray(0, n)));
      }
      if (rest !== '') feed(Buffer.from('\n'));
      reader.destroy();
      try { closeSync(writeFd); } catch { /* closed */ }
      for (const d of all) d.flushSync();
      setLogSink(null);
    },
  };
}

function mtimeOf(path: string): number {
  try { return statSync(path).mtimeMs; } catch { return 0; }
}
