/**
 * scripts/compile-python: writes the Python runner's bytecode (python/usher_wsgi/__pycache__) with each
 * interpreter found at build time (`python3` on PATH, and Debian's /usr/bin/python3). `npm run build`
 * and `prepare` run it. Why: when Python cannot write that cache itself (usher installed by root and
 * the app run as another user, or PYTHONDONTWRITEBYTECODE set), every fork-server compiled the runner
 * from source at each start: ~1.6 MB more anonymous memory in the fork-server (and so in the tree:
 * the workers inherit it) and a slower start. Python reads a cache whose tag matches its version and
 * ignores the others; a stale one (sources changed) is recompiled in memory as before.
 * Must not: fail the build: no Python, or a read-only folder, leaves the runner working as before.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const RUNNER = fileURLToPath(new URL('../../python/usher_wsgi', import.meta.url));
const CANDIDATES = [process.env.USHER_BUILD_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => p !== undefined && p !== '');

const done = new Set<string>();
for (const python of CANDIDATES) {
  if (python.startsWith('/') && !existsSync(python)) continue;
  let tag: string;
  try {
    tag = execFileSync(python, ['-c', 'import sys; print(sys.implementation.cache_tag)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    continue; // not installed: nothing to compile with
  }
  if (done.has(tag)) continue;
  done.add(tag);
  try {
    execFileSync(python, ['-m', 'compileall', '-q', RUNNER], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    process.stderr.write(`usher: could not write the Python runner's bytecode with ${python} (${tag}); it will compile at each start instead: ${(err as Error).message.split('\n')[0]}\n`);
  }
}
