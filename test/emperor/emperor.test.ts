// The Emperor with real vassals: a Node app, a WSGI hello and the Django guestbook, each its own usher
// master on its own port. Adding, touching, editing, corrupting, removing a file and kill -9 of a
// vassal's master each have their effect; when the emperor goes (gracefully or by SIGKILL) nothing of
// the tree it started is left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsher, tempDir, freePort, REPO, type UsherProc } from '../helpers/usher.js';
import { haveDjango } from '../helpers/python-runner.js';
import { descendants, survivors, waitGone, type ProcId } from './proc-tree.js';
import { tyrantFlags } from '../../src/emperor/vassal.js';

const PY = '/usr/bin/python3';
const DJANGO = join(REPO, 'examples', 'django-guestbook');
const tmp = tempDir('usher-emperor-');
const DB = join(tmp.dir, 'gb.sqlite3');

const HAVE_DJANGO = haveDjango();

before(() => {
  if (HAVE_DJANGO) execFileSync(PY, ['manage.py', 'migrate', '--noinput', '-v0'], { cwd: DJANGO, env: { ...process.env, GUESTBOOK_DB: DB } });
});
after(() => tmp.remove());

const nodeIni = (port: number): string => `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\napp = ${join(REPO, 'bench', 'apps', 'hello.mjs')}\nprocesses = 2\n`;
const wsgiIni = (port: number): string => `[uwsgi]\nhttp = 127.0.0.1:${port}\nwsgi-file = ${join(REPO, 'bench', 'apps', 'hello_wsgi.py')}\npython = ${PY}\nprocesses = 2\n`;
const djangoIni = (port: number): string => `[uwsgi]\nhttp = 127.0.0.1:${port}\nchdir = ${DJANGO}\nwsgi-file = guestbook_project/wsgi.py\npython = ${PY}\nenv = GUESTBOOK_DB=${DB}\nprocesses = 2\nthreads = 2\n`;

