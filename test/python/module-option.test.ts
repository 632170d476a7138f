// `module` (uWSGI's `module`/`wsgi`/`-w`): the WSGI callable is found by module name on the Python
// path (`chdir`, `pythonpath`), as `pkg.mod`, `pkg.mod:callable` or with `callable`; a module that
// does not exist stops usher once, naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { havePython } from '../helpers/python-runner.js';
import { startUsher, startUsherReady, freePort, REPO } from '../helpers/usher.js';

const APPS = join(REPO, 'test', 'fixtures', 'apps');
const PY = '/usr/bin/python3';
const ENV = { ...process.env, SIGNAL_MARK: '/dev/null' };

test('module = mod, mod:callable, the wsgi alias and pythonpath all load the app', async (ctx) => {
  if (!havePython(ctx)) return;
  const forms: string[][] = [
    ['--chdir', APPS, '--module', 'wsgi_signal'],
    ['--chdir', APPS, '--module', 'wsgi_signal:application'],
    ['--pythonpath', APPS, '--wsgi', 'wsgi_signal', '--callable', 'application'],
  ];
  for (const form of forms) {
    const port = await freePort();
    const u = await startUsherReady(['--http', `127.0.0.1:${port}`, '--python', PY, ...form], { env: ENV });
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(r.status, 200, form.join(' '));
      assert.match(await r.text(), /^\d+\n$/);
    } finally {
      await u.stop();
    }
  }
});

test('a module that does not exist stops usher once with the module named, without import-machinery frames', async (ctx) => {
  if (!havePython(ctx)) return;
  const port = await freePort();
  const u = startUsher(['--http', `127.0.0.1:${port}`, '--python', PY, '--chdir', APPS, '--processes', '2', '--module', 'no_such_module_here:application'], { env: ENV });
  const exit = await u.exited;
  assert.notEqual(exit.code, 0);
  assert.match(u.output(), /no_such_module_here/);
  assert.ok(u.output().split('\n').filter((l) => /ModuleNotFoundError|No module named/.test(l)).length >= 1, u.output());
  assert.doesNotMatch(u.output(), /died; respawning/);
  assert.doesNotMatch(u.output(), /importlib|<frozen/, 'no import-machinery frames: nothing of the app to show');
});
