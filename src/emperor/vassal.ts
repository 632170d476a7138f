/**
 * emperor/vassal: one vassal, an usher master started from one ini file, and what happens to it:
 * started, reloaded (SIGHUP) when its file is touched, restarted when the file's effective config
 * changes (the master reads sockets and processes once, at start), stopped when the file goes, and
 * restarted with back-off when it dies. A config the emperor can already see is broken is refused
 * without starting anything, logged once, and tried again when the file changes.
 * Must not: scan folders or handle the emperor's signals (emperor/index does), or parse vassal
 * options beyond asking config/ whether the file loads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, formatConfigError } from '../config/index.js';
import { ConfigError, UsherError } from '../errors.js';
import { writeRaw, type Logger } from '../log.js';
import { EMPEROR_FD_ENV } from './parent-watch.js';

const VASSAL_MAIN = fileURLToPath(new URL('./vassal-main.js', import.meta.url));
const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** A vassal that served this long before dying starts again from the shortest back-off. */
const STABLE_MS = 30_000;
const MAX_BUFFERED_LINES = 200;

/** A vassal file as the emperor saw it on its last scan. */
export interface VassalFile {
  /** The path as found in the emperor's folder (a symlink stays a symlink: Debian's apps-enabled). */
  readonly path: string;
  readonly name: string;
  /** Changes whenever the file (or the symlink's target) is touched, replaced or re-owned. */
  readonly sig: string;
  readonly uid: number;
  readonly gid: number;
}

export type Check = { ok: true; key: string } | { ok: false; error: string };

