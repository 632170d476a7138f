/**
 * bench/procs: starting servers in their own process group, waiting until they answer, measuring the
 * RSS of their whole process tree, and stopping the group we created (never anything else).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';

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

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) {
      if (tid) out.push(Number(tid));
    }
  } catch { /* gone */ }
  return out;
}

/** Resident memory of a process and all its descendants, in bytes. */
export function treeRss(pid: number): number {
  let total = 0;
  const seen = new Set<number>();
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    if (seen.has(p)) continue;
    seen.add(p);
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch { /* gone */ }
    stack.push(...childrenOf(p));
  }
  return total;
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin'])) {
    const p = `${dir}/${cmd}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}
