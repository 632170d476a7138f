/**
 * bench/procs: starting servers in their own process group, waiting until they answer, measuring the
 * CPU time and memory (PSS) of their whole process tree, and stopping the group we created (never anything else).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface Running {
  readonly proc: ChildProcess;
  readonly pid: number;
  output(): string;
  stop(): Promise<void>;
}

export function startProcess(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; stopSignal?: NodeJS.Signals }): Running {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => { out = (out + d.toString()).slice(-20_000); };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  proc.on('error', (e) => { out += `\nspawn error: ${e.message}`; });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let stopping: Promise<void> | undefined;
  return {
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    stop: () => {
      stopping ??= (async () => {
        if (proc.pid === undefined || proc.exitCode !== null) return;
        try { process.kill(-proc.pid, opts.stopSignal ?? 'SIGTERM'); } catch { return; }
        const t = setTimeout(() => { try { process.kill(-(proc.pid as number), 'SIGKILL'); } catch { /* gone */ } }, 8000);
        await exited;
        clearTimeout(t);
        // children that outlived their parent (a daemonised master) go with the group
        try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* all gone */ }
      })();
      return stopping;
    },
  };
}

/** Resolves once an HTTP request to url gets any answer; rejects after timeoutMs. */
export async function waitForHttp(url: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error('the server exited during startup');
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`no answer from ${url} within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export { freePort } from '../test/helpers/net.js';

/** Children of every thread of pid: a child forked from a thread other than the main one is listed there. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[] = [];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        if (c) out.push(Number(c));
      }
    } catch { /* gone */ }
  }
  return out;
}

/** pid and all its descendants that are alive now. */
export function processTree(pid: number): number[] {
  const seen = new Set<number>();
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    if (seen.has(p) || p <= 0) continue;
    seen.add(p);
    stack.push(...childrenOf(p));
  }
  return [...seen];
}

/** Resident memory of a process and all its descendants, in bytes (shared pages counted in each: see treePss). */
export function treeRss(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch { /* gone */ }
  }
  return total;
}

export interface Pss { readonly anonBytes: number; readonly fileBytes: number }

/**
 * Proportional set size of the tree, from /proc/PID/smaps_rollup: each shared page is divided among
 * the processes mapping it, so the sum over forked workers is what the tree really costs (RSS counts
 * the pages a master shares with its forks once per process). Anonymous memory (heaps, and shared
 * memory, which is anonymous too) is split from file-backed pages (code, libraries, mapped files),
 * which the kernel can drop and read again.
 */
export function treePss(pid: number): Pss | undefined {
  let anon = 0;
  let file = 0;
  let read = 0;
  for (const p of processTree(pid)) {
    let text: string;
    try { text = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'); } catch { continue; }
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    anon += kb('Pss_Anon') + kb('Pss_Shmem');
    file += kb('Pss_File');
    read++;
  }
  return read === 0 ? undefined : { anonBytes: anon, fileBytes: file };
}

let clockTicks: number | undefined;
/** Clock ticks per second of /proc's CPU times (getconf CLK_TCK; 100 on Linux everywhere we run). */
export function clkTck(): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    clockTicks = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** utime + stime of one process (all its threads), in clock ticks; undefined once it is gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of stat(5)
  } catch {
    return undefined;
  }
}

/** CPU ticks of every process of the tree now, by pid. */
export function treeCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of processTree(pid)) {
    const t = cpuTicks(p);
    if (t !== undefined) out.set(p, t);
  }
  return out;
}

/**
 * CPU microseconds a tree spent between two treeCpu snapshots, counted per process (a process that
 * started in between counts from zero; one that exited in between is lost, which a steady server
 * never does while it is measured).
 */
export function cpuMicros(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [p, t] of after) ticks += t - (before.get(p) ?? 0);
  return (ticks * 1e6) / clkTck();
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin'])) {
    const p = `${dir}/${cmd}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}
