// The Python runner holds the master's spec to the contract (src/ipc.ts): every WORKER_SPEC_KEYS key
// present (a missing one: a log line naming it, exit EXIT.BOOT), the same contract version (else exit
// EXIT.CONTRACT), no silent defaults. And the runner's own modules never shadow the app's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, WORKER_SPEC_KEYS } from '../../src/ipc.js';
import { havePython, startRunner, workerSpec } from '../helpers/python-runner.js';
import { tempDir } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

test('a spec missing any one key: the runner names the key and exits EXIT.BOOT (4)', async (ctx) => {
  if (!havePython(ctx)) return;
  for (const key of WORKER_SPEC_KEYS) {
    const spec = workerSpec();
    delete spec[key];
    const r = await startRunner(spec);
    const exit = await r.exited;
    assert.equal(exit.code, EXIT.BOOT, `without ${key}: exit ${EXIT.BOOT}`);
    assert.match(r.stderr(), new RegExp(`ERROR .*lacks required key\\(s\\): ${key}( |$)`, 'm'), `the log line names ${key}`);
    assert.doesNotMatch(r.stderr(), /Traceback/);
    assert.equal(r.messages.length, 0, 'never ready');
  }
});

test('a spec from another contract version: exit EXIT.CONTRACT (7) with a message saying both versions', async (ctx) => {
  if (!havePython(ctx)) return;
  const r = await startRunner(workerSpec({ contract: 1 }));
  assert.equal((await r.exited).code, EXIT.CONTRACT);
  assert.match(r.stderr(), /contract version mismatch: the master speaks 1, this worker \d+/);
});

test('a spec that is not JSON, or has a key of the wrong type: exit EXIT.BOOT with the reason', async (ctx) => {
  if (!havePython(ctx)) return;
  const bad = await startRunner('{not json');
  assert.equal((await bad.exited).code, EXIT.BOOT);
  assert.match(bad.stderr(), /USHER_WORKER is not JSON/);
  const typed = await startRunner(workerSpec({ threads: '2' as unknown as number }));
  assert.equal((await typed.exited).code, EXIT.BOOT);
  assert.match(typed.stderr(), /key threads has the wrong type/);
});

test("the runner's own modules (log, config, server, codec, app...) do not shadow the app's; a wsgi-file may end in .wsgi", async (ctx) => {
  if (!havePython(ctx)) return;
  const tmp = tempDir();
  try {
    for (const m of ['log', 'config', 'server', 'codec', 'app', 'wsgi', 'main', 'channel', 'contract']) {
      writeFileSync(join(tmp.dir, `${m}.py`), `WHO = 'app:${m}'\n`);
    }
    writeFileSync(join(tmp.dir, 'site.wsgi'), [
      'import log, config, server, codec, app, wsgi, main, channel, contract',
      'def application(environ, start_response):',
      "    body = ' '.join(m.WHO for m in (log, config, server, codec, app, wsgi, main, channel, contract)).encode()",
      "    start_response('200 OK', [('Content-Type', 'text/plain')])",
      '    return [body]',
      '',
    ].join('\n'));
    const r = await startRunner(workerSpec({ chdir: tmp.dir, wsgiFile: 'site.wsgi' }));
    try {
      const ready = await r.waitMessage((m) => m.type === 'ready');
      assert.equal(ready.pid, r.proc.pid);
      const res = await uwsgiRequest(r.target, 'GET', '/');
      assert.equal(res.body.toString(), 'app:log app:config app:server app:codec app:app app:wsgi app:main app:channel app:contract');
    } finally {
      await r.stop();
    }
  } finally {
    tmp.remove();
  }
});
