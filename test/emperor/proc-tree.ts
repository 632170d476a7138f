/**
 * test/emperor/proc-tree: the processes under a pid, read from /proc, each with its start time so a
 * recycled pid is never mistaken for a survivor. For "nothing orphaned" checks.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcId { readonly pid: number; readonly start: string; readonly cmd: string }

function stat(pid: number): { ppid: number; start: string; state: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] as string, ppid: Number(rest[1]), start: rest[19] as string };
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim(); } catch { return ''; }
}

/** Every live descendant of root (not root itself). */
export function descendants(root: number): ProcId[] {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = stat(Number(name));
    if (st === undefined) continue;
    const list = kids.get(st.ppid) ?? [];
    list.push(Number(name));
    kids.set(st.ppid, list);
  }
  const out: ProcId[] = [];
  const todo = [...(kids.get(root) ?? [])];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    const st = stat(pid);
    if (st === undefined) continue;
    out.push({ pid, start: st.start, cmd: cmdline(pid) });
    todo.push(...(kids.get(pid) ?? []));
  }
  return out;
}

/** Those of procs still running (same pid and start time, not a zombie). */
export function survivors(procs: readonly ProcId[]): ProcId[] {
  return procs.filter((p) => {
    const st = stat(p.pid);
    return st !== undefined && st.start === p.start && st.state !== 'Z';
  });
}

/** Poll until none of procs is left (or the timeout); returns the ones still there. */
export async function waitGone(procs: readonly ProcId[], timeoutMs = 20_000): Promise<ProcId[]> {
  const until = Date.now() + timeoutMs;
  let left = survivors(procs);
  while (left.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    left = survivors(procs);
  }
  return left;
}