/** Does the file load as an usher config? key = its effective config, to tell a touch from a change. */
export function checkVassalConfig(path: string): Check {
  try {
    const { loaded } = loadConfig(['--ini', path], process.env, dirname(path));
    if (loaded === undefined) return { ok: false, error: 'no config' };
    return { ok: true, key: JSON.stringify(loaded.config, (k, v: unknown) => (k === 'sources' ? undefined : v)) };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, error: formatConfigError(err) };
    if (err instanceof UsherError) return { ok: false, error: err.message };
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** emperor-tyrant: the flags that make a vassal run as its file's owner, or why it may not run. */
export function tyrantFlags(f: Pick<VassalFile, 'uid' | 'gid'>): { flags: string[] } | { refused: string } {
  if (f.uid === 0 || f.gid === 0) return { refused: `owned by root (uid=${f.uid} gid=${f.gid}): tyrant mode never runs a vassal as root; chown the file to the app's user` };
  return { flags: [`--uid=${f.uid}`, `--gid=${f.gid}`] };
}

type State = 'starting' | 'ready' | 'stopping' | 'backoff' | 'refused' | 'gone';

export class Vassal {
  state: State = 'refused';
  /** Its file is gone (or the emperor is stopping): it is on its way out. */
  removing = false;
  private proc: ChildProcess | undefined;
  private then: 'gone' | 'restart' = 'gone';
  private key: string | undefined;
  private backoffMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readyAt = 0;
  private lastFailure: string | undefined;
  private lastError: string | undefined;
  private buffered: string[] = [];
  private partial = '';

  constructor(public file: VassalFile, private readonly opts: { tyrant: boolean; log: Logger; onGone: (v: Vassal) => void }) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private fields(extra: Record<string, string | number | undefined> = {}): Record<string, string | number | undefined> {
    return { vassal: this.file.name, ...extra };
  }

  /** Start it (config checked first); a refused or failing vassal waits for its file to change. */
  start(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const check = checkVassalConfig(this.file.path);
    let flags: string[] = [];
    const refuse = (error: string): void => {
      this.state = 'refused';
      if (error !== this.lastFailure) this.opts.log.error('vassal refused; it starts when its file changes', this.fields({ file: this.file.path, error }));
      this.lastFailure = error;
    };
    if (!check.ok) return refuse(check.error);
    if (this.opts.tyrant) {
      const t = tyrantFlags(this.file);
      if ('refused' in t) return refuse(`emperor-tyrant: ${t.refused}`);
      flags = t.flags;
    }
    this.key = check.key;
    this.state = 'starting';
    this.then = 'gone';
    this.buffered = [];
    this.partial = '';
    this.lastError = undefined;
    const env: NodeJS.ProcessEnv = { ...process.env, [EMPEROR_FD_ENV]: '3' };
    delete env.USHER_EMPEROR;
    const proc = spawn(process.execPath, [VASSAL_MAIN, '--ini', this.file.path, ...flags], {
      cwd: dirname(this.file.path), env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.opts.log.info('vassal started', this.fields({ pid: proc.pid, file: this.file.path, uid: this.opts.tyrant ? this.file.uid : undefined }));
    proc.stdout!.on('data', (d: Buffer) => this.onOutput(d));
    proc.stderr!.on('data', (d: Buffer) => this.onOutput(d));
    // The master's ready event comes on the emperor pipe too (also when the vassal logs to a file).
    proc.stdio[3]?.on('data', (d: Buffer) => { if (this.state === 'starting' && d.toString().includes('ready')) this.becomeReady(); });
    proc.stdio[3]?.on('error', () => { /* the vassal is going; its exit says how */ });
    proc.once('error', (err) => this.opts.log.error('vassal could not be started', this.fields({ error: err.message })));
    proc.once('exit', (code, signal) => this.onExit(proc, code, signal));
  }

  /** Vassal output passes through with `vassal=NAME` added; until it is ready it is held, so a vassal
   *  failing the same way again does not repeat its story. */
  private onOutput(d: Buffer): void {
    const text = this.partial + d.toString();
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    let out = '';
    for (const line of lines) {
      if (line === '') continue;
      if (/ ERROR /.test(line)) this.lastError = line.replace(/^\S+ ERROR\s+/, '');
      const tagged = `${line} vassal=${this.file.name}\n`;
      if (this.state === 'starting') {
        if (this.buffered.length < MAX_BUFFERED_LINES) this.buffered.push(tagged);
        if (/ master: ready( |$)/.test(line)) this.becomeReady();
      } else out += tagged;
    }
    if (out !== '') writeRaw(out);
  }

  private becomeReady(): void {
    this.state = 'ready';
    this.readyAt = Date.now();
    this.lastFailure = undefined;
    writeRaw(this.buffered.join(''));
    this.buffered = [];
    this.opts.log.info('vassal ready', this.fields({ pid: this.proc?.pid }));
  }

  private onExit(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (proc !== this.proc) return;
    this.proc = undefined;
    const how = { exit_code: code ?? undefined, signal: signal ?? undefined };
    if (this.state === 'stopping') {
      if (this.buffered.length > 0) writeRaw(this.buffered.join(''));
      this.buffered = [];
      this.opts.log.info('vassal stopped', this.fields(how));
      if (this.then === 'restart') return this.start();
      this.state = 'gone';
      return this.opts.onGone(this);
    }
    if (this.state === 'starting') {
      // Died before serving: a broken app, a taken port. Tell it once per distinct error.
      const error = this.lastError ?? `exited before ready (${code ?? signal})`;
      if (error !== this.lastFailure) writeRaw(this.buffered.join(''));
      this.buffered = [];
      this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, this.backoffMs * 2));
      if (error !== this.lastFailure) this.opts.log.error('vassal failed to start', this.fields({ ...how, error, retry_in_ms: this.backoffMs }));
      this.lastFailure = error;
    } else {
      this.backoffMs = Date.now() - this.readyAt > STABLE_MS ? MIN_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, this.backoffMs * 2));
      this.opts.log.warn('vassal died; restarting', this.fields({ ...how, last_error: this.lastError, retry_in_ms: this.backoffMs }));
    }
    this.state = 'backoff';
    this.timer = setTimeout(() => this.start(), this.backoffMs);
  }

  /** Its file changed (touched, edited, re-linked) or reappeared. */
  changed(file: VassalFile): void {
    const sameOwner = file.uid === this.file.uid && file.gid === this.file.gid;
    this.file = file;
    if (this.state === 'refused' || this.state === 'backoff') {
      this.backoffMs = 0;
      return this.start();
    }
    if (this.state === 'stopping') {
      this.then = 'restart';
      return;
    }
    if (this.state === 'starting') return this.restart('its file changed while it was starting');
    const check = checkVassalConfig(file.path);
    if (!check.ok) {
      this.opts.log.error('vassal config refused; the running instance keeps serving', this.fields({ file: file.path, error: check.error }));
      return;
    }
    if (check.key === this.key && sameOwner) return this.reload();
    this.restart('its effective config changed (sockets and processes are read at start)');
  }

  /** Graceful reload: SIGHUP to its master (new workers take over, no request lost). */
  reload(): void {
    if (this.state === 'ready') {
      this.opts.log.info('vassal reloading', this.fields({ pid: this.proc?.pid, signal: 'SIGHUP' }));
      this.proc?.kill('SIGHUP');
    } else if (this.state === 'refused' || this.state === 'backoff') {
      this.backoffMs = 0;
      this.start();
    } else if (this.state === 'starting') {
      this.restart('reload asked while it was starting');
    }
  }

  private restart(reason: string): void {
    this.opts.log.info('vassal restarting', this.fields({ reason }));
    this.stop('SIGTERM', 'restart');
  }

  /** SIGTERM: graceful (in-flight requests finish); SIGQUIT: at once. then = what follows the exit. */
  stop(signal: 'SIGTERM' | 'SIGQUIT', then: 'gone' | 'restart' = 'gone'): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.then = then;
    if (this.proc === undefined) {
      if (then === 'restart') return this.start();
      this.state = 'gone';
      return this.opts.onGone(this);
    }
    if (this.state === 'stopping' && signal === 'SIGTERM') return;
    this.state = 'stopping';
    this.opts.log.info('vassal stopping', this.fields({ pid: this.proc.pid, signal }));
    this.proc.kill(signal);
  }
}
