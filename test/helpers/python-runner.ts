/**
 * test/helpers/python-runner: starts usher's Python runner (python/usher_wsgi) by hand, as the master
 * would: a spec in USHER_WORKER, Node's IPC channel, and a real listening TCP socket on 127.0.0.1 as fd 4.
 * Lets a test read the contract messages (ready, heartbeat, exiting) and send the master's. No side
 * effects on import.
 */
import { execFileSync } from 'node:child_process';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { CONTRACT_VERSION, type WorkerSpec } from '../../src/ipc.js';
import { DEFAULT_ACCESS_LOG } from '../../src/logging/spec.js';
import { REPO } from './usher.js';

export const PY = '/usr/bin/python3';
export const RUNNER = join(REPO, 'python', 'usher_wsgi', '__main__.py');
export const APPS = join(REPO, 'test', 'fixtures', 'apps');

/** True when Debian's python3 is there; a skip is a failure under CI=true. */
export function havePython(ctx: { skip: (m: string) => void }): boolean {
  if (existsSync(PY)) return true;
  if (process.env.CI === 'true') throw new Error(`${PY} is missing (CI must install python3)`);
  ctx.skip(`${PY} is missing`);
  return false;
}

/** True when Debian's python3 has Django; its absence is a failure under CI=true. */
export function haveDjango(): boolean {
  if (!existsSync(PY)) return false;
  try {
    execFileSync(PY, ['-c', 'import django'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('Django is missing for /usr/bin/python3 (apt-get install python3-django)');
    return false;
  }
}

/** A complete spec for one worker on fd 4 (every WORKER_SPEC_KEYS key), with overrides. */
export function workerSpec(over: Partial<WorkerSpec> & Record<string, unknown> = {}): Record<string, unknown> {
  const spec: WorkerSpec = {
    contract: CONTRACT_VERSION, id: 1, generation: 1, fds: [4], kinds: ['uwsgi'], listen: 100, threads: 1, processes: 1,
    bufferSize: 4096, harakiri: 0, socketTimeout: 10, maxRequests: 0, postBuffering: 0, disableLogging: false, accessLog: DEFAULT_ACCESS_LOG, logFile: null, heartbeatMs: 5000, static: null, readyPath: null, limitPost: 0, limitAs: 0, harakiriGracefulTimeout: 0, harakiriGracefulSignal: 15, chdir: null, app: null,
    wsgiFile: join(APPS, 'wsgi_suite.py'), module: null, callable: 'application', pythonpath: [],
  };
  return { ...spec, ...over };
}

export interface Runner {
  readonly proc: ChildProcess;
  /** host:port of the worker's uwsgi socket. */
  readonly target: string;
  readonly messages: Record<string, unknown>[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  waitMessage(pred: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  waitStderr(re: RegExp, timeoutMs?: number): Promise<string>;
  send(msg: Record<string, unknown>): void;
  stop(): Promise<void>;
}

/** Spawn the runner with `spec` (as JSON, or raw text to test a broken one). */
export async function startRunner(spec: Record<string, unknown> | string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Runner> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const fd = (srv as unknown as { _handle: { fd: number } })._handle.fd;
  const proc = spawn(PY, ['-u', RUNNER], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc', fd],
    env: { ...process.env, ...opts.env, USHER_WORKER: typeof spec === 'string' ? spec : JSON.stringify(spec) },
    serialization: 'json',
  });
  // The child holds its own copy of the listening socket: this process must not accept on it.
  await new Promise<void>((r) => srv.close(() => r()));
  let err = '';
  const messages: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  const poke = (): void => { for (const l of [...listeners]) l(); };
  proc.stdout!.on('data', (d: Buffer) => { err += d.toString(); poke(); });
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); poke(); });
  proc.on('message', (m) => { messages.push(m as Record<string, unknown>); poke(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => { r({ code, signal }); poke(); }));
  let gone = false;
  void exited.then(() => { gone = true; });
  function waitUntil<T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = probe();
        if (v !== undefined) { done(); resolve(v); } else if (gone) { done(); reject(new Error(`runner exited before ${what}; stderr:\n${err}`)); }
      };
      const t = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}; stderr:\n${err}`)); }, timeoutMs);
      const done = (): void => { clearTimeout(t); listeners.delete(check); };
      listeners.add(check);
      check();
    });
  }
  return {
    proc,
    target: `127.0.0.1:${port}`,
    messages,
    exited,
    stderr: () => err,
    waitMessage: (pred, timeoutMs = 20_000) => waitUntil(() => messages.find(pred), 'an IPC message', timeoutMs),
    waitStderr: (re, timeoutMs = 20_000) => waitUntil(() => err.split('\n').find((l) => re.test(l)), String(re), timeoutMs),
    send: (msg) => { if (proc.connected) proc.send(msg); },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
