/**
 * master/daemonize: uWSGI's `daemonize` and `daemonize2`. Node cannot fork, so the launching process
 * starts the same command again, detached (its own session, no terminal, stdin from /dev/null,
 * stdout and stderr appended to the log file), and exits: at once for `daemonize`, once every worker
 * is ready for `daemonize2` (exit 1 if usher stopped first). The detached copy is the master: it
 * writes the pidfile, so the pidfile holds the daemon's pid.
 * Must not: run under systemd (Type=notify services must not detach; the README says so).
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { UsherConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';

const DAEMON_ENV = 'USHER_DAEMONIZED';

/** True in the detached copy; it forgets the marker so its children do not inherit it. */
export function isDaemon(): boolean {
  const yes = process.env[DAEMON_ENV] === '1';
  delete process.env[DAEMON_ENV];
  return yes;
}

/** In the launching process: start the daemon and return the launcher's exit code. */
export function launchDaemon(c: UsherConfig, file: string, log: Logger, cwd: string): Promise<number> {
  const option = c.daemonize !== undefined ? 'daemonize' : 'daemonize2';
  let fd: number;
  try {
    fd = openSync(resolve(cwd, file), 'a');
  } catch (err) {
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${option} = ${file}: cannot open the log file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check that ${dirname(file)} exists and is writable`, { file: c.sources[option]?.file, line: c.sources[option]?.line, option });
  }
  const wait = c.daemonize === undefined;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    cwd, // where the command was typed: its relative --ini and paths mean the same there
    stdio: ['ignore', fd, fd, ...(wait ? ['ipc' as const] : [])],
    env: { ...process.env, [DAEMON_ENV]: '1' },
  });
  closeSync(fd);
  log.info('daemonized', { pid: child.pid, log: file });
  if (!wait) {
    child.unref();
    return Promise.resolve(0);
  }
  return new Promise((resolve) => {
    child.once('message', () => { child.disconnect(); child.unref(); resolve(0); });
    child.once('exit', (code) => { log.error('usher stopped before it was ready; see the log', { log: file, code }); resolve(1); });
    child.once('error', (err) => { log.error('cannot start the daemon', { error: err.message }); resolve(1); });
  });
}

/** In the daemon (daemonize2): tell the launcher every worker is ready, and let it go. */
export function tellLauncherReady(): void {
  if (process.send !== undefined && process.connected) {
    process.send({ type: 'daemon-ready' }, () => { if (process.connected) process.disconnect(); });
  }
}
