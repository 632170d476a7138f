/**
 * Start-up: the Django guestbook on one ini (a uwsgi socket, 4 processes × 2 threads, master) under usher
 * and under uWSGI, started alternately N times. Each start counts until the server said every worker is
 * up (usher's "master: ready", uWSGI's "spawned uWSGI worker 4") and until a request sent to the socket
 * from the moment it exists was answered; the later of the two is the start's time: what a front
 * waits. Each server runs in its own session, as a systemd unit does.
 *
 * usher's start includes Node's own, which reads the file NODE_EXTRA_CA_CERTS names before any code runs
 * (~40 ms here with Debian's bundle); services started by systemd do not inherit it from a login shell.
 * When it is set, usher is measured a second time without it, so the table shows both.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uwsgiRequest } from '../test/helpers/uwsgi-client.js';
import { startProcess } from './procs.js';
import { median } from './report.js';
import { DJANGO_APP, PY, REPO, missing, prepareDjango } from './servers.js';

const USHER = join(REPO, 'bin', 'usher.js');
export const READY = { usher: /INFO {2}master: ready /, uwsgi: /spawned uWSGI worker 4 / } as const;

export interface StartupRow {
  readonly server: string;
  readonly label: string;
  /** Per start: the later of "all workers up" and "first request answered", ms. */
  readonly ms: readonly number[];
  readonly readyMs: readonly number[];
  readonly firstMs: readonly number[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One start: spawn (bench/procs, in its own session), poll the socket every 5 ms, stop once both moments are known (or after 60 s). */
async function startOnce(cmd: string, argv: string[], env: NodeJS.ProcessEnv, ready: RegExp, sock: string): Promise<{ readyMs: number; firstMs: number }> {
  const t0 = performance.now();
  const run = startProcess(cmd, argv, { env, stopSignal: 'SIGINT' });
  // Timed as the line arrives (the poll below may be waiting on a queued request meanwhile).
  let readyMs = -1;
  const onData = (): void => { if (readyMs < 0 && ready.test(run.output())) readyMs = performance.now() - t0; };
  run.proc.stdout?.on('data', onData);
  run.proc.stderr?.on('data', onData);
  let firstMs = -1;
  try {
    while ((firstMs < 0 || readyMs < 0) && performance.now() - t0 < 60_000 && run.proc.exitCode === null) {
      const status = firstMs < 0 ? await uwsgiRequest(sock, 'GET', '/').then((r) => r.status, () => 0) : 0;
      if (status === 200) firstMs = performance.now() - t0;
      else if (status !== 0) throw new Error(`${cmd} answered ${status}, not 200`);
      else await sleep(5);
    }
    if (firstMs < 0 || readyMs < 0) throw new Error(`${cmd} did not start: ${run.output().trim().split('\n').slice(-3).join(' | ')}`);
    return { readyMs, firstMs };
  } finally {
    await run.stop();
  }
}

/** The start-up's app and ini in `tmp`: the Django guestbook on a uwsgi socket, 4 processes × 2 threads, master. */
export function startupSetup(tmp: string): { ini: string; sock: string; env: NodeJS.ProcessEnv } {
  prepareDjango(tmp);
  const sock = join(tmp, 'startup.sock');
  const ini = join(tmp, 'startup.ini');
  writeFileSync(ini, `[uwsgi]\nsocket = ${sock}\nchdir = ${DJANGO_APP.dir}\nwsgi-file = ${DJANGO_APP.file}\nprocesses = 4\nthreads = 2\nmaster = true\n`);
  // Added to this process's environment (bench/procs); the uwsgi test client sends Host: guestbook.local.
  return { ini, sock, env: { ...DJANGO_APP.env(tmp), DJANGO_ALLOWED_HOSTS: 'guestbook.local' } };
}

/** `runs` alternated starts of each server (startRounds); servers that are not installed are left out. */
export async function measureStartup(tmp: string, runs: number): Promise<StartupRow[]> {
  const { ini, sock, env } = startupSetup(tmp);
  const noCa = { ...env, NODE_EXTRA_CA_CERTS: undefined }; // spawn leaves out a variable set to undefined
  const servers: StartupServer[] = [];
  if (missing('python3-at-/usr/bin') === undefined) {
    servers.push({ id: 'usher', label: 'usher', cmd: process.execPath, argv: [USHER, '--ini', ini, '--python', PY], env, ready: READY.usher });
    if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
      servers.push({ id: 'usher-no-extra-ca', label: 'usher, without NODE_EXTRA_CA_CERTS (as under systemd)', cmd: process.execPath, argv: [USHER, '--ini', ini, '--python', PY], env: noCa, ready: READY.usher });
    }
  }
  if (missing('uwsgi') === undefined) servers.push({ id: 'uwsgi', label: 'uWSGI', cmd: 'uwsgi', argv: ['--plugin', 'python3', '--ini', ini], env, ready: READY.uwsgi });
  return startRounds(servers, runs, sock, false);
}

export interface StartupServer { readonly id: string; readonly label: string; readonly cmd: string; readonly argv: string[]; readonly env: NodeJS.ProcessEnv; readonly ready: RegExp }

/**
 * `runs` rounds of one start of each server; progress on stderr. `rotate`: each round begins with the
 * next server (with two, they alternate who goes first), so none always follows the same one's stop.
 */
export async function startRounds(servers: readonly StartupServer[], runs: number, sock: string, rotate: boolean): Promise<StartupRow[]> {
  const got = servers.map(() => ({ ms: [] as number[], readyMs: [] as number[], firstMs: [] as number[] }));
  for (let i = 1; i <= runs; i++) {
    process.stderr.write(`[startup] round ${i}/${runs}\n`);
    for (let j = 0; j < servers.length; j++) {
      const k = rotate ? (i - 1 + j) % servers.length : j;
      const s = servers[k]!;
      try {
        const r = await startOnce(s.cmd, s.argv, s.env, s.ready, sock);
        got[k]!.ms.push(Math.round(Math.max(r.readyMs, r.firstMs)));
        got[k]!.readyMs.push(Math.round(r.readyMs));
        got[k]!.firstMs.push(Math.round(r.firstMs));
      } catch (e) {
        process.stderr.write(`[startup] ${s.label}: ${(e as Error).message}\n`);
      }
    }
  }
  return servers.map((s, k) => ({ server: s.id, label: s.label, ...got[k]! }));
}

/** The Markdown section: min and median per server, and the median's ratio to uWSGI's. */
export function renderStartup(rows: readonly StartupRow[], runs: number): string {
  const ref = rows.find((r) => r.server === 'uwsgi' && r.ms.length > 0);
  const lines = [
    `### Start-up: Django guestbook, 4 processes × 2 threads, uwsgi socket (${runs} alternated starts)`,
    '',
    'Each start counts until the server said all workers are up and a request sent to the socket from the moment it exists was answered (the later of the two; Django\'s first request in a fresh worker takes ~60-70 ms in both servers).',
    '',
    '| server | min ms | median ms | median: all workers up | median: first answer | vs uWSGI (median) |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    if (r.ms.length === 0) { lines.push(`| ${r.label} | – | – | – | – | failed to start |`); continue; }
    const ratio = ref !== undefined ? `${(median(r.ms) / median(ref.ms)).toFixed(2)}×` : '–';
    lines.push(`| ${r.label} | ${Math.min(...r.ms)} | ${median(r.ms)} | ${median(r.readyMs)} | ${median(r.firstMs)} | ${ratio} |`);
  }
  return `${lines.join('\n')}\n`;
}
