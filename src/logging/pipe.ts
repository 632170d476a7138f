/**
 * pipe: the children's log pipe. Node has no pipe(2): it is a FIFO made in a private folder by the
 * `mkfifo` tool, both ends opened, the name removed at once. A pipe, not a socket pair: a write of up
 * to PIPE_BUF bytes is atomic, so lines from many children never interleave (src/log.ts batches
 * whole lines). The tool is a process (~10-15 ms): the CLI starts it as soon as it has read the config,
 * so it runs while the master loads its own modules (cli.ts), and the master awaits the result.
 * Must not: read or write the pipe (logging/writer.ts does).
 */
import { execFile } from 'node:child_process';
import { constants, mkdtempSync, openSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LogPipe {
  readonly readFd: number;
  /** Non-blocking: a child whose write finds the pipe full keeps its lines and retries (src/log.ts) instead of stalling. */
  readonly writeFd: number;
}

export function makeLogPipe(): Promise<LogPipe> {
  const dir = mkdtempSync(join(tmpdir(), 'usher-log-'));
  const path = join(dir, 'pipe');
  const made = new Promise<LogPipe>((resolvePipe, reject) => {
    execFile('mkfifo', ['-m', '600', path], (err) => {
      if (err !== null) { reject(err); return; }
      try {
        const readFd = openSync(path, 'r+');
        resolvePipe({ readFd, writeFd: openSync(path, constants.O_WRONLY | constants.O_NONBLOCK) });
      } catch (e) {
        reject(e);
      }
    });
  });
  const removeName = (): void => {
    try { unlinkSync(path); } catch { /* not made */ }
    rmdirSync(dir);
  };
  const result = made.finally(removeName);
  // Awaited later (master/index.ts), maybe after a config error stopped the start: not an unhandled rejection meanwhile.
  result.catch(() => undefined);
  return result;
}
