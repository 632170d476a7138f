/**
 * test/helpers/fronts: real Debian nginx and apache2 in front of usher, each with its own prefix,
 * config and logs under a temp dir, on a 127.0.0.1 port, stopped by pid. Their workers run as
 * www-data with group root, so they can reach a root-owned socket at chmod-socket = 660 (as a
 * deployment adds www-data to the socket's group). The seed's site configs are reproduced with only
 * paths and ports substituted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from './net.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Front {
  readonly kind: 'nginx' | 'apache';
  readonly port: number;
  readonly url: string;
  readonly root: string;
  readonly errorLog: string;
  readonly accessLog: string;
  stop(): Promise<void>;
}

export interface FrontOptions {
  /** nginx: a `server { ... }` block; apache: a `<VirtualHost>` block. {{PORT}} and {{ROOT}} are substituted. */
  readonly serverBlock: string;
  readonly user?: string;
  readonly group?: string;
  /** Start it in its own session, as a systemd unit would be: the kernel's autogroup scheduling then
   *  shares the CPU between it, the app server and the load generator instead of lumping it in with
   *  whoever spawned it. The benchmark uses this; tests don't need it. */
  readonly ownSession?: boolean;
}

/** True if the tool is on PATH; under CI=true a missing tool is an error (tests must fail, not skip). */
export function requireTool(name: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0
    || existsSync(`/usr/sbin/${name}`);
  if (!found && process.env.CI === 'true') throw new Error(`${name} is not installed; .ci/run must install it`);
  return found;
}

function waitForPort(port: number, proc: ChildProcess, logFile: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (proc.exitCode !== null) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
        reject(new Error(`front exited with ${proc.exitCode} before listening:\n${log}`));
        return;
      }
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); resolve(); });
      c.once('error', () => {
        if (Date.now() > deadline) reject(new Error(`front did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function stopper(proc: ChildProcess, root: string): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) { resolve(); return; }
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => { clearTimeout(t); resolve(); });
      proc.kill('SIGTERM');
    }).then(() => rmSync(root, { recursive: true, force: true }));
    return done;
  };
}

/** Write the config, start the server in the foreground, and wait until it listens. */
async function launch(cmd: string, args: (confFile: string) => string[], confFile: string, conf: string, port: number, errorLog: string, env: NodeJS.ProcessEnv, ownSession = false): Promise<ChildProcess> {
  writeFileSync(confFile, conf);
  const proc = spawn(cmd, args(confFile), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env }, detached: ownSession });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    await waitForPort(port, proc, errorLog);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${stderr}\nconfig:\n${conf}`);
  }
  return proc;
}

function makeRoot(prefix: string): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(root, 0o755); // www-data workers traverse it
  return root;
}

export async function startNginx(o: FrontOptions): Promise<Front> {
  const root = makeRoot('usher-nginx-');
  for (const d of ['logs', 'temp']) mkdirSync(join(root, d));
  copyFileSync('/etc/nginx/uwsgi_params', join(root, 'uwsgi_params'));
  copyFileSync('/etc/nginx/mime.types', join(root, 'mime.types'));
  const port = await freePort();
  const block = o.serverBlock.replaceAll('{{PORT}}', String(port)).replaceAll('{{ROOT}}', root);
  const conf = `# usher test front: a self-contained nginx (Debian's temp paths moved under the prefix).
user ${o.user ?? 'www-data'} ${o.group ?? 'root'};
worker_processes 1;
pid ${root}/nginx.pid;
error_log ${root}/logs/error.log info;
events { worker_connections 1024; }
http {
  include ${root}/mime.types;
  default_type application/octet-stream;
  access_log ${root}/logs/access.log;
  client_body_temp_path ${root}/temp/body;
  proxy_temp_path ${root}/temp/proxy;
  fastcgi_temp_path ${root}/temp/fastcgi;
  uwsgi_temp_path ${root}/temp/uwsgi;
  scgi_temp_path ${root}/temp/scgi;
  # Not in the seed: nginx refuses bodies over 1 MB by default; the tests upload 10 MB.
  client_max_body_size 64m;
${block}
}
`;
  const proc = await launch('nginx', (f) => ['-p', root, '-c', f, '-g', 'daemon off;'], join(root, 'nginx.conf'), conf, port, join(root, 'logs', 'error.log'), {}, o.ownSession);
  return { kind: 'nginx', port, url: `http://127.0.0.1:${port}`, root, errorLog: join(root, 'logs', 'error.log'), accessLog: join(root, 'logs', 'access.log'), stop: stopper(proc, root) };
}

