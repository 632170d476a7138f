/**
 * master/autoreload: `py-autoreload = N` (Python apps) and `node-autoreload = N` (Node apps, usher-only):
 * every N seconds the master compares the modification times of the app's source files with the ones
 * it recorded at startup, and a change reloads the workers gracefully (new generation first, then the
 * old one retires). The files are the app's own: those under `chdir`, the app file's folder and
 * `pythonpath`, by extension (.py for Python; .js .mjs .cjs .ts .mts .cts .json for Node), skipping
 * dependency and VCS folders. uWSGI checks the modules the worker imported instead (site-packages
 * too); usher watches the project, which is what changes in development.
 * Must not: run in production by default (it is off unless set), or reload more than once per change.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import type { Logger } from '../log.js';

const SKIP = new Set(['node_modules', '.git', '.hg', '.svn', '__pycache__', '.venv', 'venv', '.tox', 'site-packages', 'dist', 'build', '.mypy_cache']);
/** A project larger than this is not scanned whole: the log says so. */
const MAX_FILES = 20_000;

export const EXTENSIONS = {
  python: new Set(['.py']),
  node: new Set(['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts', '.json']),
} as const;

export function scan(roots: readonly string[], exts: ReadonlySet<string>): Map<string, number> {
  const seen = new Map<string, number>();
  const stack = [...new Set(roots.map((r) => resolve(r)))];
  while (stack.length > 0 && seen.size < MAX_FILES) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue; // vanished or unreadable: nothing to watch there
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!SKIP.has(e.name) && !e.name.startsWith('.')) stack.push(join(dir, e.name));
      } else if (e.isFile() && exts.has(extname(e.name))) {
        const p = join(dir, e.name);
        try { seen.set(p, statSync(p).mtimeMs); } catch { /* gone */ }
      }
    }
  }
  return seen;
}

/** The first changed, new or removed file between two scans, if any. */
export function firstChange(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): string | undefined {
  for (const [p, m] of after) if (before.get(p) !== m) return p;
  for (const p of before.keys()) if (!after.has(p)) return p;
  return undefined;
}

export class AutoReload {
  private timer: NodeJS.Timeout | undefined;
  private known: Map<string, number>;

  constructor(private readonly option: string, private readonly roots: readonly string[], private readonly exts: ReadonlySet<string>,
    private readonly everyS: number, private readonly reload: (reason: string) => boolean, private readonly log: Logger) {
    this.known = scan(roots, exts);
  }

  /** The folders an app's own sources live in. */
  static roots(appFile: string | null, chdir: string | undefined, pythonpath: readonly string[]): string[] {
    return [...(chdir !== undefined ? [process.cwd()] : []), ...(appFile !== null ? [dirname(appFile)] : []), ...pythonpath];
  }

  start(): void {
    this.log.info('watching the app\'s sources for changes', { [this.option]: this.everyS, files: this.known.size, roots: this.roots.join(',') });
    if (this.known.size >= MAX_FILES) this.log.warn(`${this.option}: more than ${MAX_FILES} files; only the first are watched`);
    this.timer = setInterval(() => this.check(), this.everyS * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private check(): void {
    const now = scan(this.roots, this.exts);
    const changed = firstChange(this.known, now);
    // A change seen while usher is still starting or reloading is kept until a reload can start.
    if (changed === undefined || this.reload(`${this.option}: ${changed} changed`)) this.known = now;
  }
}
