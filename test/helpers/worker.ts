// A real Node worker process started the way the master starts it (master/spawn, a socket bound by
// master/sockets, the spec in the environment), with the test in the master's seat: it sees every IPC
// message (ready, heartbeats with their counters) and the worker's log lines.
import { openSync, readFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { spawnWorker } from '../../src/master/spawn.js';
import { bindSocket, type BoundSocket } from '../../src/master/sockets.js';
import { CONTRACT_VERSION, isChildMessage, type ChildCounters, type ChildMessage, type WorkerSpec } from '../../src/ipc.js';
import { tempDir } from './usher.js';
import { DEFAULT_ACCESS_LOG } from '../../src/logging/spec.js';

export interface TestWorker {
  readonly proc: ChildProcess;
  /** `http://127.0.0.1:PORT` for kind http, the unix socket path for kind uwsgi. */
  readonly target: string;
  readonly messages: ChildMessage[];
  log(): string;
  /** Resolves with the first heartbeat received after the call that satisfies `pred`. */
  heartbeat(pred?: (c: ChildCounters) => boolean, timeoutMs?: number): Promise<ChildCounters>;
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startWorker(app: string, opts: { kind?: 'http' | 'uwsgi'; harakiri?: number; maxRequests?: number; disableLogging?: boolean; socketTimeout?: number } = {}): Promise<TestWorker> {
  const tmp = tempDir('usher-worker-');
  const kind = opts.kind ?? 'http';
  const sockPath = join(tmp.dir, 'w.sock');
  const bound: BoundSocket = await bindSocket(kind, kind === 'http' ? '127.0.0.1:0' : sockPath, undefined, 128);
  const logPath = join(tmp.dir, 'worker.log');
  const logFd = openSync(logPath, 'a');
  const spec: WorkerSpec = {
    contract: CONTRACT_VERSION, id: 1, generation: 1, fds: [4], kinds: [kind], listen: 128, threads: 1, processes: 1,
    bufferSize: 4096, harakiri: opts.harakiri ?? 0, socketTimeout: opts.socketTimeout ?? 30, maxRequests: opts.maxRequests ?? 0, postBuffering: 0, heartbeatMs: 500, static: null, readyPath: null, limitPost: 0, limitAs: 0, harakiriGracefulTimeout: 0, harakiriGracefulSignal: 15,
    disableLogging: opts.disableLogging ?? false, accessLog: { ...DEFAULT_ACCESS_LOG, enabled: !(opts.disableLogging ?? false) }, logFile: null, chdir: null, app, wsgiFile: null, module: null, callable: 'application', pythonpath: [],
  };
  const proc = spawnWorker({ kind: 'node' }, spec, [bound.fd], logFd);
  const messages: ChildMessage[] = [];
  const waiters = new Set<() => void>();
  proc.on('message', (m: unknown) => {
    if (!isChildMessage(m)) return;
    messages.push(m);
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const log = (): string => readFileSync(logPath, 'utf8');
  const w: TestWorker = {
    proc,
    target: kind === 'http' ? `http://127.0.0.1:${bound.port}` : sockPath,
    messages,
    log,
    heartbeat(pred = () => true, timeoutMs = 20_000) {
      const from = messages.length;
      return new Promise((resolve, reject) => {
        const check = (): void => {
          for (const m of messages.slice(from)) {
            if (m.type === 'heartbeat' && pred(m.counters)) { waiters.delete(check); clearTimeout(timer); resolve(m.counters); return; }
          }
        };
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no matching heartbeat within ${timeoutMs} ms; last: ${JSON.stringify(messages.at(-1))}`)); }, timeoutMs);
        waiters.add(check);
      });
    },
    async waitForLog(re, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(log());
        if (m) return m[0];
        if (Date.now() > deadline) throw new Error(`log never matched ${re}; log:\n${log()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      bound.close();
      closeSync(logFd);
      tmp.remove();
    },
  };
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`worker not ready within 15 s; log:\n${log()}`)), 15_000);
    const check = (): void => { if (messages.some((m) => m.type === 'ready')) { clearTimeout(t); waiters.delete(check); resolve(); } };
    waiters.add(check);
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`worker exited (${code}) before ready; log:\n${log()}`)); });
  });
  return w;
}
