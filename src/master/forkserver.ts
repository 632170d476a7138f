/**
 * master/forkserver: Python workers forked from a fork-server (uWSGI's default, gunicorn's preload_app).
 * One fork-server per generation loads the app once (python/usher_wsgi/forkserver.py, which documents
 * the protocol); a reload starts a new one with the new code. A new generation's workers are forked as
 * soon as the app is loaded (the prefork list; `loaded` names their pids); any other the master asks
 * for and waits for the pid (a few ms: the fork-server does nothing but fork and reap), so the arbiter
 * sees a worker as it sees a spawned one: a `RemoteChild` with the ChildProcess subset it uses. The first
 * generation's fork-server may have been started before the master bound (spawn.ts
 * spawnEarlyForkServer): it is handed the sockets and the rest here (python/usher_wsgi/handoff.py).
 *   .kill(sig)      process.kill(pid, sig): the master signals the worker itself;
 *   .send/'message' the worker's own unix connection to the master's control socket (a private 0700
 *                   folder), JSON lines as on fd 3; it exits when that closes (the master is gone);
 *   'exit'          the fork-server reaps its workers and reports {pid, code, signal}. If the fork-server
 *                   dies first, its workers live on (their channel is the master's): the master watches
 *                   /proc for them, and reports their exit without a code; the fork-server is respawned.
 * Must not: decide how many workers run or when (the arbiter's).
 */
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, type WorkerSpec } from '../ipc.js';
import type { Logger } from '../log.js';
import { forkServerEnv, spawnForkServer, type ForkRequest } from './spawn.js';

/** Why a fork-server did not load the app. */
export interface LoadFailure {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly message: string | undefined;
}

/** A forked worker, as the arbiter sees a ChildProcess. */
export class RemoteChild extends EventEmitter {
  private sock: Socket | undefined;
  private readonly pending: string[] = [];
  private gone = false;
  private watch: NodeJS.Timeout | undefined;

  constructor(readonly pid: number) {
    super();
  }

  get connected(): boolean {
    return this.sock !== undefined && !this.sock.destroyed;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.gone) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  send(msg: object): boolean {
    const line = `${JSON.stringify(msg)}\n`;
    if (this.sock === undefined) this.pending.push(line);
    else if (!this.sock.destroyed) this.sock.write(line);
    return true;
  }

