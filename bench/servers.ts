/**
 * bench/servers: every server the benchmark compares, and the cases that group them. Each case runs
 * the same app with the same worker count (4 processes, 2 threads where threads apply: the seed's).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, waitForHttp, which, type Running } from './procs.js';
import { startNginx, type Front } from '../test/helpers/fronts.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const USHER = join(REPO, 'bin', 'usher.js');
const APPS = join(REPO, 'bench', 'apps');
const DJANGO = join(REPO, 'examples', 'django-guestbook');
export const PY = '/usr/bin/python3';
export const PROCESSES = 4;
export const THREADS = 2;

export interface Started {
  readonly url: string;
  /** The process tree whose CPU time and memory are reported (the app server, not a front). */
  readonly rootPid: number;
  /** An Nginx front's master, whose tree's CPU time is reported apart. */
  readonly frontPid?: number;
  /** A side address (the stats server) fetched a few times a second while the load runs: how fast it answers under load. */
  readonly probe?: string;
  stop(): Promise<void>;
}

export interface ServerDef {
  readonly id: string;
  readonly label: string;
  readonly requires: readonly string[];
  readonly reference?: boolean;
  start(port: number, tmp: string): Promise<Started>;
}

export interface CaseDef {
  readonly id: string;
  readonly title: string;
  readonly path: string;
  readonly servers: readonly ServerDef[];
  /** Prepared once before the case's servers start (Django's database, the static files). */
  setup?(tmp: string): void;
  /**
   * Rounds and seconds per measurement when this case needs other than the run's (an A/B of two usher
   * settings: more, shorter rounds). The report then also gives each server's ratio to the reference
   * round by round (adjacent measurements), whose median resolves a few percent on a busy machine.
   */
  readonly paired?: { readonly rounds: number; readonly seconds: number };
}

async function serve(r: Running, url: string, stopFront?: () => Promise<void>, frontPid?: number): Promise<Started> {
  try {
    await waitForHttp(url, 30_000, () => r.proc.exitCode === null);
  } catch (err) {
    await stopFront?.();
    await r.stop();
    throw new Error(`${(err as Error).message}; last output: ${r.output().trim().split('\n').slice(-3).join(' | ')}`);
  }
  return { url, rootPid: r.pid, frontPid, stop: async () => { await stopFront?.(); await r.stop(); } };
}

/**
 * usher and uWSGI log every request by default, so they run with their default access log on, written
 * to a file (/dev/null: the cost of producing and writing each line, not the disk's). gunicorn, PM2 and
 * node:cluster log no requests by default; they run as they come. LOGS marks the servers that log.
 */
export const LOGS = ' · logs requests';

function usher(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  return startProcess(process.execPath, [USHER, '--processes', String(PROCESSES), '--logto', '/dev/null', ...args], { env });
}

