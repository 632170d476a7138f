/**
 * bench/servers: every server the benchmark compares, and the cases that group them. Each case runs
 * the same app with the same worker count (4 processes, 2 threads where threads apply: the seed's).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, waitForHttp, which, type Running } from './procs.js';
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
  /** The process tree whose memory is reported (the app server, not a front). */
  readonly rootPid: number;
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
  /** Prepared once before the case's servers start (Django's database). */
  setup?(tmp: string): void;
}

async function serve(r: Running, url: string, stopFront?: () => Promise<void>): Promise<Started> {
  try {
    await waitForHttp(url, 30_000, () => r.proc.exitCode === null);
  } catch (err) {
    await stopFront?.();
    await r.stop();
    throw new Error(`${(err as Error).message}; last output: ${r.output().trim().split('\n').slice(-3).join(' | ')}`);
  }
  return { url, rootPid: r.pid, stop: async () => { await stopFront?.(); await r.stop(); } };
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
  return serve(backend, `${front.url}/`, () => front?.stop() ?? Promise.resolve());
}

interface PyApp { readonly dir: string; readonly file: string; readonly module: string; env(tmp: string): NodeJS.ProcessEnv }

const HELLO_WSGI: PyApp = { dir: APPS, file: 'hello_wsgi.py', module: 'hello_wsgi:application', env: () => ({}) };
const DJANGO_APP: PyApp = {
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

function prepareDjango(tmp: string): void {
  const env = { ...process.env, ...DJANGO_APP.env(tmp) };
  execFileSync(PY, ['manage.py', 'migrate', '--noinput', '-v0'], { cwd: DJANGO, env });
  execFileSync(PY, ['manage.py', 'shell', '-c',
    'from guestbook.models import Entry\nfor i in range(20): Entry.objects.create(name="Guest %d" % i, message="Hello from the benchmark, entry %d." % i)'],
  { cwd: DJANGO, env });
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
  { id: 'wsgi-hello', title: 'WSGI hello world, direct HTTP', path: '/', servers: wsgiDirect(HELLO_WSGI) },
  { id: 'django', title: 'Django guestbook list page, direct HTTP', path: '/', servers: wsgiDirect(DJANGO_APP), setup: prepareDjango },
  { id: 'wsgi-hello-nginx', title: 'WSGI hello world behind Nginx (uwsgi_pass, unix socket)', path: '/', servers: wsgiBehindNginx(HELLO_WSGI) },
  { id: 'django-nginx', title: 'Django guestbook behind Nginx (uwsgi_pass, unix socket)', path: '/', servers: wsgiBehindNginx(DJANGO_APP), setup: prepareDjango },
  {
    id: 'ceiling', title: 'Ceiling: Nginx answering by itself', path: '/',
    servers: [{ id: 'nginx-return', label: 'Nginx return 200', requires: ['nginx'], reference: true, start: async () => {
      const front = await startNginx({ ownSession: true, serverBlock: 'server { listen 127.0.0.1:{{PORT}}; access_log off; location / { return 200 "Hello, world!\\n"; } }' });
      const pid = Number(readFileSync(join(front.root, 'nginx.pid'), 'utf8'));
      return { url: `${front.url}/`, rootPid: pid, stop: () => front.stop() };
    } }],
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
