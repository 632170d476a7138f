/**
 * master/spawn: how each kind of child process is started: the command line, the environment, and
 * which inherited fds it gets (fd 3 is always the IPC channel, sockets follow from fd 4). Python workers
 * forked by a fork-server are asked for in master/forkserver.ts; the fork-server itself starts here.
 * Must not: supervise (that is the arbiter's), or decide how many children run.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UsherConfig } from '../config/types.js';
import type { RouterSpec, WorkerSpec } from '../ipc.js';
import { childTitle } from './proctitle.js';

const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));
const ROUTER_ENTRY = fileURLToPath(new URL('../router/main.js', import.meta.url));
/**
 * dist/src/master -> the package root's python/usher_wsgi/ launcher. Run as a script, it takes its own
 * folder off sys.path and imports the package by absolute path, so the app's folder (after `chdir`) and
 * `pythonpath` come first and no runner module shadows one of the app's.
 */
export const PYTHON_RUNNER = fileURLToPath(new URL('../../../python/usher_wsgi/__main__.py', import.meta.url));

export const FIRST_SOCKET_FD = 4;

export type AppRuntime = { readonly kind: 'node' } | { readonly kind: 'python'; readonly interpreter: string };

/** uWSGI's `home`/`virtualenv` picks the venv's interpreter; `python` names one outright. */
export function resolveInterpreter(python: string | undefined, home: string | undefined): string {
  if (python !== undefined) return python;
  if (home !== undefined) {
    for (const name of ['python3', 'python']) {
      const candidate = join(home, 'bin', name);
      if (existsSync(candidate)) return candidate;
    }
    return join(home, 'bin', 'python3');
  }
  return 'python3';
}

/** The master's own node flags (a loader, say), minus debugger ones whose ports would clash. */
function nodeArgs(): string[] {
  return process.execArgv.filter((a) => !a.startsWith('--inspect') && !a.startsWith('--debug'));
}

function stdio(fds: readonly number[], logFd: number | undefined): StdioOptions {
  const out = logFd ?? 'inherit';
  return ['ignore', out, out, 'ipc', ...fds];
}

/** `node --title=...` names a Node child as `ps -o args` shows it, before any of its code runs. */
function titleArgs(title: string | undefined): string[] {
  return title === undefined ? [] : [`--title=${title}`];
}

export function spawnWorker(runtime: AppRuntime, spec: WorkerSpec, sourceFds: readonly number[], logFd: number | undefined): ChildProcess {
  const title = childTitle('worker', spec.id);
  const env = { ...process.env, USHER_WORKER: JSON.stringify(spec), USHER_WORKER_ID: String(spec.id), ...(title !== undefined ? { USHER_PROCTITLE: title } : {}) };
  if (runtime.kind === 'node') {
    return spawn(process.execPath, [...nodeArgs(), ...titleArgs(title), WORKER_ENTRY], { stdio: stdio(sourceFds, logFd), env, serialization: 'json' });
  }
  return spawn(runtime.interpreter, ['-u', PYTHON_RUNNER], { stdio: stdio(sourceFds, logFd), env, serialization: 'json' });
}

/** `env = KEY=VALUE` entries as pairs (the master sets them in its own environment, so every child gets them). */
export function envPairs(entries: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq > 0) pairs.push([entry.slice(0, eq), entry.slice(eq + 1)]); // malformed ones are refused by config
  }
  return pairs;
}

/**
 * Whether the app's workers are forked by a fork-server: a Python app (no `app`, which names a Node
 * one: master/index.ts chooseRuntime) without `lazy-apps`. The one rule the early start and the
 * child table (children.ts) share.
 */
export function hasForkServer(config: Pick<UsherConfig, 'app' | 'lazyApps'>): boolean {
  return config.app === undefined && !config.lazyApps;
}

/**
 * The fork-server of a plain Python app, started as soon as the config is read (cli.ts), before the
 * master loads the rest of its code, makes the log pipe and binds: the interpreter's start and the
 * runner's imports (~50 ms) overlap that work. It waits for the master (master/forkserver.ts sends the
 * bound sockets over its channel, then a `setup` message) before it loads the app, so the app still
 * starts with everything the usual way gives it. Only where the process would be the same: a Python app
 * with a fork-server, nothing to apply to the process first (uid/gid/umask), no daemonizing, no sockets
 * from systemd (passed fds the master cannot send). If the master fails before it hands the app over,
 * its exit closes the channel and the fork-server leaves without a word.
 */
