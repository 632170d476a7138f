/**
 * stats: `stats = ADDR` in the master: the collector (figures), and the server (uWSGI's JSON, with
 * `stats-http` also the dashboard and Prometheus' /metrics). Started after the arbiter exists and
 * before it spawns anyone, so every spawn is counted; stopped in the master's cleanup.
 * Must not: be started when `stats` is unset (no subscriber, no timer: zero cost).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { UsherConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { describeSocket, parseAddress, type BoundSocket } from '../master/sockets.js';
import type { StatsSource } from './collector.js';

/** How often children beat when stats are on: counters and `busy` at most this old. */
export const STATS_HEARTBEAT_MS = 1000;

function usherVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

/** Start stats if configured; returns the function that stops them (a no-op when off). */
export async function startStats(config: UsherConfig, source: StatsSource, bound: readonly BoundSocket[], log: Logger): Promise<() => void> {
  if (config.stats === undefined) {
    const orphan = config.statsHttp ? 'stats-http' : config.statsMinified ? 'stats-minified' : undefined;
    if (orphan !== undefined) log.warn(`${orphan} does nothing without \`stats = ADDR\`; add one (e.g. stats = 127.0.0.1:9191)`, { option: orphan });
    return () => undefined;
  }
  const addr = parseAddress(config.stats);
  if (addr.path === undefined && (addr.host === undefined || addr.host === '0.0.0.0' || addr.host === '::' || addr.host === '[::]')) {
    log.warn('stats listen on every interface: anyone who can reach this port sees pids, paths, sockets and traffic; bind 127.0.0.1 or a unix socket', { stats: config.stats });
  }
  const sockets = bound.map((s) => ({ name: describeSocket(s), proto: s.kind === 'uwsgi' ? 'uwsgi' as const : 'http' as const, fd: s.fd, unix: s.path !== undefined }));
  // The collector, the servers and the dashboard page load only when stats are on: a master without
  // `stats` neither parses nor keeps them (less heap in the master).
  const [{ StatsCollector }, { startStatsServer }] = await Promise.all([import('./collector.js'), import('./server.js')]);
  const collector = new StatsCollector(source, sockets, config.processes, config.listen, log);
  await collector.start();
  let server;
  try {
    server = await startStatsServer({ address: config.stats, http: config.statsHttp, minified: config.statsMinified, collector, version: usherVersion(), log });
  } catch (err) {
    collector.stop();
    throw err;
  }
  log.info('stats listening', { address: server.where, http: config.statsHttp, dashboard: config.statsHttp && addr.path === undefined ? `http://${server.where.replace(/^\[::\]|^0\.0\.0\.0/, '127.0.0.1')}/` : undefined });
  const srv = server;
  return () => {
    srv.close();
    collector.stop();
  };
}