const APACHE_MODULES = ['mpm_event', 'authz_core', 'authz_host', 'mime', 'alias', 'dir', 'proxy', 'proxy_http', 'proxy_uwsgi'];

export async function startApache(o: FrontOptions): Promise<Front> {
  const root = makeRoot('usher-apache-');
  mkdirSync(join(root, 'logs'));
  const port = await freePort();
  const block = o.serverBlock.replaceAll('{{PORT}}', String(port)).replaceAll('{{ROOT}}', root);
  const conf = `# usher test front: a self-contained Apache (no Debian envvars, everything under ROOT).
ServerRoot ${root}
${APACHE_MODULES.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`).join('\n')}
Listen 127.0.0.1:${port}
ServerName 127.0.0.1
User ${o.user ?? 'www-data'}
Group ${o.group ?? 'root'}
PidFile ${root}/apache.pid
Mutex file:${root} default
DefaultRuntimeDir ${root}
ErrorLog ${root}/logs/error.log
LogLevel warn
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\"" combined
CustomLog ${root}/logs/access.log common
TypesConfig /etc/mime.types
<Directory />
  AllowOverride None
  Require all denied
</Directory>
${block}
`;
  const proc = await launch('apache2', (f) => ['-d', root, '-f', f, '-DFOREGROUND'], join(root, 'apache2.conf'), conf, port, join(root, 'logs', 'error.log'), { APACHE_LOG_DIR: join(root, 'logs') });
  return { kind: 'apache', port, url: `http://127.0.0.1:${port}`, root, errorLog: join(root, 'logs', 'error.log'), accessLog: join(root, 'logs', 'access.log'), stop: stopper(proc, root) };
}

// The seed's site configs, verbatim but for: listen port, paths, and log locations.

export function seedNginxHttp(o: { upstream: string; staticDir: string }): string {
  return `server {
    listen 127.0.0.1:{{PORT}};
    server_name guestbook.local;

    location / {
        proxy_pass http://${o.upstream};
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
    }

    location /static/ {
        alias ${o.staticDir.replace(/\/?$/, '/')};
    }

    error_log {{ROOT}}/logs/guestbook_error.log;
    access_log {{ROOT}}/logs/guestbook_access.log;
}`;
}

export function seedNginxSocket(o: { socketPath: string; staticDir: string }): string {
  return `server {
    listen 127.0.0.1:{{PORT}};
    server_name guestbook.local;

    location / {
        include uwsgi_params;
        uwsgi_pass unix:${o.socketPath};
    }

    location /static/ {
        alias ${o.staticDir.replace(/\/?$/, '/')};
    }

    error_log {{ROOT}}/logs/guestbook_error.log;
    access_log {{ROOT}}/logs/guestbook_access.log;
}`;
}

/** The seed never serves /static/ through its Alias: mod_proxy maps `/` first. `ProxyPass /static/ !` fixes it. */
const STATIC_FIX = `    # Not in the seed: without this, mod_proxy maps /static/ to the app before the Alias applies.
    ProxyPass /static/ !`;

export function seedApacheHttp(o: { upstream: string; staticDir: string }): string {
  const dir = o.staticDir.replace(/\/$/, '');
  return `<VirtualHost 127.0.0.1:{{PORT}}>
    ServerName guestbook.local
    ServerAdmin webmaster@localhost

${STATIC_FIX}
    # Proxy inverso hacia uWSGI (modo HTTP)
    ProxyPass / http://${o.upstream}/
    ProxyPassReverse / http://${o.upstream}/

    # Archivos estáticos (CSS, JS, imágenes)
    Alias /static/ ${dir}/
    <Directory ${dir}>
        Require all granted
    </Directory>

    ErrorLog {{ROOT}}/logs/guestbook_error.log
    CustomLog {{ROOT}}/logs/guestbook_access.log combined
</VirtualHost>`;
}

export function seedApacheSocket(o: { socketPath: string; staticDir: string }): string {
  const dir = o.staticDir.replace(/\/$/, '');
  return `<VirtualHost 127.0.0.1:{{PORT}}>
    ServerName guestbook.local
    ServerAdmin webmaster@localhost

${STATIC_FIX}
    # Proxy inverso usando el socket Unix de uWSGI
    ProxyPassMatch ^/(.*)$ unix:${o.socketPath}|uwsgi://localhost/

    # Archivos estáticos
    Alias /static/ ${dir}/
    <Directory ${dir}>
        Require all granted
    </Directory>

    ErrorLog {{ROOT}}/logs/guestbook_error.log
    CustomLog {{ROOT}}/logs/guestbook_access.log combined
</VirtualHost>`;
}
