/**
 * test/helpers/memory: what a process tree costs in memory, from /proc/PID/smaps_rollup (Linux 4.14+):
 * PSS split into anonymous and file-backed (a page shared by n processes counts 1/n in each, so the
 * tree's sum is what it really takes), and how much of each process's RSS is shared.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface Rollup {
  readonly rss: number;
  /** Anonymous memory resident (shared or not). */
  readonly anonymous: number;
  readonly pss: number;
  readonly pssAnon: number;
  readonly pssFile: number;
  readonly pssShmem: number;
  readonly sharedClean: number;
  readonly sharedDirty: number;
  readonly privateClean: number;
  readonly privateDirty: number;
}

const FIELDS: Record<string, keyof Rollup> = {
  Rss: 'rss', Anonymous: 'anonymous', Pss: 'pss', Pss_Anon: 'pssAnon', Pss_File: 'pssFile', Pss_Shmem: 'pssShmem',
  Shared_Clean: 'sharedClean', Shared_Dirty: 'sharedDirty', Private_Clean: 'privateClean', Private_Dirty: 'privateDirty',
};

/** One process's rollup, in KiB; undefined if it is gone. */
export function rollup(pid: number): Rollup | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return undefined;
  }
  const r: Record<string, number> = { rss: 0, anonymous: 0, pss: 0, pssAnon: 0, pssFile: 0, pssShmem: 0, sharedClean: 0, sharedDirty: 0, privateClean: 0, privateDirty: 0 };
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    const key = m && FIELDS[m[1]!];
    if (key) r[key] = Number(m[2]);
  }
  return r as unknown as Rollup;
}

/** The pid and every descendant of it. */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch { /* gone */ }
  }
  const out: number[] = [];
  const walk = (pid: number): void => { out.push(pid); for (const c of children.get(pid) ?? []) walk(c); };
  walk(root);
  return out;
}

/** A process tree's rollups summed (KiB), and each process's own. */
export function treeMemory(root: number): { total: Rollup; each: Map<number, Rollup> } {
  const each = new Map<number, Rollup>();
  const total: Record<string, number> = { rss: 0, anonymous: 0, pss: 0, pssAnon: 0, pssFile: 0, pssShmem: 0, sharedClean: 0, sharedDirty: 0, privateClean: 0, privateDirty: 0 };
  for (const pid of treePids(root)) {
    const r = rollup(pid);
    if (r === undefined) continue;
    each.set(pid, r);
    for (const k of Object.keys(total)) total[k]! += r[k as keyof Rollup];
  }
  return { total: total as unknown as Rollup, each };
}

/** The part of a process's RSS shared with others (Shared_Clean + Shared_Dirty over Rss). */
export function sharedFraction(r: Rollup): number {
  return r.rss === 0 ? 0 : (r.sharedClean + r.sharedDirty) / r.rss;
}
