/**
 * pipe: the children's log pipe. Node has no pipe(2): it is a FIFO made in a private folder by the
 * `mkfifo` tool, both ends opened, the name removed at once. A pipe, not a socket pair: a write of up
 * to PIPE_BUF bytes is atomic, so lines from many children never interleave (src/log.ts batches
 * whole lines). The tool is a process (~10-15 ms): the CLI starts it as soon as it has read the config,
 * so it runs while the master loads its own modules (cli.ts), and the master awaits the result.
 * Must not: read or write the pipe (logging/writer.ts does).
 */
import { execFile } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsherError } from '../errors.js';

export interface LogPipe {
  readonly readFd: number;
  /** Non-blocking: a child whose write finds the pipe full keeps its lines and retries (src/log.ts) instead of stalling. */
  readonly writeFd: number;
}

/** The pipe, or USHER_ERR_LOG_PIPE saying what stood in the way (never a throw: the caller awaits it later). */
export function makeLogPipe(): Promise<LogPipe> {
  const fail = (err: unknown, hint: string): UsherError =>
    new UsherError('USHER_ERR_LOG_PIPE', `cannot make the workers' log pipe: ${(err as Error).message}; ${hint}`, { cause: err });
  const inTemp = `check that the temp folder ${tmpdir()} exists and usher may write there, or set TMPDIR to one that does`;
  let dir: string | undefined;
  const made = new Promise<LogPipe>((resolvePipe, reject) => {
    try {
      dir = mkdtempSync(join(tmpdir(), 'usher-log-'));
    } catch (err) {
      reject(fail(err, inTemp));
      return;
    }
    const path = join(dir, 'pipe');
    execFile('mkfifo', ['-m', '600', path], (err) => {
      if (err !== null) { reject(fail(err, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'usher needs coreutils\' mkfifo on PATH' : inTemp)); return; }
      let readFd: number | undefined;
      try {
        readFd = openSync(path, 'r+');
        resolvePipe({ readFd, writeFd: openSync(path, constants.O_WRONLY | constants.O_NONBLOCK) });
      } catch (e) {
        if (readFd !== undefined) closeSync(readFd);
        reject(fail(e, inTemp));
      }
    });
  });
  // Both ends open (or the start failed): the name and its folder go at once.
  const pipe = made.finally(() => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }); });
  // Awaited later (master/index.ts), maybe after a config error stopped the start: not an unhandled rejection meanwhile.
  pipe.catch(() => undefined);
  return pipe;
}
