/**
 * A measurement, not a test: usher and real uWSGI on the same ini (4 processes, 2 threads, a uwsgi
 * socket), the hello app and the Django guestbook. Prints the time to ready (the "ready" line / uWSGI's
 * "spawned uWSGI worker 4", and the first answered request), then the tree's PSS after a warm-up
 * (anonymous and file-backed, KiB, from /proc/PID/smaps_rollup summed over the process tree), the
 * master's own, and how much of the workers' RSS is shared.
 *   node dist/test/forkserver/compare-uwsgi.js [hello|django] [usher-extra-args...]
 *   (start-up alone, alternated and repeated: `npm run bench -- --only startup`, bench/startup.ts)
 *   SETTLE_MS=15000 node dist/test/forkserver/compare-uwsgi.js hello   (memory read 15 s after the warm-up
 *   instead of 1 s: the Node master's V8 gives its young generation back ~6-16 s after start, about
 *   2.5 MB; 1 s shows the start-up peak, 15 s the steady state)
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, USHER_BIN, tempDir } from '../helpers/usher.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';
import { rollup, sharedFraction, treeMemory } from '../helpers/memory.js';

const PY = '/usr/bin/python3';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const which = process.argv[2] ?? 'hello';
const extra = process.argv.slice(3);
const tmp = tempDir('usher-compare-');
const sock = join(tmp.dir, 'app.sock');
const DJANGO = join(REPO, 'examples', 'django-guestbook');
const env = { ...process.env, GUESTBOOK_DB: join(tmp.dir, 'db.sqlite3'), DJANGO_STATIC_ROOT: join(tmp.dir, 'static') };

const ini = join(tmp.dir, 'app.ini');
writeFileSync(ini, which === 'django'
  ? `[uwsgi]\nsocket = ${sock}\nchdir = ${DJANGO}\nwsgi-file = guestbook_project/wsgi.py\nprocesses = 4\nthreads = 2\nmaster = true\n`
  : `[uwsgi]\nsocket = ${sock}\nwsgi-file = ${join(REPO, 'bench', 'apps', 'hello_wsgi.py')}\nprocesses = 4\nthreads = 2\nmaster = true\n`);
if (which === 'django') execFileSync(PY, ['manage.py', 'migrate', '--noinput', '-v0'], { cwd: DJANGO, env });

async function run(name: string, proc: ChildProcess, readyRe: RegExp): Promise<void> {
  const t0 = Date.now();
  let out = '';
  let readyMs = -1;
  const onData = (d: Buffer): void => { out += d.toString(); if (readyMs < 0 && readyRe.test(out)) readyMs = Date.now() - t0; };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  let firstMs = -1;
  while (firstMs < 0 && Date.now() - t0 < 60_000) {
    const ok = await uwsgiRequest(sock, 'GET', '/').then((r) => r.status === 200, () => false);
    if (ok) firstMs = Date.now() - t0;
    else await sleep(10);
  }
  while (readyMs < 0 && Date.now() - t0 < 60_000) await sleep(10);
  for (let i = 0; i < 25; i++) await Promise.all(Array.from({ length: 8 }, () => uwsgiRequest(sock, 'GET', '/')));
  await sleep(Number(process.env.SETTLE_MS ?? 1000));
  const { total, each } = treeMemory(proc.pid!);
  const master = rollup(proc.pid!)!;
  const workers = [...each.entries()].filter(([pid]) => pid !== proc.pid);
  const shared = workers.map(([, r]) => sharedFraction(r).toFixed(2)).join(',');
  console.log(`${name} ${which}: ready_ms=${readyMs} first_response_ms=${firstMs} processes=${each.size} tree_pss_kib=${total.pss} tree_pss_anon_kib=${total.pssAnon} tree_pss_file_kib=${total.pssFile} master_pss_kib=${master.pss} master_anon_kib=${master.pssAnon} master_file_kib=${master.pssFile} children_shared=${shared}`);
  for (const [pid, r] of each) console.log(`  pid=${pid} rss=${r.rss} pss=${r.pss} anon=${r.pssAnon} file=${r.pssFile} shared=${r.sharedClean + r.sharedDirty} private_dirty=${r.privateDirty}`);
  proc.kill('SIGINT');
  await new Promise((r) => proc.once('exit', r));
}

const usher = (): ChildProcess => spawn(process.execPath, [USHER_BIN, '--ini', ini, '--python', PY, ...extra], { env, stdio: ['ignore', 'pipe', 'pipe'] });
const uwsgi = (): ChildProcess => spawn('uwsgi', ['--plugin', 'python3', '--ini', ini], { env, stdio: ['ignore', 'pipe', 'pipe'] });
const USHER_READY = /INFO  master: ready /;
const UWSGI_READY = /spawned uWSGI worker 4 /;

try {
  await run('usher', usher(), USHER_READY);
  await run('uwsgi', uwsgi(), UWSGI_READY);
} finally {
  tmp.remove();
}
