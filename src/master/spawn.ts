/**
 * master/spawn: how each kind of child process is started: the command line, the environment, and
 * which inherited fds it gets (fd 3 is always the IPC channel, sockets follow from fd 4).
 * Must not: supervise (that is the arbiter's), or decide how many children run.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

export function spawnRouter(spec: RouterSpec, sourceFds: readonly number[], logFd: number | undefined): ChildProcess {
  const env = { ...process.env, USHER_ROUTER: JSON.stringify(spec) };
  return spawn(process.execPath, [...nodeArgs(), ...titleArgs(childTitle('router', spec.id)), ROUTER_ENTRY], { stdio: stdio(sourceFds, logFd), env, serialization: 'json' });
}
