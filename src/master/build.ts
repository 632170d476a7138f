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
import type { ChildProcess } from 'node:child_process';
import { hasForkServer, type AppRuntime } from './spawn.js';
import { accessLogSpec } from '../logging/spec.js';
import { buildStaticSpec } from '../static/spec.js';

export interface BuiltSockets {
  readonly bound: readonly BoundSocket[];
  /** The private folder of the router -> workers socket, when there is a router. */
  readonly privateDir: string | undefined;
}

export function buildArbiter(config: UsherConfig, created: BuiltSockets, runtime: AppRuntime, app: string | null, wsgiFile: string | null,
  logFd: number | undefined, log: Logger, tellLauncher: (() => void) | undefined, directLog?: () => { fd: number; path: string } | null, earlyForkServer?: ChildProcess): Arbiter {
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
    forkServer: hasForkServer(config),
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
    workerHandles: workerSockets.map((s) => s.handle),
    earlyForkServer,
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
    tellLauncher?.();
  });
}

/** Whether anything needs the once-a-second monitor (recycling by age or memory, cheaper, idle). */
function monitorWanted(c: UsherConfig): boolean {
  return c.maxWorkerLifetime > 0 || c.reloadOnRss > 0 || c.reloadOnAs > 0 || c.evilReloadOnRss > 0 || c.evilReloadOnAs > 0 || c.cheaper > 0 || c.idle > 0;
}

function triggersWanted(c: UsherConfig): boolean {
  return c.touchReload.length + c.touchWorkersReload.length + c.touchChainReload.length + c.fsReload.length > 0;
}

/**
 * What runs beside the arbiter in the master: autoreload, the once-a-second monitor, the reload triggers.
 * Each is imported only when its options are set: a master without them neither parses nor keeps their
 * code (less heap in the master, a shorter start).
 */
export async function startMasterExtras(arbiter: Arbiter, config: UsherConfig, log: Logger, runtime: AppRuntime, appFile: string | null): Promise<{ stop(): void }> {
  const parts: { start(): void; stop(): void }[] = [];
  const reload = (reason: string): void => { log.info('reload requested', { reason }); arbiter.enqueue('SIGHUP'); };
  const python = runtime.kind === 'python';
  const [option, every] = python ? ['py-autoreload', config.pyAutoreload] as const : ['node-autoreload', config.nodeAutoreload] as const;
  if ((python ? config.nodeAutoreload : config.pyAutoreload) > 0) {
    log.info(`${python ? 'node-autoreload' : 'py-autoreload'} applies to ${python ? 'Node' : 'Python'} apps; use ${option}`);
  }
  const reloadWhenReady = (reason: string): boolean => {
    if (!arbiter.requestReload()) return false;
    log.info('reload requested', { reason });
    return true;
  };
  if (every > 0) {
    const { AutoReload, EXTENSIONS } = await import('./autoreload.js');
    parts.push(new AutoReload(option, AutoReload.roots(appFile, config.chdir, config.pythonpath), python ? EXTENSIONS.python : EXTENSIONS.node, every, reloadWhenReady, log));
  }
  if (monitorWanted(config)) {
    const { Monitor } = await import('./monitor.js');
    parts.push(new Monitor(arbiter, config, log));
  }
  if (triggersWanted(config)) {
    const { Triggers } = await import('./triggers.js');
    parts.push(new Triggers(config, {
      reload,
      chainReload: (reason) => { log.info('chain reload requested', { reason }); arbiter.chainReload(); },
    }, log));
  }
  for (const p of parts) p.start();
  return { stop: () => { for (const p of parts) p.stop(); } };
}
