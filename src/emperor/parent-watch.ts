/**
 * emperor/parent-watch: a vassal's side of the pipe the emperor gives it on fd USHER_EMPEROR_FD.
 * - Nothing orphaned: the emperor never writes to it; when the emperor dies (even SIGKILL) the kernel
 *   closes its end, the read here ends, and the vassal stops itself gracefully with SIGTERM to its own
 *   master (whose workers already exit when the master goes).
 * - Readiness: the master's `ready` event (master/events) is told to the emperor as a `ready` line, so
 *   the emperor knows even when the vassal logs to a file (`logto`) instead of through it.
 * One call, before the master starts.
 * Must not: read anything from the pipe as commands (signals are the emperor's only interface).
 */
import { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { subscribe } from '../master/events.js';

export const EMPEROR_FD_ENV = 'USHER_EMPEROR_FD';

/** Start watching the emperor's pipe if this process is a vassal; returns whether it is one. */
export function watchEmperor(log: Logger, onGone: () => void = () => process.kill(process.pid, 'SIGTERM')): boolean {
  const raw = process.env[EMPEROR_FD_ENV];
  if (raw === undefined) return false;
  // Workers must not believe they are vassals.
  delete process.env[EMPEROR_FD_ENV];
  const fd = Number(raw);
  if (!Number.isInteger(fd) || fd < 3) return false;
  let gone = false;
  const lost = (why: string): void => {
    if (gone) return;
    gone = true;
    log.warn('emperor gone: stopping this vassal gracefully', { reason: why, emperor_ppid: process.ppid });
    onGone();
  };
  const pipe = new Socket({ fd, readable: true, writable: true });
  subscribe((e) => {
    if (e.type === 'ready' && !gone) pipe.write('ready\n');
  });
  pipe.on('data', () => { /* the emperor never writes; ignore anything that comes */ });
  pipe.on('end', () => lost('pipe closed'));
  pipe.on('close', () => lost('pipe closed'));
  pipe.on('error', (err) => lost(err.message));
  pipe.unref();
  return true;
}
