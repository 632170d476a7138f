/**
 * master/triggers: reloads asked for through the file system. `touch-reload`, `touch-workers-reload`
 * and `touch-chain-reload` files are polled once a second (as uWSGI's master does): a changed mtime —
 * or a file that appears — triggers. `fs-reload` paths are watched (inotify), and a burst of changes
 * triggers once. A file that cannot be read is reported once, not on every poll.
 * Must not: reload anything itself (it asks the arbiter).
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import type { UsherConfig } from '../config/types.js';
import type { Logger } from '../log.js';

export interface ReloadTarget {
  reload(reason: string): void;
  chainReload(reason: string): void;
}

interface Watched { readonly path: string; readonly option: string; readonly chain: boolean; mtime: number; problem: string | undefined }

function mtimeOf(path: string): { mtime: number } | { error: string } {
  try {
    return { mtime: statSync(path).mtimeMs };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { mtime: 0 } : { error: code ?? String(err) };
  }
}

export class Triggers {
  private timer: NodeJS.Timeout | undefined;
  private readonly watched: Watched[] = [];
  private readonly watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;

  constructor(private readonly config: UsherConfig, private readonly target: ReloadTarget, private readonly log: Logger) {
    const add = (option: string, chain: boolean) => (p: string): void => {
      const path = resolve(p);
      const m = mtimeOf(path);
      this.watched.push({ path, option, chain, mtime: 'mtime' in m ? m.mtime : 0, problem: undefined });
    };
    config.touchReload.forEach(add('touch-reload', false));
    config.touchWorkersReload.forEach(add('touch-workers-reload', false));
    config.touchChainReload.forEach(add('touch-chain-reload', true));
  }

  start(): void {
    for (const w of this.watched) {
      this.log.info('watching for touches', { [w.option]: w.path, exists: w.mtime > 0 });
    }
    if (this.watched.length > 0) {
      this.timer = setInterval(() => this.poll(), 1000);
      this.timer.unref();
    }
    for (const p of this.config.fsReload) this.watchPath(resolve(p));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
  }

  private poll(): void {
    for (const w of this.watched) {
      const m = mtimeOf(w.path);
      if ('error' in m) {
        if (w.problem !== m.error) this.log.warn(`${w.option}: cannot read the file; still watching`, { path: w.path, error: m.error });
        w.problem = m.error;
        continue;
      }
      w.problem = undefined;
      if (m.mtime === w.mtime) continue;
      const appeared = w.mtime === 0;
      w.mtime = m.mtime;
      if (m.mtime === 0) continue; // removed: nothing to do until it comes back
      const reason = `${w.option} ${appeared ? 'appeared' : 'touched'}: ${w.path}`;
      if (w.chain) this.target.chainReload(reason);
      else this.target.reload(reason);
    }
  }

  private watchPath(path: string): void {
    try {
      const w = watch(path, { recursive: false }, () => {
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.target.reload(`fs-reload: ${path} changed`), 200);
      });
      w.on('error', (err) => this.log.warn('fs-reload: watching stopped', { path, error: err.message }));
      this.watchers.push(w);
      this.log.info('watching for changes', { 'fs-reload': path });
    } catch (err) {
      this.log.warn('fs-reload: cannot watch this path (does it exist?); ignored', { path, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    }
  }
}
