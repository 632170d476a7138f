/**
 * master/build: what the master hands the arbiter (the spawn plan built from the config and the bound
 * sockets) and what runs beside it (the once-a-second monitor, the reload triggers, autoreload).
 * Must not: bind, drop privileges or create files (master/index does, in uWSGI's order, before this).
 */
import { join, resolve } from 'node:path';
import type { UsherConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { Arbiter } from './arbiter.js';
import { describeSocket, type BoundSocket } from './sockets.js';
import type { AppRuntime } from './spawn.js';
import { tellLauncherReady } from './daemonize.js';
import { Monitor } from './monitor.js';
import { Triggers } from './triggers.js';
import { AutoReload, EXTENSIONS } from './autoreload.js';
import { accessLogSpec } from '../logging/spec.js';
import { buildStaticSpec } from '../static/spec.js';

export interface BuiltSockets {
  readonly bound: readonly BoundSocket[];
  /** The private folder of the router -> workers socket, when there is a router. */
  readonly privateDir: string | undefined;
}

export function buildArbiter(config: UsherConfig, created: BuiltSockets, runtime: AppRuntime, app: string | null, wsgiFile: string | null,
  logFd: number | undefined, log: Logger, tellLauncher: boolean, directLog?: () => { fd: number; path: string } | null): Arbiter {
  const bound = created.bound;
  const upstream = created.privateDir !== undefined ? join(created.privateDir, 'workers.sock') : undefined;
  const workerSockets = bound.filter((s) => s.kind !== 'router');
  const routerSockets = bound.filter((s) => s.kind === 'router');
  // Relative static roots resolve against `chdir`, where the master already is.
  const staticSpec = buildStaticSpec(config, { base: process.cwd() }) ?? null;
  const plan = {
    processes: config.processes,
    initialWorkers: config.cheaper > 0 ? (config.cheaperInitial || config.cheaper) : config.processes,
    maxRequestsDelta: config.maxRequestsDelta,
    lazyApps: config.lazyApps,
    heartbeatMaxMs: config.cheaper > 0 || config.idle > 0 || config.stats !== undefined ? 1000 : undefined,
    routers: routerSockets.length > 0 ? config.httpProcesses : 0,
    runtime,
    worker: {
      kinds: workerSockets.map((s) => (s.kind === 'http' ? 'http' as const : 'uwsgi' as const)),
      listen: config.listen,
      threads: config.threads,
      processes: config.processes,
      bufferSize: config.bufferSize,
      harakiri: config.harakiri,
      socketTimeout: config.socketTimeout,
      maxRequests: config.maxRequests,
      postBuffering: config.postBuffering,
      disableLogging: config.disableLogging,
      accessLog: accessLogSpec(config),
      static: staticSpec,
      readyPath: config.readyPath ?? null,
      limitPost: config.limitPost,
      limitAs: config.limitAs * 1024 * 1024,
      harakiriGracefulTimeout: config.harakiriGracefulTimeout,
      harakiriGracefulSignal: config.harakiriGracefulSignal,
      chdir: config.chdir !== undefined ? process.cwd() : null,
      app,
      wsgiFile,
      module: config.module ?? null,
      callable: config.callable,
      pythonpath: config.pythonpath.map((p) => resolve(p)),
    },
    workerFds: workerSockets.map((s) => s.fd),
    router: upstream !== undefined ? { listen: config.listen, upstream, bufferSize: config.bufferSize, disableLogging: config.disableLogging, httpTimeout: config.httpTimeout, static: staticSpec, readyPath: config.readyPath ?? null, limitPost: config.limitPost } : undefined,
    routerFds: routerSockets.map((s) => s.fd),
    reloadMercyMs: config.reloadMercy * 1000,
    drainMs: config.drainTime * 1000,
    heartbeatTimeoutMs: config.heartbeatTimeout * 1000,
    logFd,
    directLog,
  };
  return new Arbiter(plan, log, () => {
    const urls = bound.filter((s) => s.kind === 'router' || s.kind === 'http').map((s) => `http://${describeSocket(s).replace(/^:/, '127.0.0.1:')}/`);
    log.info('ready', { pid: process.pid, workers: plan.initialWorkers, app: app ?? wsgiFile ?? config.module, url: urls[0] });
    if (tellLauncher) tellLauncherReady();
  });
}

/** What runs beside the arbiter in the master: autoreload, the once-a-second monitor, the reload triggers. */
export function startMasterExtras(arbiter: Arbiter, config: UsherConfig, log: Logger, runtime: AppRuntime, appFile: string | null): { stop(): void } {
  const parts: { start(): void; stop(): void }[] = [];
  const reload = (reason: string): void => { log.info('reload requested', { reason }); arbiter.enqueue('SIGHUP'); };
  const python = runtime.kind === 'python';
  const [option, every, exts] = python ? ['py-autoreload', config.pyAutoreload, EXTENSIONS.python] as const : ['node-autoreload', config.nodeAutoreload, EXTENSIONS.node] as const;
  if ((python ? config.nodeAutoreload : config.pyAutoreload) > 0) {
    log.info(`${python ? 'node-autoreload' : 'py-autoreload'} applies to ${python ? 'Node' : 'Python'} apps; use ${option}`);
  }
  const reloadWhenReady = (reason: string): boolean => {
    if (!arbiter.requestReload()) return false;
    log.info('reload requested', { reason });
    return true;
  };
  if (every > 0) parts.push(new AutoReload(option, AutoReload.roots(appFile, config.chdir, config.pythonpath), exts, every, reloadWhenReady, log));
  if (Monitor.wanted(config)) parts.push(new Monitor(arbiter, config, log));
  if (Triggers.wanted(config)) {
    parts.push(new Triggers(config, {
      reload,
      chainReload: (reason) => { log.info('chain reload requested', { reason }); arbiter.chainReload(); },
    }, log));
  }
  for (const p of parts) p.start();
  return { stop: () => { for (const p of parts) p.stop(); } };
}
