/**
 * emperor: `usher --emperor DIR` (uWSGI's Emperor). Every vassal ini in DIR (or matching the glob) is
 * a vassal: a whole usher, its own master, started as a child. The folder is scanned every second (and
 * at once when fs.watch reports a change): a new file starts a vassal, a touched one reloads it, a
 * removed one stops it. SIGHUP reloads every vassal, SIGTERM/SIGINT stop them gracefully and exit when
 * all are gone, SIGQUIT stops them at once. Signal handlers only enqueue; one loop dispatches.
 * Must not: run apps itself, or parse vassal options (each vassal is an ordinary usher).
 */
import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { flushSync, type Logger } from '../log.js';
import type { EmperorRequest } from './request.js';
import { Vassal, type VassalFile } from './vassal.js';

export { findEmperorRequest, type EmperorRequest } from './request.js';

const SCAN_INTERVAL_MS = 1000;

/** The vassal files present now; a dangling symlink counts as absent. */
export function listVassalFiles(dir: string, pattern: RegExp): VassalFile[] {
  const out: VassalFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!pattern.test(name)) continue;
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (!st.isFile()) continue;
      out.push({ path, name: name.replace(/\.ini$/, ''), sig: `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}:${st.uid}:${st.gid}`, uid: st.uid, gid: st.gid });
    } catch {
      // vanished between readdir and stat, or a symlink to nothing
    }
  }
  return out;
}

type SignalName = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT';

export class Emperor {
  private readonly vassals = new Map<string, Vassal>();
  private readonly queue: SignalName[] = [];
  private state: 'running' | 'stopping' = 'running';
  private scanTimer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private soon: NodeJS.Timeout | undefined;
  private resolveDone: ((code: number) => void) | undefined;
  private scanFailed = false;

  constructor(private readonly req: EmperorRequest, private readonly log: Logger) {}

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => { this.resolveDone = resolve; });
    for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
      process.on(sig, () => { this.queue.push(sig); setImmediate(() => this.drain()); });
    }
    this.log.info('emperor watching', { dir: this.req.dir, pattern: this.req.pattern.source, tyrant: this.req.tyrant, pid: process.pid });
    this.scan();
    this.scanTimer = setInterval(() => this.scan(), SCAN_INTERVAL_MS);
    try {
      // A hint only (it misses changes behind symlinks): the 1 s scan is what is relied on.
      this.watcher = watch(this.req.dir, () => {
        if (this.soon === undefined) this.soon = setTimeout(() => { this.soon = undefined; this.scan(); }, 50);
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = undefined;
    }
    return done;
  }

  private readonly handlers: Record<SignalName, () => void> = {
    SIGHUP: () => this.handleHup(),
    SIGTERM: () => this.handleTerm('SIGTERM'),
    SIGINT: () => this.handleTerm('SIGINT'),
    SIGQUIT: () => this.handleQuit(),
  };

  private drain(): void {
    for (let sig = this.queue.shift(); sig !== undefined; sig = this.queue.shift()) this.handlers[sig]();
  }

  private scan(): void {
    if (this.state !== 'running') return;
    let files: VassalFile[];
    try {
      files = listVassalFiles(this.req.dir, this.req.pattern);
      if (this.scanFailed) this.log.info('emperor folder readable again', { dir: this.req.dir });
      this.scanFailed = false;
    } catch (err) {
      // Keep the vassals as they are: an unreadable folder is not a request to stop everything.
      if (!this.scanFailed) this.log.error('cannot read the emperor folder; vassals left as they are', { dir: this.req.dir, error: (err as Error).message });
      this.scanFailed = true;
      return;
    }
    const seen = new Set<string>();
    for (const f of files) {
      seen.add(f.path);
      const v = this.vassals.get(f.path);
      if (v === undefined) {
        const nv = new Vassal(f, { tyrant: this.req.tyrant, log: this.log, onGone: (x) => this.onGone(x) });
        this.vassals.set(f.path, nv);
        this.log.info('vassal found', { vassal: f.name, file: f.path });
        nv.start();
      } else if (v.file.sig !== f.sig || (v.state === 'stopping' && v.removing)) {
        v.removing = false;
        v.changed(f);
      }
    }
    for (const [path, v] of this.vassals) {
      if (seen.has(path) || v.removing) continue;
      v.removing = true;
      this.log.info('vassal file removed', { vassal: v.file.name, file: path });
      v.stop('SIGTERM');
    }
  }

  private onGone(v: Vassal): void {
    if (this.vassals.get(v.file.path) === v) this.vassals.delete(v.file.path);
    if (this.state === 'stopping' && this.vassals.size === 0) this.finish();
  }

  private handleHup(): void {
    if (this.state !== 'running') return;
    this.log.info('reloading every vassal', { vassals: this.vassals.size });
    for (const v of this.vassals.values()) v.reload();
  }

  private handleTerm(sig: string): void {
    if (this.state === 'stopping') {
      this.log.warn(`second ${sig}: stopping every vassal at once`);
      return this.stopAll('SIGQUIT');
    }
    this.beginStop(sig);
    this.stopAll('SIGTERM');
  }

  private handleQuit(): void {
    this.beginStop('SIGQUIT');
    this.stopAll('SIGQUIT');
  }

  private beginStop(reason: string): void {
    if (this.state === 'stopping') return;
    this.state = 'stopping';
    clearInterval(this.scanTimer);
    clearTimeout(this.soon);
    this.watcher?.close();
    this.log.info('emperor stopping', { reason, vassals: this.vassals.size });
    if (this.vassals.size === 0) setImmediate(() => this.finish());
  }

  private stopAll(signal: 'SIGTERM' | 'SIGQUIT'): void {
    for (const v of [...this.vassals.values()]) {
      v.removing = true;
      v.stop(signal);
    }
  }

  private finish(): void {
    this.log.info('emperor stopped');
    flushSync();
    this.resolveDone?.(0);
  }
}

export async function runEmperor(req: EmperorRequest, log: Logger): Promise<number> {
  for (const w of req.warnings) log.warn(w);
  let isDir = false;
  try { isDir = statSync(req.dir).isDirectory(); } catch { /* reported below */ }
  if (!isDir) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `emperor: ${req.dir} is not a folder (from ${JSON.stringify(req.spec)}); create it or point \`emperor\` at the folder of vassal ini files`, { option: 'emperor' });
  return new Emperor(req, log).run();
}
