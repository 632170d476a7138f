/**
 * master/proctitle: process names as `ps -o args` shows them: `usher master`, `usher worker 3`,
 * `usher router`, with uWSGI's `procname-prefix`, `procname-prefix-spaced` and `procname-master`.
 * Node children get theirs from `node --title=...` at spawn; the Python runner is told in
 * USHER_PROCTITLE and sets its own.
 * Must not: spawn anything.
 */
import type { UsherConfig } from '../config/types.js';

export interface Titles {
  readonly enabled: boolean;
  readonly prefix: string;
  readonly master: string;
}

let titles: Titles = { enabled: true, prefix: '', master: 'usher master' };

export function configureTitles(c: UsherConfig): Titles {
  const prefix = `${c.procnamePrefix ?? ''}${c.procnamePrefixSpaced !== undefined ? `${c.procnamePrefixSpaced} ` : ''}`;
  titles = Object.freeze({ enabled: c.autoProcname, prefix, master: `${prefix}${c.procnameMaster ?? 'usher master'}` });
  return titles;
}

/** The title of a child, or undefined when titles are off (`auto-procname = false`). */
export function childTitle(role: 'worker' | 'router', id: number): string | undefined {
  if (!titles.enabled) return undefined;
  const name = role === 'worker' ? `usher worker ${id}` : id > 1 ? `usher router ${id}` : 'usher router';
  return `${titles.prefix}${name}`;
}

export function setMasterTitle(): void {
  if (titles.enabled) process.title = titles.master;
}
