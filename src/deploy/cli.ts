/**
 * deploy/cli: `usher deploy systemd|nginx|apache --ini FILE [--user U] [--group G] [--server-name N]
 * [--static DIR]` prints a deployment file derived from the ini (its sockets, chdir, static-map).
 * It only prints: installing is the user's step (cp, systemctl), never this command's.
 */
import { resolve } from 'node:path';
import { loadConfig } from '../config/index.js';
import { renderSystemdSocket, renderSystemdUnit } from './systemd.js';
import { renderApacheSite, renderNginxSite, type SiteOptions } from './sites.js';

const USAGE = 'usage: usher deploy systemd|nginx|apache --ini FILE [--user www-data] [--group www-data] [--server-name NAME] [--static DIR] [--usher /usr/bin/usher] [--socket-unit (systemd: also a matching .socket unit)]\n';

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
