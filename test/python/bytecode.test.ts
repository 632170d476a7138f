/**
 * The build writes the runner's bytecode (scripts/compile-python.ts), and Python takes it: a fork-server
 * that cannot write __pycache__ (PYTHONDONTWRITEBYTECODE, a root-owned install) then neither compiles the
 * runner at each start nor keeps the compiler's garbage (measured: ~1.6 MB anonymous, ~25 ms).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from '../helpers/usher.js';
import { PY, havePython } from '../helpers/python-runner.js';

test('after the build script, every runner module imports from a bytecode file, none is compiled from source', (t) => {
  if (!havePython(t)) return;
  execFileSync(process.execPath, [join(REPO, 'dist', 'scripts', 'compile-python.js')]);
  // A fresh interpreter that may not write caches; `-v` says "code object from '<pyc>'" for each module
  // read from a valid bytecode file (Python checks the source's mtime and size recorded in it).
  const res = spawnSync(PY, ['-v', '-c', [
    'import sys',
    `sys.path.insert(0, ${JSON.stringify(join(REPO, 'python'))})`,
    'import usher_wsgi.main, usher_wsgi.forkserver, usher_wsgi.proctitle',
    'print("\\n".join(sorted(n for n in sys.modules if n.startswith("usher_wsgi"))))',
  ].join('\n')], { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const mods = res.stdout.trim().split('\n');
  assert.ok(mods.length >= 10, `expected the runner's modules, got ${mods.join(' ')}`);
  for (const name of mods) {
    const file = name === 'usher_wsgi' ? '__init__' : name.slice('usher_wsgi.'.length);
    const pyc = new RegExp(`code object from '[^']*/usher_wsgi/__pycache__/${file}\\.[^']*\\.pyc'`);
    assert.match(res.stderr, pyc, `${name} was compiled from source, not read from its bytecode`);
  }
});