  /** Its control connection, after the hello line; `rest` is what followed the hello. */
  attach(sock: Socket, rest: string): void {
    this.sock = sock;
    for (const line of this.pending.splice(0)) sock.write(line);
    let buf = rest;
    const take = (): void => {
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try { this.emit('message', JSON.parse(line)); } catch { /* not JSON: ignored, as on fd 3 */ }
      }
    };
    sock.on('data', (d: Buffer) => { buf += d.toString(); take(); });
    sock.on('error', () => { /* the close that follows says it */ });
    take();
  }

  /** The fork-server reaped it. */
  exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.gone) return;
    this.gone = true;
    if (this.watch) clearInterval(this.watch);
    this.sock?.destroy();
    this.emit('exit', code, signal);
  }

  /** Its fork-server died: nobody reaps it for us now, so watch /proc until it is gone (or a zombie). */
  orphaned(): void {
    if (this.gone || this.watch) return;
    this.watch = setInterval(() => { if (!alive(this.pid)) this.exited(null, null); }, 250);
    this.watch.unref();
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

interface ForkServer {
  readonly generation: number;
  readonly proc: ChildProcess;
  state: 'loading' | 'loaded' | 'retiring' | 'dead';
  req: number | undefined;
  rep: number | undefined;
  readonly workers: Set<number>;
  /** Workers it forked as soon as it loaded (the prefork list): id -> pid, or -errno; fork() takes them. */
  readonly preforked: Map<number, number>;
  appError: string | undefined;
  onLoad: ((failure: LoadFailure | undefined) => void) | undefined;
}

/** How long a worker's control connection waits for the master to learn the worker's pid. */
const PARK_MS = 10_000;

export interface ForkPlan {
  readonly interpreter: string;
  /** The worker spec the fork-server loads with (id 0); each fork gets its own id, generation, maxRequests. */
  readonly spec: WorkerSpec;
  readonly fds: readonly number[];
  /** The same sockets' handles, to send to a fork-server started early (undefined: one the master cannot send). */
  readonly handles: readonly (object | undefined)[];
  readonly logFd: number | undefined;
  /** A fork-server started before the master bound (spawn.ts spawnEarlyForkServer): the first generation's. */
  readonly early: ChildProcess | undefined;
}

export class ForkServers {
  private readonly servers = new Map<number, ForkServer>();
  private readonly remotes = new Map<number, RemoteChild>();
  /** Control connections of workers the master does not know yet (forked before `loaded` was read). */
  private readonly parked = new Map<number, { sock: Socket; rest: string; timer: NodeJS.Timeout }>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'usher-fs-'));
  private readonly control = join(this.dir, 'control.sock');
  private readonly server: Server;
  private closing = false;
  private early: ChildProcess | undefined;

  constructor(private readonly plan: ForkPlan, private readonly log: Logger) {
    this.early = plan.early;
    this.server = createServer((sock) => this.accept(sock));
    // A failure here leaves forked workers nowhere to report to: they exit (EXIT.BOOT) and usher stops with that.
    this.server.on('error', (err) => this.log.error('fork-server control socket failed', { path: this.control, error: err.message }));
    this.server.listen(this.control);
    this.server.unref();
  }

  /**
   * Start the fork-server of `generation`; `done` once it loaded the app, or with why not. It forks the
   * `prefork` workers as soon as it has loaded; fork() then hands them out without asking it again.
   */
  load(generation: number, done: (failure: LoadFailure | undefined) => void, prefork: readonly ForkRequest[] = []): void {
    const spec: WorkerSpec = { ...this.plan.spec, generation };
    const handed = this.handOver(spec, prefork);
    const proc = handed ?? spawnForkServer(this.plan.interpreter, spec, this.plan.fds, this.plan.logFd, this.control, prefork);
    const fs: ForkServer = { generation, proc, state: 'loading', req: undefined, rep: undefined, workers: new Set(), preforked: new Map(), appError: undefined, onLoad: done };
    if (proc.pid === undefined) {
      proc.once('error', (err) => this.settle(fs, { code: EXIT.BOOT, signal: null, message: err.message }));
      return;
    }
    this.servers.get(generation)?.proc.kill('SIGKILL');
    this.servers.set(generation, fs);
    // early=true: started as the config was read (spawn.ts spawnEarlyForkServer), handed its sockets now.
    this.log.info('fork-server spawned', { pid: proc.pid, generation, early: handed !== undefined ? true : undefined });
    proc.on('message', (m: unknown) => this.onMessage(fs, m));
    proc.once('exit', (code, signal) => this.onExit(fs, code, signal));
    proc.once('error', (err) => this.log.error('fork-server process error', { pid: proc.pid, error: err.message }));
  }

  /**
   * The early fork-server, if there is one to use (once): it gets the sockets (Node sends each handle with
   * its fd and waits for the acknowledgement before the next message), then what it would have been
   * spawned with (python/usher_wsgi/handoff.py). One that is gone, or a socket the master cannot send:
   * it goes, and the fork-server is spawned as usual.
   */
  private handOver(spec: WorkerSpec, prefork: readonly ForkRequest[]): ChildProcess | undefined {
    const early = this.early;
    this.early = undefined;
    if (early === undefined) return undefined;
    const handles = this.plan.handles;
    const gone = early.pid === undefined || early.exitCode !== null || early.signalCode !== null || !early.connected;
    // Not the interpreter the master resolved (a relative `home` read before `chdir`), or a socket it cannot send.
    if (gone || early.spawnfile !== this.plan.interpreter || handles.length !== this.plan.fds.length || handles.some((h) => h === undefined)) {
      if (!gone) early.kill('SIGKILL');
      return undefined;
    }
    // keepOpen: the master keeps its own copy of each socket (respawned workers and later generations get it).
    handles.forEach((handle, index) => early.send({ type: 'socket', index }, handle as Parameters<ChildProcess['send']>[1], { keepOpen: true }));
    early.send({ type: 'setup', env: forkServerEnv(spec, this.control, prefork), logFd: this.plan.logFd ?? null });
    return early;
  }

  /** A fork-server for `generation` if none is there or loading (chain reload; one that died). */
  ensure(generation: number): void {
    if (this.closing || this.servers.has(generation)) return;
    this.load(generation, (failure) => {
      if (failure !== undefined) this.log.error('fork-server could not load the app; workers load it themselves', { generation, exit: failure.code ?? undefined, error: failure.message });
    });
  }

  /** True once the fork-server of `generation` has the app loaded. */
  ready(generation: number): boolean {
    return this.servers.get(generation)?.state === 'loaded';
  }

  /** Fork a worker (synchronously: the pid comes back at once); undefined when that cannot be done. */
  fork(generation: number, id: number, maxRequests: number): RemoteChild | undefined {
    const fs = this.servers.get(generation);
    if (fs === undefined || fs.state !== 'loaded' || fs.req === undefined || fs.rep === undefined) return undefined;
    const preforked = fs.preforked.get(id);
    fs.preforked.delete(id);
    if (preforked !== undefined) return this.forked(fs, generation, id, preforked);
    let answer = '';
    try {
      writeSync(fs.req, `${JSON.stringify({ id, generation, maxRequests })}\n`);
      const buf = Buffer.alloc(32);
      while (!answer.includes('\n')) {
        const n = readSync(fs.rep, buf, 0, buf.length, null);
        if (n === 0) throw new Error('the fork-server closed its answers');
        answer += buf.toString('latin1', 0, n);
      }
    } catch (err) {
      this.log.warn('fork-server did not fork; the worker loads the app itself', { generation, id, error: (err as Error).message });
      this.lost(fs);
      return undefined;
    }
    return this.forked(fs, generation, id, Number.parseInt(answer, 10));
  }

  private forked(fs: ForkServer, generation: number, id: number, pid: number): RemoteChild | undefined {
    if (!(pid > 0)) {
      this.log.warn('fork-server could not fork; the worker loads the app itself', { generation, id, errno: Number.isNaN(pid) ? undefined : -pid });
      return undefined;
    }
    const remote = new RemoteChild(pid);
    fs.workers.add(pid);
    this.remotes.set(pid, remote);
    const parked = this.parked.get(pid);
    if (parked !== undefined) {
      this.parked.delete(pid);
      clearTimeout(parked.timer);
      // Once the caller has its listeners on the remote: what the worker already said (`ready`) is emitted now.
      process.nextTick(() => {
        remote.attach(parked.sock, parked.rest);
        parked.sock.resume();
      });
    }
    return remote;
  }

  /** A reload served: the fork-servers of older generations fork no more and leave with their last worker. */
  retireOlderThan(generation: number): void {
    for (const fs of this.servers.values()) {
      if (fs.generation < generation && (fs.state === 'loaded' || fs.state === 'loading')) {
        fs.state = 'retiring';
        if (fs.proc.connected) fs.proc.send({ type: 'retire' });
      }
    }
  }

  /** A reload that failed: its fork-server goes at once. */
  drop(generation: number): void {
    const fs = this.servers.get(generation);
    if (fs === undefined) return;
    fs.onLoad = undefined;
    fs.state = 'retiring';
    fs.proc.kill('SIGKILL');
  }

  /** usher stops: the fork-servers go (their workers are gone, or go when the master's channel closes). */
  close(): void {
    this.closing = true;
    for (const fs of this.servers.values()) {
      if (fs.state === 'loading') fs.proc.kill('SIGKILL'); // still importing: nothing to reap
      else if (fs.state !== 'dead' && fs.proc.connected) fs.proc.send({ type: 'retire' });
    }
    for (const p of this.parked.values()) { clearTimeout(p.timer); p.sock.destroy(); }
    this.parked.clear();
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private accept(sock: Socket): void {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 4096) sock.destroy();
        return;
      }
      sock.off('data', onData);
      let pid = 0;
      try { pid = Number((JSON.parse(buf.slice(0, nl)) as { pid?: unknown }).pid); } catch { /* refused below */ }
      const remote = this.remotes.get(pid);
      if (remote === undefined && pid > 0 && !this.parked.has(pid)) {
        // A preforked worker can say hello before its fork-server's `loaded` has been read: it waits here,
        // paused (a flowing socket with no 'data' listener drops what arrives: its `ready`, say).
        sock.pause();
        const timer = setTimeout(() => { this.parked.delete(pid); sock.destroy(); }, PARK_MS);
        timer.unref();
        this.parked.set(pid, { sock, rest: buf.slice(nl + 1), timer });
        return;
      }
      if (remote === undefined || remote.connected) {
        sock.destroy();
        return;
      }
      remote.attach(sock, buf.slice(nl + 1));
    };
    sock.on('data', onData);
    sock.on('error', () => sock.destroy());
  }

  private onMessage(fs: ForkServer, m: unknown): void {
    if (typeof m !== 'object' || m === null) return;
    const msg = m as { type?: unknown; pid?: unknown; req?: unknown; rep?: unknown; code?: unknown; signal?: unknown; message?: unknown; forked?: unknown };
    if (msg.type === 'loaded' && fs.state === 'loading' && typeof msg.req === 'number' && typeof msg.rep === 'number') {
      try {
        // Blocking fds of the fork-server's own pipes: the master waits on `rep` for each pid.
        fs.req = openSync(`/proc/${fs.proc.pid}/fd/${msg.req}`, 'w');
        fs.rep = openSync(`/proc/${fs.proc.pid}/fd/${msg.rep}`, 'r');
      } catch (err) {
        this.log.error('cannot open the fork-server\'s pipes', { pid: fs.proc.pid, error: (err as Error).message });
        fs.proc.kill('SIGKILL');
        return;
      }
      fs.state = 'loaded';
      if (Array.isArray(msg.forked)) {
        for (const pair of msg.forked as unknown[]) {
          if (Array.isArray(pair) && typeof pair[0] === 'number' && typeof pair[1] === 'number') fs.preforked.set(pair[0], pair[1]);
        }
      }
      this.settle(fs, undefined);
      // Preforked workers the arbiter did not take (it is stopping, or wants fewer now): they go.
      for (const pid of fs.preforked.values()) if (pid > 0) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      fs.preforked.clear();
    } else if (msg.type === 'reaped' && typeof msg.pid === 'number') {
      fs.workers.delete(msg.pid);
      const remote = this.remotes.get(msg.pid);
      this.remotes.delete(msg.pid);
      remote?.exited(typeof msg.code === 'number' ? msg.code : null, typeof msg.signal === 'string' ? msg.signal as NodeJS.Signals : null);
    } else if (msg.type === 'app-error' && typeof msg.message === 'string') {
      fs.appError = msg.message;
    }
  }

  private settle(fs: ForkServer, failure: LoadFailure | undefined): void {
    const done = fs.onLoad;
    fs.onLoad = undefined;
    done?.(failure);
  }

  /** Its pipes failed: it is gone or going; its exit does the rest. */
  private lost(fs: ForkServer): void {
    if (fs.state === 'loaded') fs.state = 'retiring';
    fs.proc.kill('SIGKILL');
  }

  private onExit(fs: ForkServer, code: number | null, signal: NodeJS.Signals | null): void {
    const was = fs.state;
    fs.state = 'dead';
    for (const fd of [fs.req, fs.rep]) if (fd !== undefined) try { closeSync(fd); } catch { /* closed */ }
    if (this.servers.get(fs.generation) === fs) this.servers.delete(fs.generation);
    for (const pid of fs.workers) this.remotes.get(pid)?.orphaned();
    if (was === 'loading') {
      this.settle(fs, { code, signal, message: fs.appError });
      return;
    }
    if (was !== 'loaded' || this.closing) return;
    // It crashed with workers to fork: its workers keep serving; a new one loads the app for later forks.
    this.log.warn('fork-server died; its workers keep serving; starting a new one', { pid: fs.proc.pid, generation: fs.generation, exit: code ?? undefined, signal: signal ?? undefined, workers: fs.workers.size });
    const t = setTimeout(() => this.ensure(fs.generation), 1000);
    t.unref();
  }
}
