/**
 * deploy/cli: `usher deploy systemd|nginx|apache --ini FILE [--user U] [--group G] [--server-name N]
 * [--static DIR]` prints a deployment file derived from the ini (its sockets, chdir, static-map).
 * `usher deploy nginx|haproxy --upstream HOST:PORT,...` prints a balanced front for N usher hosts.
 * It only prints: installing is the user's step (cp, systemctl), never this command's.
 */
import { resolve } from 'node:path';
import { loadConfig } from '../config/index.js';
import { renderSystemdSocket, renderSystemdUnit } from './systemd.js';
import { renderApacheSite, renderNginxSite, type SiteOptions } from './sites.js';
import { BALANCER_DEFAULTS, parseUpstreams, renderNginxBalancer, type BalancerOptions } from './balance.js';
import { renderHaproxyConfig } from './haproxy.js';

const USAGE = 'usage: usher deploy systemd|nginx|apache --ini FILE [--user www-data] [--group www-data] [--server-name NAME] [--static DIR] [--usher /usr/bin/usher] [--socket-unit (systemd: also a matching .socket unit)]\n'
  + '       usher deploy nginx|haproxy --upstream HOST:PORT[,HOST:PORT...] [--listen 80] [--server-name NAME] [--name app] [--check-path /]\n'
  + '             [--connect-timeout 2] [--read-timeout 30] [--tries 3] [--max-fails 1] [--fail-timeout 10] [--keepalive 32]\n';

/** The numeric flags of a balancer, each with its field and allowed range. */
const BALANCER_NUMBERS: readonly { flag: string; field: keyof BalancerOptions; min: number; max: number }[] = [
  { flag: '--connect-timeout', field: 'connectTimeoutS', min: 1, max: 3600 },
  { flag: '--read-timeout', field: 'readTimeoutS', min: 1, max: 86400 },
  { flag: '--tries', field: 'tries', min: 1, max: 16 },
  { flag: '--max-fails', field: 'maxFails', min: 0, max: 100 },
  { flag: '--fail-timeout', field: 'failTimeoutS', min: 1, max: 86400 },
  { flag: '--keepalive', field: 'keepalive', min: 1, max: 10000 },
];

function runBalancer(what: 'nginx' | 'haproxy', argv: string[], upstreamList: string, out: (s: string) => void): number {
  const fail = (msg: string): number => { process.stderr.write(`usher deploy ${what}: ${msg}\n`); return 2; };
  const parsed = parseUpstreams(upstreamList);
  if ('error' in parsed) return fail(parsed.error);
  const o: Record<string, unknown> = { ...BALANCER_DEFAULTS, upstreams: parsed.upstreams };
  for (const n of BALANCER_NUMBERS) {
    const v = take(argv, n.flag);
    if (v === undefined) continue;
    if (!/^\d+$/.test(v) || Number(v) < n.min || Number(v) > n.max) return fail(`${n.flag} ${JSON.stringify(v)}: a whole number from ${n.min} to ${n.max}`);
    o[n.field] = Number(v);
  }
  for (const [flag, field] of [['--listen', 'listen'], ['--server-name', 'serverName'], ['--name', 'name'], ['--check-path', 'checkPath']] as const) {
    const v = take(argv, flag);
    if (v !== undefined) o[field] = v;
  }
  if (!/^[A-Za-z0-9_]+$/.test(String(o.name))) return fail(`--name ${JSON.stringify(o.name)}: letters, digits and _ only`);
  if (!/^\/\S*$/.test(String(o.checkPath))) return fail(`--check-path ${JSON.stringify(o.checkPath)}: a path starting with /`);
  if (!/^(\d+|[\w.-]+:\d+|\[[0-9a-fA-F:]+\]:\d+)$/.test(String(o.listen))) return fail(`--listen ${JSON.stringify(o.listen)}: PORT or HOST:PORT`);
  if (argv.length > 0) return fail(`unexpected ${JSON.stringify(argv[0])}\n${USAGE}`);
  const opts = o as unknown as BalancerOptions;
  out(what === 'nginx' ? renderNginxBalancer(opts) : renderHaproxyConfig(opts));
  return 0;
}

function take(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
}

export function runDeploy(args: readonly string[], out: (s: string) => void): number {
  const argv = [...args];
  const what = argv.shift();
  const upstreamList = take(argv, '--upstream');
  if (upstreamList !== undefined && (what === 'nginx' || what === 'haproxy')) return runBalancer(what, argv, upstreamList, out);
  if (what === 'haproxy') {
    process.stderr.write(`usher deploy haproxy: --upstream HOST:PORT[,...] is needed (the usher hosts to balance)\n${USAGE}`);
    return 2;
  }
  if (what !== 'systemd' && what !== 'nginx' && what !== 'apache') {
    process.stderr.write(USAGE);
    return 2;
  }
  const user = take(argv, '--user') ?? 'www-data';
  const group = take(argv, '--group') ?? user;
  const serverName = take(argv, '--server-name') ?? 'localhost';
  const staticDir = take(argv, '--static');
  const usherBin = take(argv, '--usher') ?? '/usr/bin/usher';
  const socketUnit = argv.includes('--socket-unit');
  if (socketUnit) argv.splice(argv.indexOf('--socket-unit'), 1);
  const { loaded } = loadConfig(argv);
  if (loaded === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  const c = loaded.config;
  const name = c.iniFile ? c.iniFile.replace(/^.*\//, '').replace(/\.ini$/, '') : 'usher';
  if (what === 'systemd') {
    const socketDir = c.socket.find((s) => s.startsWith('/run/'))?.split('/')[2];
    if (socketUnit) out(`# ${name}.service\n`);
    out(renderSystemdUnit({
      description: `usher: ${name}`,
      user,
      group,
      workingDirectory: c.chdir ?? (c.iniFile ? resolve(c.iniFile, '..') : process.cwd()),
      execStart: `${usherBin} --ini ${c.iniFile ?? 'uwsgi.ini'}`,
      runtimeDirectory: socketDir,
      stopTimeoutSec: c.reloadMercy + 10,
      socketUnit: socketUnit ? `${name}.socket` : undefined,
    }));
    if (socketUnit) {
      out(`\n# ${name}.socket\n`);
      out(renderSystemdSocket({ description: `usher: ${name}`, listen: [...c.socket, ...c.http, ...c.httpSocket], user, group, mode: c.chmodSocket, backlog: c.listen }));
    }
    return 0;
  }
  const socketPath = c.socket.find((s) => s.startsWith('/'));
  const mode: SiteOptions['mode'] = socketPath !== undefined ? 'socket' : 'http';
  const upstream = (c.http[0] ?? c.httpSocket[0])?.replace(/^:/, '127.0.0.1:');
  const site: SiteOptions = { mode, name, serverName, upstream, socketPath, staticDir, logDir: what === 'nginx' ? '/var/log/nginx' : '${APACHE_LOG_DIR}' };
  out(what === 'nginx' ? renderNginxSite(site) : renderApacheSite(site));
  return 0;
}
