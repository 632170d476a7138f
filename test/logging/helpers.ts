/**
 * test/logging/helpers: what the logging tests share: the fixture apps, polling a log file for a
 * condition (never a fixed sleep), and counting access lines.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, startUsher, type UsherProc } from '../helpers/usher.js';

export const PY = '/usr/bin/python3';
export const FIXTURES = join(REPO, 'test', 'fixtures', 'logging');
export const PY_APP = join(FIXTURES, 'app.py');
export const NODE_APP = join(FIXTURES, 'app.mjs');

export function readOr(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** Poll `read()` until `ok` holds (every 50 ms, up to timeoutMs); returns the last text read. */
export async function waitUntil(read: () => string, ok: (text: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = read();
    if (ok(text)) return text;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last read:\n${text.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every file of the rotation set: FILE and FILE.<time>[.<n>]. */
export function rotationSet(dir: string, base: string): string[] {
  return readdirSync(dir).filter((n) => n === base || n.startsWith(base + '.')).map((n) => join(dir, n));
}

/** Start usher whose events go to `logFile` and wait for `master: ready` there. */
export async function startUsherLogging(args: readonly string[], logFile: string): Promise<UsherProc> {
  const u = startUsher(args);
  try {
    await Promise.race([
      waitUntil(() => readOr(logFile), (s) => /master: ready/.test(s), `master: ready in ${logFile}`, 30_000),
      u.exited.then((e) => { throw new Error(`usher exited (${e.code ?? e.signal}) before ready:\n${u.output()}\n${readOr(logFile)}`); }),
    ]);
  } catch (err) {
    await u.stop('SIGKILL');
    throw err;
  }
  return u;
}
