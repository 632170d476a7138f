/**
 * master/pidfile: writes the master's pid where `pidfile` says, and removes it on exit under `vacuum`
 * (uWSGI removes it only then). Must not: decide when to exit.
 */
import { writeFileSync, readFileSync, unlinkSync } from 'node:fs';
import { UsherError } from '../errors.js';

export function writePidfile(path: string): void {
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (err) {
    throw new UsherError('USHER_ERR_PIDFILE', `cannot write pidfile ${path}: ${(err as Error).message}; check that its folder exists and is writable`);
  }
}

/** Remove the pidfile only if it is still ours (a newer usher may have taken the path). */
export function removePidfile(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
  } catch { /* already gone */ }
}
