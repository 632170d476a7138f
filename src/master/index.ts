/**
 * master: turns a resolved config into a running usher: applies chdir/env, checks the app exists,
 * binds every socket (plus a private one between the HTTP router and the workers), writes the
 * pidfile, hands everything to the arbiter, and cleans up (vacuum) when it returns.
 * Must not: parse config files, or talk to clients.
 */
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { UsherConfig } from '../config/types.js';
import { AppLoadError, ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { startLogging, type MasterLogs } from '../logging/writer.js';
import { accessLogSpec } from '../logging/spec.js';
import { compileAccessLog } from '../logging/format.js';
import { Arbiter } from './arbiter.js';
import { bindSocket, describeSocket, type BoundSocket, type SocketKind } from './sockets.js';
import { removePidfile, writePidfile } from './pidfile.js';
import { resolveInterpreter, type AppRuntime } from './spawn.js';
import { Monitor } from './monitor.js';
import { Triggers } from './triggers.js';

/** What runs beside the arbiter in the master: the once-a-second monitor and the reload triggers. */
function startMasterExtras(arbiter: Arbiter, config: UsherConfig, log: Logger): { stop(): void } {
  const parts: { start(): void; stop(): void }[] = [];
  if (Monitor.wanted(config)) parts.push(new Monitor(arbiter, config, log));
  if (Triggers.wanted(config)) {
    parts.push(new Triggers(config, {
      reload: (reason) => { log.info('reload requested', { reason }); arbiter.enqueue('SIGHUP'); },
      chainReload: (reason) => { log.info('chain reload requested', { reason }); arbiter.chainReload(); },
    }, log));
  }
  for (const p of parts) p.start();
  return { stop: () => { for (const p of parts) p.stop(); } };
}

function applyEnv(entries: readonly string[]): void {
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue; // validated by config
    process.env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
}

function where(config: UsherConfig, option: string): { file?: string; line?: number; option: string } {
  const src = config.sources[option];
  return { file: src?.file, line: src?.line, option };
}

function chooseRuntime(config: UsherConfig, log: Logger): { runtime: AppRuntime; app: string | null; wsgiFile: string | null } {
  if (config.app !== undefined) {
    const app = resolve(config.app);
    if (!existsSync(app)) throw new AppLoadError(`app file not found: ${app} (\`app\`${config.sources.app?.file ? ` in ${config.sources.app.file}:${config.sources.app.line}` : ''}; relative paths resolve against \`chdir\`)`);
    if (config.threads > 1) log.info('threads applies to Python workers; a Node worker serves many requests at once on its event loop', { threads: config.threads });
    if (config.postBuffering > 0) log.info('post-buffering applies to Python workers; a Node app reads the body as a stream', { 'post-buffering': config.postBuffering });
    if (config.harakiri > 0) log.warn('harakiri applies to Python workers; a Node worker is watched by its heartbeat instead (a blocked event loop is killed after 60 s)', { harakiri: config.harakiri });
    return { runtime: { kind: 'node' }, app, wsgiFile: null };
  }
  const interpreter = resolveInterpreter(config.python, config.home);
  let wsgiFile: string | null = null;
  if (config.wsgiFile !== undefined) {
    wsgiFile = resolve(config.wsgiFile);
    if (!existsSync(wsgiFile)) throw new AppLoadError(`wsgi-file not found: ${wsgiFile} (relative paths resolve against \`chdir\`)`);
  }
  if (config.httpSocket.length > 0) {
    throw new ConfigError('USHER_ERR_CONFIG_CONFLICT', 'http-socket is not available for Python apps yet: use `http` (usher\'s HTTP router in front of the workers) or `socket` (uwsgi protocol, for Nginx/Apache)', where(config, 'http-socket'));
  }
  if (config.http.length > 0 && config.httpRouter === false) {
    throw new ConfigError('USHER_ERR_CONFIG_CONFLICT', 'Python workers speak the uwsgi protocol only: `http` needs the HTTP router for them; remove `http-router = false`', where(config, 'http-router'));
  }
  return { runtime: { kind: 'python', interpreter }, app: null, wsgiFile };
}

export async function runMaster(config: UsherConfig, log: Logger): Promise<number> {
  // Children write to a pipe the master reads: the master is the only writer of every log file.
  const logs: MasterLogs = startLogging(config);
  // The format is compiled here too, once, so an unknown variable warns once, not once per worker.
  for (const w of compileAccessLog(accessLogSpec(config), 'master').warnings) log.warn(w);
  try {
    return await runWithLogs(config, log, logs);
  } finally {
    logs.close();
  }
}

async function runWithLogs(config: UsherConfig, log: Logger, logs: MasterLogs): Promise<number> {
  const logFd = logs.childFd;
  applyEnv(config.env);
  if (config.chdir !== undefined) {
    try {
      process.chdir(config.chdir);
    } catch {
      throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `chdir: cannot enter ${config.chdir}: no such folder, or not allowed`, where(config, 'chdir'));
    }
  }
  if (!config.master) log.info('usher always runs a master process; `master = false` changes nothing');
  const { runtime, app, wsgiFile } = chooseRuntime(config, log);

  const bound: BoundSocket[] = [];
  let privateDir: string | undefined;
  const cleanup = (): void => {
    for (const s of bound) s.close();
    if (config.vacuum) {
      for (const s of bound) if (s.path !== undefined && !s.path.startsWith(privateDir ?? '\0')) try { unlinkSync(s.path); } catch { /* gone */ }
      if (config.pidfile !== undefined) removePidfile(config.pidfile);
    }
    if (privateDir !== undefined) rmSync(privateDir, { recursive: true, force: true });
  };
  try {
    // Node workers speak HTTP themselves for `http =` too (unless `http-router` says otherwise): their
    // event loop already does what uWSGI's router is for (keep-alive, slow clients), and the hop
    // costs (measured: ~23k req/s through one router vs ~100k direct). Python workers are blocking
    // thread pools: they sit behind usher's HTTP router, as behind uWSGI's.
    const useRouter = config.httpRouter ?? runtime.kind === 'python';
    const wanted: { option: string; kind: SocketKind; spec: string; mode: number | undefined }[] = [
      ...config.httpSocket.map((spec) => ({ option: 'http-socket', kind: 'http' as const, spec, mode: config.chmodSocket })),
      ...config.socket.map((spec) => ({ option: 'socket', kind: 'uwsgi' as const, spec, mode: config.chmodSocket })),
      ...config.http.map((spec) => ({ option: 'http', kind: useRouter ? 'router' as const : 'http' as const, spec, mode: undefined })),
    ];
    for (const w of wanted) {
      const s = await bindSocket(w.kind, w.spec, w.mode);
      bound.push(s);
      log.info('bound', { [w.option]: describeSocket(s), fd: s.fd });
    }
    let upstream: string | undefined;
    if (bound.some((s) => s.kind === 'router')) {
      privateDir = mkdtempSync(join(tmpdir(), 'usher-'));
      upstream = join(privateDir, 'workers.sock');
      bound.push(await bindSocket('uwsgi', upstream, 0o600));
    }
    if (config.pidfile !== undefined) writePidfile(resolve(config.pidfile));

    const workerSockets = bound.filter((s) => s.kind !== 'router');
    const routerSockets = bound.filter((s) => s.kind === 'router');
    const arbiter = new Arbiter({
      processes: config.processes,
      initialWorkers: config.cheaper > 0 ? (config.cheaperInitial || config.cheaper) : config.processes,
      maxRequestsDelta: config.maxRequestsDelta,
      heartbeatMaxMs: config.cheaper > 0 ? 1000 : undefined,
      routers: routerSockets.length > 0 ? config.httpProcesses : 0,
      runtime,
      worker: {
        kinds: workerSockets.map((s) => (s.kind === 'http' ? 'http' : 'uwsgi')),
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
        chdir: config.chdir !== undefined ? process.cwd() : null,
        app,
        wsgiFile,
        module: config.module ?? null,
        callable: config.callable,
        pythonpath: config.pythonpath.map((p) => resolve(p)),
      },
      workerFds: workerSockets.map((s) => s.fd),
      router: upstream !== undefined ? { listen: config.listen, upstream, bufferSize: config.bufferSize, disableLogging: config.disableLogging } : undefined,
      routerFds: routerSockets.map((s) => s.fd),
      reloadMercyMs: config.reloadMercy * 1000,
      heartbeatTimeoutMs: config.heartbeatTimeout * 1000,
      logFd,
    }, log, () => {
      const urls = bound.filter((s) => s.kind === 'router' || s.kind === 'http').map((s) => `http://${describeSocket(s).replace(/^:/, '127.0.0.1:')}/`);
      log.info('ready', { pid: process.pid, workers: config.processes, app: app ?? wsgiFile ?? config.module, url: urls[0] });
    });
    const extras = startMasterExtras(arbiter, config, log);
    try {
      return await arbiter.run();
    } finally {
      extras.stop();
    }
  } finally {
    cleanup();
  }
}