/** Wait for a line matching re written after offset (the emperor's log is one stream for all). */
async function waitAfter(u: UsherProc, offset: number, re: RegExp, timeoutMs = 30_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const line = u.output().slice(offset).split('\n').find((l) => re.test(l));
    if (line !== undefined) return line;
    if (u.proc.exitCode !== null || u.proc.signalCode !== null) throw new Error(`emperor exited before ${re}:\n${u.output()}`);
    if (Date.now() > until) throw new Error(`timed out waiting for ${re}; output:\n${u.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function get(port: number): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
  return { status: r.status, body: await r.text() };
}

function count(text: string, re: RegExp): number {
  return text.split('\n').filter((l) => re.test(l)).length;
}

function pidOf(line: string): number {
  return Number(/ pid=(\d+)/.exec(line)?.[1]);
}

function future(path: string, s: number): void {
  const t = new Date(Date.now() + s * 1000);
  utimesSync(path, t, t);
}

test('vassals: add, touch, edit, corrupt, remove and kill -9 each do their part; nothing is orphaned', async () => {
  const dir = join(tmp.dir, 'vassals');
  mkdirSync(dir);
  const [pNode, pWsgi, pDjango, pBad] = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(join(dir, 'node.ini'), nodeIni(pNode));
  writeFileSync(join(dir, 'wsgi.ini'), wsgiIni(pWsgi));
  const u = startUsher(['--emperor', dir]);
  const tree = new Map<number, ProcId>();
  const record = (): void => { for (const p of descendants(u.pid)) tree.set(p.pid, p); };
  try {
    const nodeReady = await waitAfter(u, 0, /emperor: vassal ready vassal=node /);
    await waitAfter(u, 0, /emperor: vassal ready vassal=wsgi /);
    assert.deepEqual(await get(pNode), { status: 200, body: 'Hello, world!\n' });
    assert.deepEqual(await get(pWsgi), { status: 200, body: 'Hello, world!\n' });
    // A vassal's own lines come through tagged with its name.
    assert.match(u.output(), /master: ready .* vassal=wsgi/);
    record();

    // add: a new file starts a vassal
    if (HAVE_DJANGO) {
      let mark = u.output().length;
      writeFileSync(join(dir, 'django.ini'), djangoIni(pDjango));
      await waitAfter(u, mark, /emperor: vassal ready vassal=django /, 60_000);
      const gb = await get(pDjango);
      assert.equal(gb.status, 200);
      assert.match(gb.body, /<h1>Guestbook<\/h1>/);
      record();
      mark = u.output().length;
    } else if (process.env.CI === 'true') {
      assert.fail('Django is needed for the third vassal');
    }

    // touch: a graceful reload of that vassal only, same master
    let mark = u.output().length;
    future(join(dir, 'node.ini'), 5);
    const hup = await waitAfter(u, mark, /emperor: vassal reloading vassal=node .*signal=SIGHUP/);
    assert.equal(pidOf(hup), pidOf(nodeReady));
    await waitAfter(u, mark, /master: reload complete .* vassal=node/);
    assert.equal((await get(pNode)).status, 200);
    assert.equal(count(u.output().slice(mark), /vassal reloading vassal=wsgi/), 0, 'the others are left alone');
    record();

    // edit: a changed effective config (processes) restarts the vassal with it
    mark = u.output().length;
    writeFileSync(join(dir, 'node.ini'), nodeIni(pNode).replace('processes = 2', 'processes = 3'));
    future(join(dir, 'node.ini'), 10);
    await waitAfter(u, mark, /emperor: vassal restarting vassal=node .*effective config changed/);
    const ready3 = await waitAfter(u, mark, /master: ready .*workers=3 .*vassal=node/);
    assert.ok(ready3);
    assert.equal((await get(pNode)).status, 200);
    record();

    // corrupt a running vassal's file: refused with its error, the running one and the others serve on
    mark = u.output().length;
    writeFileSync(join(dir, 'wsgi.ini'), wsgiIni(pWsgi) + 'processes = lots\n'); // a bad value: an error naming file and line
    const refused = await waitAfter(u, mark, /emperor: vassal config refused; the running instance keeps serving vassal=wsgi/);
    assert.match(refused, /wsgi\.ini:6/, 'names file and line');
    assert.equal((await get(pWsgi)).status, 200);
    assert.equal((await get(pNode)).status, 200);

    // a new broken file: refused once (not retried in a loop), nothing started for it
    writeFileSync(join(dir, 'bad.ini'), `[uwsgi]\nhttp-socket = 127.0.0.1:${pBad}\nprocesses = many\napp = x.mjs\n`);
    await waitAfter(u, mark, /emperor: vassal refused; it starts when its file changes vassal=bad .*processes/);
    // an app that cannot load exits at startup: logged once, backed off, retried when the file changes
    writeFileSync(join(dir, 'noapp.ini'), `[uwsgi]\nhttp-socket = 127.0.0.1:${pBad}\napp = ${join(tmp.dir, 'missing.mjs')}\n`);
    await waitAfter(u, mark, /emperor: vassal failed to start vassal=noapp .*exit_code=1 .*missing\.mjs/);
    // ...the back-off retries it (1 s, 2 s, 4 s): wait for two more attempts, still one error line
    const until = Date.now() + 30_000;
    while (count(u.output().slice(mark), /vassal started vassal=noapp /) < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.ok(count(u.output().slice(mark), /vassal started vassal=noapp /) >= 3, 'retried with back-off');
    assert.equal(count(u.output().slice(mark), /vassal failed to start vassal=noapp /), 1, 'the same failure is told once');
    assert.equal(count(u.output().slice(mark), /vassal refused; .*vassal=bad /), 1);
    // fixed: it starts
    writeFileSync(join(dir, 'noapp.ini'), nodeIni(pBad));
    future(join(dir, 'noapp.ini'), 15);
    await waitAfter(u, mark, /emperor: vassal ready vassal=noapp /);
    assert.equal((await get(pBad)).status, 200);
    record();

    // kill -9 a vassal's master: the emperor says why and starts it again
    mark = u.output().length;
    const nodeMaster = pidOf(ready3);
    process.kill(nodeMaster, 'SIGKILL');
    await waitAfter(u, mark, /emperor: vassal died; restarting vassal=node .*signal=SIGKILL/);
    const again = await waitAfter(u, mark, /emperor: vassal ready vassal=node /);
    assert.notEqual(pidOf(again), nodeMaster);
    assert.equal((await get(pNode)).status, 200);
    record();

    // remove: the vassal stops gracefully, its port closes
    mark = u.output().length;
    rmSync(join(dir, 'noapp.ini'));
    await waitAfter(u, mark, /emperor: vassal stopped vassal=noapp exit_code=0/);
    await assert.rejects(get(pBad));
    assert.equal((await get(pWsgi)).status, 200);

    // the refused file, fixed: it starts (on the port the removed vassal let go)
    writeFileSync(join(dir, 'bad.ini'), wsgiIni(pBad));
    future(join(dir, 'bad.ini'), 20);
    await waitAfter(u, mark, /emperor: vassal ready vassal=bad /);
    assert.equal((await get(pBad)).status, 200);
    record();
  } finally {
    const e = await u.stop('SIGTERM', 60_000);
    assert.deepEqual(e, { code: 0, signal: null }, u.output());
  }
  assert.match(u.output(), /emperor: emperor stopped/);
  const left = await waitGone([...tree.values()], 10_000);
  assert.deepEqual(left, [], 'every process the emperor started is gone');
  assert.ok(tree.size >= 8, `the tree was walked (${tree.size} processes)`);
});

test('an emperor killed with SIGKILL leaves nothing behind: each vassal stops itself', async () => {
  const dir = join(tmp.dir, 'orphans');
  mkdirSync(dir);
  writeFileSync(join(dir, 'node.ini'), nodeIni(await freePort()));
  writeFileSync(join(dir, 'wsgi.ini'), wsgiIni(await freePort()));
  const u = startUsher(['--emperor', dir]);
  try {
    await u.waitFor(/emperor: vassal ready vassal=node /, 30_000);
    await u.waitFor(/emperor: vassal ready vassal=wsgi /, 30_000);
    const tree = descendants(u.pid);
    assert.ok(tree.length >= 7, `two masters, their workers and a router (${tree.length})`);
    process.kill(u.pid, 'SIGKILL');
    await u.exited;
    const left = await waitGone(tree, 30_000);
    assert.deepEqual(left, [], 'vassals noticed the emperor was gone and stopped');
  } finally {
    await u.stop('SIGKILL');
  }
});

test('glob form in an ini, Debian apps-enabled symlinks, SIGHUP reloads every vassal', async () => {
  const root = join(tmp.dir, 'debian');
  mkdirSync(join(root, 'apps-available'), { recursive: true });
  mkdirSync(join(root, 'apps-enabled'));
  const [p1, p2] = [await freePort(), await freePort()];
  writeFileSync(join(root, 'apps-available', 'one.ini'), nodeIni(p1));
  writeFileSync(join(root, 'apps-available', 'two.ini'), wsgiIni(p2));
  writeFileSync(join(root, 'apps-enabled', 'README'), 'not a vassal\n');
  symlinkSync('../apps-available/one.ini', join(root, 'apps-enabled', 'one.ini'));
  symlinkSync('../apps-available/two.ini', join(root, 'apps-enabled', 'two.ini'));
  symlinkSync('../apps-available/gone.ini', join(root, 'apps-enabled', 'dangling.ini'));
  writeFileSync(join(root, 'emperor.ini'), '[uwsgi]\nemperor = %dapps-enabled/*.ini\nemperor-stats = 127.0.0.1:1717\n');
  const u = startUsher(['--ini', join(root, 'emperor.ini')]);
  try {
    await u.waitFor(/emperor: vassal ready vassal=one /, 30_000);
    await u.waitFor(/emperor: vassal ready vassal=two /, 30_000);
    assert.match(u.output(), /emperor-stats: the emperor has no stats server of its own yet .*; not yet/);
    assert.doesNotMatch(u.output(), /vassal=(README|dangling)/);
    // touching the target in apps-available reloads the enabled vassal
    let mark = u.output().length;
    future(join(root, 'apps-available', 'one.ini'), 5);
    await waitAfter(u, mark, /emperor: vassal reloading vassal=one /);
    // SIGHUP to the emperor: every vassal reloads gracefully
    mark = u.output().length;
    u.proc.kill('SIGHUP');
    await waitAfter(u, mark, /master: reload complete .* vassal=one/);
    await waitAfter(u, mark, /master: reload complete .* vassal=two/);
    assert.equal((await get(p1)).status, 200);
    assert.equal((await get(p2)).status, 200);
    // disabling (removing the symlink) stops it
    mark = u.output().length;
    rmSync(join(root, 'apps-enabled', 'two.ini'));
    await waitAfter(u, mark, /emperor: vassal stopped vassal=two /);
    // SIGQUIT: brutal, everything goes at once
    const tree = descendants(u.pid);
    u.proc.kill('SIGQUIT');
    assert.deepEqual(await u.exited, { code: 0, signal: null });
    assert.deepEqual(await waitGone(tree, 10_000), []);
  } finally {
    await u.stop('SIGKILL');
  }
});

test('emperor-tyrant: a vassal runs as its file\'s owner; root-owned files are refused', async () => {
  assert.deepEqual(tyrantFlags({ uid: 1000, gid: 1001 }), { flags: ['--uid=1000', '--gid=1001'] });
  assert.match((tyrantFlags({ uid: 0, gid: 1001 }) as { refused: string }).refused, /root/);
  assert.match((tyrantFlags({ uid: 1000, gid: 0 }) as { refused: string }).refused, /root/);
  const dir = join(tmp.dir, 'tyrant');
  mkdirSync(dir);
  writeFileSync(join(dir, 'rooty.ini'), nodeIni(await freePort()));
  const nobody = join(dir, 'nobody.ini');
  writeFileSync(nobody, nodeIni(await freePort()));
  chownSync(nobody, 65534, 65534);
  const u = startUsher(['--emperor', dir, '--emperor-tyrant']);
  try {
    await u.waitFor(/emperor: vassal refused; .*vassal=rooty .*owned by root/, 20_000);
    await u.waitFor(/emperor: vassal started vassal=nobody .*uid=65534/, 20_000);
  } finally {
    assert.equal((await u.stop()).code, 0);
  }
});

test('a missing emperor folder is one clear error', async () => {
  const u = startUsher(['--emperor', join(tmp.dir, 'nope')]);
  const e = await u.exited;
  assert.equal(e.code, 1);
  assert.match(u.output(), /config error: .*emperor: .*nope is not a folder/);
  assert.doesNotMatch(u.output(), /\n\s+at /, 'no stack trace');
  assert.equal(survivors(descendants(u.pid)).length, 0);
});
