/**
 * test/helpers/usher: starts the real usher CLI (bin/usher.js, the compiled dist) as a child process,
 * collects its log, waits for log lines, and stops it by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export const USHER_BIN = join(REPO, 'bin', 'usher.js');

export interface Exit { readonly code: number | null; readonly signal: NodeJS.Signals | null }

export interface UsherProc {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<Exit>;
  /** Everything written to stderr and stdout so far. */
  output(): string;
  /** Resolves with the first line matching re (searching what was already written too). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Send a signal and wait for exit (SIGKILL after timeoutMs). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

export function startUsher(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): UsherProc {
  const proc = spawn(process.execPath, [USHER_BIN, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.re.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const self: UsherProc = {
    proc,
    pid: proc.pid!,
    exited,
    output: () => out,
    waitFor(re, timeoutMs = 20_000) {
      const line = out.split('\n').find((l) => re.test(l));
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in usher output:\n${out}`)), timeoutMs);
        const w = { re, resolve: (l: string) => { clearTimeout(t); resolve(l); } };
        waiters.push(w);
        void exited.then((e) => {
          if (waiters.includes(w)) {
            clearTimeout(t);
            reject(new Error(`usher exited (${e.code ?? e.signal}) before ${re}; output:\n${out}`));
          }
        });
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const e = await exited;
      clearTimeout(t);
      return e;
    },
  };
  return self;
}

/** Start usher and wait for `master: ready`. */
export async function startUsherReady(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<UsherProc> {
  const u = startUsher(args, opts);
  try {
    await u.waitFor(/master: ready/, opts.timeoutMs ?? 30_000);
  } catch (err) {
    await u.stop('SIGKILL');
    throw err;
  }
  return u;
}

/** Whether `pid` is a running process; a zombie (exited, not yet reaped by its parent) counts as gone. */
export function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/** A temp dir (0755, so www-data fronts can traverse it) removed by the returned function. */
export function tempDir(prefix = 'usher-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Pids of a process's direct children (from /proc), e.g. usher's workers. */
export async function childPids(pid: number): Promise<number[]> {
  const { readFileSync } = await import('node:fs');
  try {
    const tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return tasks === '' ? [] : tasks.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

export { freePort } from './net.js';
