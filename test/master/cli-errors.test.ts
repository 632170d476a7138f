// What a user sees from the real CLI when the config is wrong: one clear line (file, line, option,
// suggestion), exit 1, never a bare stack trace; an unknown key alone still lets usher start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsher, startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';

const ECHO = join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs');

async function run(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const u = startUsher(args, { env });
  const e = await u.exited;
  return { code: e.code, out: u.output() };
}

test('unknown key: warning with file:line and suggestion, and usher serves', async () => {
  const t = tempDir();
  try {
    const port = await freePort();
    const ini = join(t.dir, 'uwsgi.ini');
    writeFileSync(ini, `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\napp = ${ECHO}\nvaccum = true\n`);
    const u = await startUsherReady(['--ini', ini]);
    try {
      assert.match(u.output(), new RegExp(`WARN  master: ${ini.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4: unknown option "vaccum" \\(did you mean "vacuum"\\?\\)`));
      assert.equal((await fetch(`http://127.0.0.1:${port}/pid`)).status, 200);
    } finally {
      await u.stop();
    }
    const strict = await run(['--ini', ini, '--strict']);
    assert.equal(strict.code, 1);
    assert.match(strict.out, /ERROR master: config error: .*:4: unknown option "vaccum" \(did you mean "vacuum"\?\).*code=USHER_ERR_CONFIG_UNKNOWN_OPTION/);
  } finally {
    t.remove();
  }
});

test('bad value: file, line, option and expected form; exit 1; no stack trace', async () => {
  const t = tempDir();
  try {
    const ini = join(t.dir, 'uwsgi.ini');
    writeFileSync(ini, `[uwsgi]\nhttp = :0\napp = ${ECHO}\nprocesses = four\n`);
    const r = await run(['--ini', ini]);
    assert.equal(r.code, 1);
    assert.match(r.out, /uwsgi\.ini:4: processes = "four": expected a whole number from 1 to 1024/);
    assert.match(r.out, /code=USHER_ERR_CONFIG_BAD_VALUE/);
    assert.doesNotMatch(r.out, /^\s+at /m);
  } finally {
    t.remove();
  }
});

// The children's log pipe is made by a `mkfifo` the CLI starts before the master's own checks run
// (logging/pipe.ts): a start those checks stop must still wait for it and remove the FIFO's folder.
test('a start stopped by a config check leaves nothing in the temp folder (the log pipe\'s FIFO is removed)', async () => {
  const t = tempDir();
  try {
    const tmp = join(t.dir, 'tmp');
    const bin = join(t.dir, 'bin');
    mkdirSync(tmp);
    mkdirSync(bin);
    // The real mkfifo, late (as on a loaded machine): the check fails while it is still running.
    writeFileSync(join(bin, 'mkfifo'), '#!/bin/sh\nsleep 0.5\nexec /usr/bin/mkfifo "$@"\n');
    chmodSync(join(bin, 'mkfifo'), 0o755);
    for (const bad of [['--uid', 'no-such-user-usher-test'], ['--socket', join(t.dir, 'no', 'such', 'folder.sock')]]) {
      const r = await run(['--app', ECHO, '--http-socket', '127.0.0.1:0', ...bad], { TMPDIR: tmp, PATH: `${bin}:${process.env.PATH ?? ''}` });
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /no such user|the folder .* does not exist/);
      assert.deepEqual(readdirSync(tmp), [], `nothing left in TMPDIR after ${bad.join(' ')}`);
    }
  } finally {
    t.remove();
  }
});

test('no log pipe (the temp folder missing, or no mkfifo on PATH): one line saying which and what to do, exit 1', async () => {
  const t = tempDir();
  try {
    const noTemp = await run(['--app', ECHO, '--http-socket', '127.0.0.1:0'], { TMPDIR: join(t.dir, 'missing') });
    assert.equal(noTemp.code, 1, noTemp.out);
    assert.match(noTemp.out, /cannot make the workers' log pipe: ENOENT.*check that the temp folder \S+missing exists and usher may write there, or set TMPDIR/);
    assert.match(noTemp.out, /code=USHER_ERR_LOG_PIPE/);
    const bin = join(t.dir, 'bin'); // a PATH with no mkfifo on it
    mkdirSync(bin);
    const noTool = await run(['--app', ECHO, '--http-socket', '127.0.0.1:0'], { PATH: bin });
    assert.equal(noTool.code, 1, noTool.out);
    assert.match(noTool.out, /cannot make the workers' log pipe: spawn mkfifo ENOENT; usher needs coreutils' mkfifo on PATH code=USHER_ERR_LOG_PIPE/);
    for (const r of [noTemp, noTool]) assert.doesNotMatch(r.out, /^\s+at |unexpected failure/m);
  } finally {
    t.remove();
  }
});

test('nothing to serve / no app / missing ini: one line each, exit 1', async () => {
  for (const [args, re] of [
    [['--app', ECHO], /nothing to serve on/],
    [['--http', ':0'], /no app to run/],
    [['--ini', '/nonexistent/uwsgi.ini'], /cannot read config \/nonexistent\/uwsgi\.ini: no such file/],
  ] as const) {
    const r = await run([...args]);
    assert.equal(r.code, 1, String(args));
    assert.match(r.out, re);
  }
});

test('an address already in use: says so and what to do', async () => {
  const port = await freePort();
  const first = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--app', ECHO]);
  try {
    const r = await run(['--http-socket', `127.0.0.1:${port}`, '--app', ECHO]);
    assert.equal(r.code, 1);
    assert.match(r.out, /cannot bind http-socket 127\.0\.0\.1:\d+: EADDRINUSE: the address is in use by another process/);
  } finally {
    await first.stop();
  }
});