function uwsgi(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Running {
  return startProcess('uwsgi', ['--master', '--processes', String(PROCESSES), '--threads', String(THREADS), '--logto', '/dev/null', '--die-on-term', ...args], { cwd, env, stopSignal: 'SIGINT' });
}

function gunicorn(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Running {
  return startProcess('gunicorn', ['--workers', String(PROCESSES), ...args], { cwd, env });
}

/** Nginx (worker_processes 1) with uwsgi_pass to a unix socket, in front of `backend`. */
async function behindNginx(sock: string, backend: Running): Promise<Started> {
  let front: Front | undefined;
  try {
    front = await startNginx({
      ownSession: true,
      serverBlock: `server { listen 127.0.0.1:{{PORT}}; access_log off; location / { include uwsgi_params; uwsgi_pass unix:${sock}; } }`,
    });
  } catch (err) {
    await backend.stop();
    throw err;
  }
  let pid: number;
  try {
    pid = await nginxPid(front);
  } catch (err) {
    await backend.stop();
    throw err;
  }
  return serve(backend, `${front.url}/`, () => front?.stop() ?? Promise.resolve(), pid);
}

interface PyApp { readonly dir: string; readonly file: string; readonly module: string; env(tmp: string): NodeJS.ProcessEnv }

const HELLO_WSGI: PyApp = { dir: APPS, file: 'hello_wsgi.py', module: 'hello_wsgi:application', env: () => ({}) };
export const DJANGO_APP: PyApp = {
  dir: DJANGO,
  file: 'guestbook_project/wsgi.py',
  module: 'guestbook_project.wsgi:application',
  env: (tmp) => ({ GUESTBOOK_DB: join(tmp, 'bench.sqlite3'), DJANGO_ALLOWED_HOSTS: '127.0.0.1,localhost' }),
};

function wsgiDirect(app: PyApp): ServerDef[] {
  return [
    { id: 'usher-http', label: 'usher http (router → uwsgi → Python workers)' + LOGS, requires: ['python3-at-/usr/bin'], start: async (port, tmp) => serve(usher(['--http', `127.0.0.1:${port}`, '--threads', String(THREADS), '--chdir', app.dir, '--wsgi-file', app.file, '--python', PY], app.env(tmp)), `http://127.0.0.1:${port}/`) },
    { id: 'uwsgi-http-ka', label: 'uWSGI http, http-keepalive = 1' + LOGS, requires: ['uwsgi'], reference: true, start: async (port, tmp) => serve(uwsgi(['--plugins', 'http,python3', '--http', `127.0.0.1:${port}`, '--http-keepalive', '--wsgi-file', app.file], app.dir, app.env(tmp)), `http://127.0.0.1:${port}/`) },
    { id: 'uwsgi-http', label: 'uWSGI http (closes after each response)' + LOGS, requires: ['uwsgi'], start: async (port, tmp) => serve(uwsgi(['--plugins', 'http,python3', '--http', `127.0.0.1:${port}`, '--wsgi-file', app.file], app.dir, app.env(tmp)), `http://127.0.0.1:${port}/`) },
    { id: 'gunicorn-sync', label: 'gunicorn sync', requires: ['gunicorn'], start: async (port, tmp) => serve(gunicorn(['--bind', `127.0.0.1:${port}`, app.module], app.dir, app.env(tmp)), `http://127.0.0.1:${port}/`) },
    { id: 'gunicorn-gthread', label: 'gunicorn gthread', requires: ['gunicorn'], start: async (port, tmp) => serve(gunicorn(['--bind', `127.0.0.1:${port}`, '--worker-class', 'gthread', '--threads', String(THREADS), app.module], app.dir, app.env(tmp)), `http://127.0.0.1:${port}/`) },
  ];
}

function wsgiBehindNginx(app: PyApp): ServerDef[] {
  return [
    { id: 'nginx-usher', label: 'Nginx uwsgi_pass → usher socket' + LOGS, requires: ['nginx', 'python3-at-/usr/bin'], start: async (port, tmp) => {
      const sock = join(tmp, `usher-${port}.sock`);
      return behindNginx(sock, usher(['--socket', sock, '--chmod-socket', '666', '--threads', String(THREADS), '--chdir', app.dir, '--wsgi-file', app.file, '--python', PY], app.env(tmp)));
    } },
    { id: 'nginx-uwsgi', label: 'Nginx uwsgi_pass → uWSGI socket' + LOGS, requires: ['nginx', 'uwsgi'], reference: true, start: async (port, tmp) => {
      const sock = join(tmp, `uwsgi-${port}.sock`);
      return behindNginx(sock, uwsgi(['--plugins', 'python3', '--socket', sock, '--chmod-socket=666', '--wsgi-file', app.file], app.dir, app.env(tmp)));
    } },
  ];
}

/** The master's pid: Nginx writes its pid file a moment after it answers, so wait for it (and stop it if it never comes). */
async function nginxPid(front: Front): Promise<number> {
  const file = join(front.root, 'nginx.pid');
  for (let waited = 0; waited < 10_000; waited += 50) {
    const pid = existsSync(file) ? Number(readFileSync(file, 'utf8')) : NaN;
    if (Number.isInteger(pid) && pid > 0) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  await front.stop();
  throw new Error(`nginx wrote no pid file in ${file} within 10s`);
}

/** Nginx by itself (worker_processes 1), its master as the measured tree. */
async function nginxAlone(serverBlock: string): Promise<Started> {
  const front = await startNginx({ ownSession: true, serverBlock });
  return { url: `${front.url}/`, rootPid: await nginxPid(front), stop: () => front.stop() };
}

export function prepareDjango(tmp: string): void {
  const env = { ...process.env, ...DJANGO_APP.env(tmp) };
  execFileSync(PY, ['manage.py', 'migrate', '--noinput', '-v0'], { cwd: DJANGO, env });
  execFileSync(PY, ['manage.py', 'shell', '-c',
    'from guestbook.models import Entry\nfor i in range(20): Entry.objects.create(name="Guest %d" % i, message="Hello from the benchmark, entry %d." % i)'],
  { cwd: DJANGO, env });
}

/** The folder every static server maps to /static: a 4 KiB stylesheet and a 1 MiB binary. */
const staticDir = (tmp: string): string => join(tmp, 'static');

function prepareStatic(tmp: string): void {
  const dir = staticDir(tmp);
  mkdirSync(dir, { recursive: true });
  const rule = '.bench { color: #123456; margin: 0 auto; padding: 4px 8px; }\n';
  writeFileSync(join(dir, 'style.css'), rule.repeat(Math.ceil(4096 / rule.length)).slice(0, 4096));
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 10)) & 0xff;
  writeFileSync(join(dir, 'big.bin'), big);
}

/**
 * Static files from the same folder, mapped to /static: usher and uWSGI serve them in front of an app
 * (a request under /static never reaches it), Nginx by itself. uWSGI's http-socket is the peer closest
 * to usher's and the reference; Nginx shows how far from a C file server the app servers are.
 * uWSGI's keep-alive ways of serving files stall about 40 ms a response (Nagle's algorithm against the
 * client's delayed ACK): `http11-socket` gave 45 req/s here, so it is left out; `http` with
 * `http-keepalive` is kept to show it.
 */
function staticServers(): ServerDef[] {
  const map = (tmp: string): string => `/static=${staticDir(tmp)}`;
  return [
    { id: 'usher-http-socket', label: 'usher http-socket, Node app', requires: [], start: async (port, tmp) => serve(usher(['--http-socket', `127.0.0.1:${port}`, '--static-map', map(tmp), '--app', join(APPS, 'hello.mjs')]), `http://127.0.0.1:${port}/`) },
    { id: 'usher-http', label: 'usher http (the router serves), Python app', requires: ['python3-at-/usr/bin'], start: async (port, tmp) => serve(usher(['--http', `127.0.0.1:${port}`, '--static-map', map(tmp), '--threads', String(THREADS), '--chdir', APPS, '--wsgi-file', HELLO_WSGI.file, '--python', PY]), `http://127.0.0.1:${port}/`) },
    { id: 'uwsgi-http-socket', label: 'uWSGI http-socket (closes after each response)', requires: ['uwsgi'], reference: true, start: async (port, tmp) => serve(uwsgi(['--plugins', 'python3', '--http-socket', `127.0.0.1:${port}`, '--static-map', map(tmp), '--wsgi-file', HELLO_WSGI.file], APPS), `http://127.0.0.1:${port}/`) },
    { id: 'uwsgi-http-ka', label: 'uWSGI http, http-keepalive = 1', requires: ['uwsgi'], start: async (port, tmp) => serve(uwsgi(['--plugins', 'http,python3', '--http', `127.0.0.1:${port}`, '--http-keepalive', '--static-map', map(tmp), '--wsgi-file', HELLO_WSGI.file], APPS), `http://127.0.0.1:${port}/`) },
    { id: 'nginx-static', label: 'Nginx alone (sendfile on)', requires: ['nginx'], start: async (_port, tmp) => nginxAlone(
      `server { listen 127.0.0.1:{{PORT}}; access_log off; sendfile on; tcp_nopush on; location /static/ { alias ${staticDir(tmp)}/; } }`) },
  ];
}

export const CASES: readonly CaseDef[] = [
  {
    id: 'node-hello', title: 'Node hello world, direct HTTP', path: '/',
    servers: [
      { id: 'usher-http-socket', label: 'usher http-socket' + LOGS, requires: [], start: async (port) => serve(usher(['--http-socket', `127.0.0.1:${port}`, '--app', join(APPS, 'hello.mjs')]), `http://127.0.0.1:${port}/`) },
      { id: 'usher-http', label: 'usher http' + LOGS, requires: [], start: async (port) => serve(usher(['--http', `127.0.0.1:${port}`, '--app', join(APPS, 'hello.mjs')]), `http://127.0.0.1:${port}/`) },
      { id: 'usher-http-router', label: 'usher http, http-router = true' + LOGS, requires: [], start: async (port) => serve(usher(['--http', `127.0.0.1:${port}`, '--http-router', '--app', join(APPS, 'hello.mjs')]), `http://127.0.0.1:${port}/`) },
      { id: 'node-cluster', label: 'node:cluster', requires: [], reference: true, start: async (port) => serve(startProcess(process.execPath, [join(APPS, 'cluster.mjs')], { env: { PORT: String(port), WORKERS: String(PROCESSES) } }), `http://127.0.0.1:${port}/`) },
      { id: 'pm2', label: 'PM2 cluster mode', requires: ['pm2-runtime'], start: async (port, tmp) => serve(startProcess(join(REPO, 'node_modules', '.bin', 'pm2-runtime'), ['start', join(APPS, 'pm2-hello.cjs'), '-i', String(PROCESSES)], { env: { PORT: String(port), PM2_HOME: join(tmp, `pm2-${port}`) } }), `http://127.0.0.1:${port}/`) },
    ],
  },
  {
    // #14's aim: stats on costs ≤ 3 % of throughput. The same usher twice, alternated round by round.
    id: 'stats', title: 'Node hello world, stats on vs off (usher http-socket)', path: '/', paired: { rounds: 8, seconds: 5 },
    servers: [
      { id: 'usher-http-socket', label: 'usher http-socket, stats off' + LOGS, requires: [], reference: true, start: async (port) => serve(usher(['--http-socket', `127.0.0.1:${port}`, '--app', join(APPS, 'hello.mjs')]), `http://127.0.0.1:${port}/`) },
      {
        id: 'usher-http-socket-stats', label: 'usher http-socket, stats on' + LOGS, requires: [], start: async (port) => {
          const stats = await freePort();
          const s = await serve(usher(['--http-socket', `127.0.0.1:${port}`, '--stats', `127.0.0.1:${stats}`, '--stats-http', '--app', join(APPS, 'hello.mjs')]), `http://127.0.0.1:${port}/`);
          return { ...s, probe: `http://127.0.0.1:${stats}/metrics` };
        },
      },
    ],
  },
  { id: 'wsgi-hello', title: 'WSGI hello world, direct HTTP', path: '/', servers: wsgiDirect(HELLO_WSGI) },
  { id: 'django', title: 'Django guestbook list page, direct HTTP', path: '/', servers: wsgiDirect(DJANGO_APP), setup: prepareDjango },
  { id: 'static-css', title: 'Static file, 4 KiB CSS (static-map; keep-alive)', path: '/static/style.css', servers: staticServers(), setup: prepareStatic },
  { id: 'static-1m', title: 'Static file, 1 MiB (static-map; keep-alive)', path: '/static/big.bin', servers: staticServers(), setup: prepareStatic },
  { id: 'wsgi-hello-nginx', title: 'WSGI hello world behind Nginx (uwsgi_pass, unix socket)', path: '/', servers: wsgiBehindNginx(HELLO_WSGI) },
  { id: 'django-nginx', title: 'Django guestbook behind Nginx (uwsgi_pass, unix socket)', path: '/', servers: wsgiBehindNginx(DJANGO_APP), setup: prepareDjango },
  {
    id: 'ceiling', title: 'Ceiling: Nginx answering by itself', path: '/',
    servers: [{ id: 'nginx-return', label: 'Nginx return 200', requires: ['nginx'], reference: true,
      start: async () => nginxAlone('server { listen 127.0.0.1:{{PORT}}; access_log off; location / { return 200 "Hello, world!\\n"; } }') }],
  },
];

function hasDjango(): boolean {
  try {
    execFileSync(PY, ['-c', 'import django'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Is a requirement met? Returns the reason when not. */
export function missing(requirement: string): string | undefined {
  if (requirement === 'python3-at-/usr/bin') return hasDjango() ? undefined : `${PY} with Django is missing (apt-get install python3-django)`;
  if (requirement === 'pm2-runtime') return existsSync(join(REPO, 'node_modules', '.bin', 'pm2-runtime')) ? undefined : 'pm2 is not installed (npm install)';
  return which(requirement) ? undefined : `${requirement} is not installed (apt-get install ${requirement})`;
}