export function spawnEarlyForkServer(config: UsherConfig): ChildProcess | undefined {
  if (!hasForkServer(config) || config.uid !== undefined || config.gid !== undefined || config.umask !== undefined
    || config.daemonize !== undefined || config.daemonize2 !== undefined || process.env.LISTEN_FDS !== undefined) return undefined;
  const interpreter = resolveInterpreter(config.python, config.home);
  // As the master's environment and folder will be when it spawns a child: `env` applied, in `chdir`.
  const env = { ...process.env, ...Object.fromEntries(envPairs(config.env)), [EARLY_ENV]: '1' };
  const proc = spawn(interpreter, ['-u', PYTHON_RUNNER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env, cwd: config.chdir, serialization: 'json' });
  proc.on('error', () => { /* ENOENT and the like: the master then spawns one the usual way, which reports it */ });
  return proc;
}

/** Set for an early fork-server (python/usher_wsgi/forkserver.py waits for its setup). */
const EARLY_ENV = 'USHER_FORKSERVER_EARLY';

/** The fork-server (master/forkserver.ts): the Python runner with the control socket's path, which makes it one. */
/** A worker the fork-server is asked to fork (python/usher_wsgi/forkserver.py). */
export interface ForkRequest {
  readonly id: number;
  readonly generation: number;
  readonly maxRequests: number;
}

export function spawnForkServer(interpreter: string, spec: WorkerSpec, sourceFds: readonly number[], logFd: number | undefined, control: string, prefork: readonly ForkRequest[]): ChildProcess {
  const env = { ...process.env, ...forkServerEnv(spec, control, prefork) };
  return spawn(interpreter, ['-u', PYTHON_RUNNER], { stdio: stdio(sourceFds, logFd), env, serialization: 'json' });
}

/** What a fork-server is told in its environment (or, started early, in its setup message). */
export function forkServerEnv(spec: WorkerSpec, control: string, prefork: readonly ForkRequest[]): Record<string, string> {
  // Titles: `usher fork-server` for it, and the pattern its forked workers name themselves by.
  const worker0 = childTitle('worker', 0);
  const env: Record<string, string> = { USHER_WORKER: JSON.stringify(spec), USHER_WORKER_ID: '0', USHER_FORKSERVER_CONTROL: control };
  if (prefork.length > 0) env.USHER_FORKSERVER_PREFORK = JSON.stringify(prefork);
  if (worker0 !== undefined) {
    env.USHER_PROCTITLE = worker0.replace(/worker 0$/, 'fork-server');
    env.USHER_PROCTITLE_WORKERS = worker0.replace(/0$/, '%d');
  }
  return env;
}

/**
 * V8 flags for the router only (usher's own code; apps' workers get none). Its young generation is
 * capped at 8 MiB semi-spaces, not V8's 16: under load the requests in flight survive every scavenge
 * and V8 grows the space to its largest, 32 MiB of the router's ~47 MiB anonymous PSS. At 8 MiB the
 * router holds ~13 MiB less under load for ~0.3 µs more scavenging per request (+0.4 % of its CPU);
 * 4 MiB cost ~+5 µs (the requests in flight get copied three times as often), measured from the
 * router's own gc performance entries over wrk -t1 -c64 -d10s on the WSGI hello app (4 × 2). Placed
 * first, so a flag the master was started with wins.
 */
const ROUTER_V8_FLAGS = ['--max-semi-space-size=8'];

export function spawnRouter(spec: RouterSpec, sourceFds: readonly number[], logFd: number | undefined): ChildProcess {
  const env = { ...process.env, USHER_ROUTER: JSON.stringify(spec) };
  return spawn(process.execPath, [...ROUTER_V8_FLAGS, ...nodeArgs(), ...titleArgs(childTitle('router', spec.id)), ROUTER_ENTRY], { stdio: stdio(sourceFds, logFd), env, serialization: 'json' });
}
