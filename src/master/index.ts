/**
 * master: turns a resolved config into a running usher, in uWSGI's order: checks everything that can
 * be checked (privileges, socket paths, fifos) before creating anything, daemonizes if asked, binds
 * every socket (or adopts systemd's) plus a private one between the HTTP router and the workers, puts
 * them in the listening state, chowns them, writes the pidfile, creates the master fifos, drops root,
 * hands everything to the arbiter, and cleans up when it returns. A failed start removes whatever it
 * created, vacuum or not.
 * Must not: parse config files, or talk to clients.
 */
import type { ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { UsherConfig } from '../config/types.js';
import { AppLoadError, ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { startLogging, type MasterLogs } from '../logging/writer.js';
import type { LogPipe } from '../logging/pipe.js';
import { accessLogSpec } from '../logging/spec.js';
import { Arbiter } from './arbiter.js';
import { adoptSocket, bindSocket, checkUnixPath, describeSocket, findPassed, type BoundSocket, type SocketKind } from './sockets.js';
import { removePidfile, writePidfile } from './pidfile.js';
import { envPairs, resolveInterpreter, type AppRuntime } from './spawn.js';
import { somaxconn } from './listen.js';
import type { PrivilegePlan } from './privileges.js';
import type { MasterControl, MasterFifo } from './fifo.js';
import { configureTitles, setMasterTitle } from './proctitle.js';
import { buildArbiter, startMasterExtras } from './build.js';
import { startStats } from '../stats/index.js';

// What only some configs use is imported where it is used, and only when its option (or systemd's
// variables, or root) asks for it: a plain app's master neither parses nor keeps that code (a smaller
// heap for the master's whole life, and a shorter start). A bad value still stops usher at the same
// point, since each module is loaded before the step that checks it.
type Privileges = typeof import('./privileges.js');
type Systemd = typeof import('./systemd.js');
type Fifos = typeof import('./fifo.js');
const NO_PRIVILEGES: PrivilegePlan = { drop: undefined, socketOwner: undefined, umask: undefined };
const SYSTEMD_VARIABLES = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET'];

function applyEnv(entries: readonly string[]): void {
  for (const [k, v] of envPairs(entries)) process.env[k] = v;
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
    if (config.limitAs > 0) log.warn('limit-as applies to Python workers: a Node worker reserves gigabytes of address space at start and would not run under it; ignored here, use reload-on-rss', { 'limit-as': config.limitAs });
    if (config.harakiriGracefulTimeout > 0) log.info('harakiri-graceful-timeout applies to Python workers: a Node worker cuts only the late request', { 'harakiri-graceful-timeout': config.harakiriGracefulTimeout });
    if (config.postBuffering > 0) log.info('post-buffering applies to Python workers; a Node app reads the body as a stream', { 'post-buffering': config.postBuffering });
    if (config.harakiri > 0) log.info('harakiri: a Node worker cuts a late request (504) and serves on; a blocked event loop is aborted after heartbeat-timeout', { harakiri: config.harakiri, 'heartbeat-timeout': config.heartbeatTimeout });
    return { runtime: { kind: 'node' }, app, wsgiFile: null };
  }
  const interpreter = resolveInterpreter(config.python, config.home);
  let wsgiFile: string | null = null;
  if (config.wsgiFile !== undefined) {
    wsgiFile = resolve(config.wsgiFile);
    if (!existsSync(wsgiFile)) throw new AppLoadError(`wsgi-file not found: ${wsgiFile} (relative paths resolve against \`chdir\`)`);
  }
  if (config.http.length + config.httpSocket.length > 0 && config.httpRouter === false) {
    const option = config.http.length > 0 ? 'http' : 'http-socket';
    throw new ConfigError('USHER_ERR_CONFIG_CONFLICT', `Python workers speak the uwsgi protocol only: \`${option}\` needs the HTTP router for them; remove \`http-router = false\``, where(config, 'http-router'));
  }
  return { runtime: { kind: 'python', interpreter }, app: null, wsgiFile };
}

interface Wanted { readonly option: string; readonly kind: SocketKind; readonly spec: string }

function wantedSockets(config: UsherConfig, runtime: AppRuntime): Wanted[] {
  // Node workers speak HTTP themselves for `http =` too (unless `http-router` says otherwise): their
  // event loop already does what uWSGI's router is for (keep-alive, slow clients), and the hop
  // costs (measured: ~23k req/s through one router vs ~100k direct). Python workers are blocking
  // thread pools: they sit behind usher's HTTP router, as behind uWSGI's.
  const useRouter = config.httpRouter ?? runtime.kind === 'python';
  // `http-socket` for a Python app: uWSGI's workers parse HTTP in C; usher's Python workers would have
  // to parse it in Python under the GIL, so the router (llhttp, keep-alive) takes that address too.
  const httpSocketKind = runtime.kind === 'python' ? 'router' as const : 'http' as const;
  return [
    ...config.httpSocket.map((spec) => ({ option: 'http-socket', kind: httpSocketKind, spec })),
    ...config.socket.map((spec) => ({ option: 'socket', kind: config.protocol === 'http' ? httpSocketKind : 'uwsgi' as const, spec })),
    ...config.http.map((spec) => ({ option: 'http', kind: useRouter ? 'router' as const : 'http' as const, spec })),
  ];
}

/** What a start created, so a failed start can remove it all and a normal exit can vacuum. */
class Created {
  readonly bound: BoundSocket[] = [];
  privateDir: string | undefined;
  pidfile: string | undefined;
  fifo: MasterFifo | undefined;

  /** `all`: a failed start removes everything; a normal exit removes socket files and pidfile under vacuum. */
  remove(all: boolean): void {
    for (const s of this.bound) s.close();
    if (all) {
      for (const s of this.bound) {
        if (s.path !== undefined && !s.activated && (this.privateDir === undefined || !s.path.startsWith(this.privateDir))) try { unlinkSync(s.path); } catch { /* gone */ }
      }
      if (this.pidfile !== undefined) removePidfile(this.pidfile);
    }
    this.fifo?.close();
    if (this.privateDir !== undefined) rmSync(this.privateDir, { recursive: true, force: true });
  }
}

async function bindAll(config: UsherConfig, wanted: readonly Wanted[], created: Created, plan: PrivilegePlan, systemd: Systemd | undefined, log: Logger): Promise<void> {
  const passed = systemd?.passedSockets(log) ?? [];
  for (const w of wanted) {
    const p = findPassed(w.spec, passed);
    const s = p !== undefined ? adoptSocket(w.kind, w.spec, p) : await bindSocket(w.kind, w.spec, config.chmodSocket, config.listen);
    created.bound.push(s);
    if (s.path !== undefined && !s.activated && plan.socketOwner !== undefined) chownSync(s.path, plan.socketOwner.uid, plan.socketOwner.gid);
    log.info(s.activated ? 'using the socket systemd passed' : 'bound', { [w.option]: describeSocket(s), fd: s.fd, name: p?.name });
  }
  for (const p of passed) {
    if (!created.bound.some((s) => s.fd === p.fd)) log.warn('systemd passed a socket the config does not name; ignored (add it as `socket`, `http` or `http-socket`)', { fd: p.fd, address: p.path ?? `${p.host}:${p.port}`, name: p.name });
  }
  if (created.bound.some((s) => s.kind === 'router')) {
    created.privateDir = mkdtempSync(join(tmpdir(), 'usher-'));
    const upstream = join(created.privateDir, 'workers.sock');
    created.bound.push(await bindSocket('uwsgi', upstream, 0o600, config.listen));
    // The router and the workers run as the dropped user: the private socket must be theirs.
    if (plan.drop !== undefined) for (const p of [created.privateDir, upstream]) chownSync(p, plan.drop.uid, plan.drop.gid);
  }
  const max = somaxconn();
  if (max !== undefined && config.listen > max) log.warn('listen is larger than net.core.somaxconn: the kernel caps the backlog there; raise it with sysctl', { listen: config.listen, somaxconn: max });
}

/** After dropping root, say which files vacuum will not be able to remove (their folder is not ours). */
function checkVacuum(config: UsherConfig, created: Created, log: Logger): void {
  if (!config.vacuum) return;
  const files = [...created.bound.filter((s) => s.path !== undefined && !s.activated && s.path !== join(created.privateDir ?? '\0', 'workers.sock')).map((s) => ({ option: 'socket', path: s.path as string })),
    ...(created.pidfile !== undefined ? [{ option: 'pidfile', path: created.pidfile }] : [])];
  for (const f of files) {
    try {
      accessSync(dirname(f.path), constants.W_OK);
    } catch {
      log.warn(`vacuum: ${f.path} cannot be removed on exit: its folder is not writable by uid ${process.getuid?.()}; use a folder that user owns (systemd: RuntimeDirectory=)`, { option: f.option, folder: dirname(f.path) });
    }
  }
}

function control(arbiter: Arbiter, config: UsherConfig, log: Logger, logs: MasterLogs): MasterControl {
  const a = arbiter;
  const signal = (sig: 'SIGHUP' | 'SIGTERM' | 'SIGQUIT'): void => a.enqueue(sig);
  let logging = !config.disableLogging;
  return {
    reload: (reason) => { log.info('reload requested', { by: reason }); signal('SIGHUP'); },
    chainReload: (reason) => { log.info('chain reload requested', { by: reason }); a.chainReload(); },
    addWorker: () => { if (a.pool.grow(1) === 0) log.info('master-fifo +: already at processes', { processes: config.processes }); },
    removeWorker: () => { if (!a.pool.shrink(1)) log.info('master-fifo -: one worker left, or a reload is under way'); },
    stop: () => signal('SIGTERM'),
    stopNow: () => signal('SIGQUIT'),
    // logs.reopen also tells Node workers that write the log file themselves to reopen it (onReopen).
    reopenLogs: () => { logs.reopen('master-fifo'); log.info('logs reopened', { by: 'master-fifo' }); },
    setRequestLogging: (enabled) => { logging = enabled; a.broadcast({ type: 'logging', enabled }); log.info(`request logging ${enabled ? 'on' : 'off'}`); },
    requestLogging: () => logging,
  };
}

/** Checks that need nothing created: run in the launcher too, so `daemonize` fails where it is typed. */
function preflight(config: UsherConfig, plan: PrivilegePlan, fifo: Fifos | undefined, log: Logger): string[] {
  const fifos = fifo?.checkFifos(config) ?? [];
  for (const spec of config.socket) checkUnixPath('uwsgi', spec);
  for (const spec of config.httpSocket) checkUnixPath('http', spec);
  for (const spec of config.http) checkUnixPath('router', spec);
  // uWSGI warns as loudly when it keeps running as root: the app would run as root too.
  if (process.getuid?.() === 0 && plan.drop === undefined) {
    log.warn('*** running as root: the app and every request run as root; set `uid` and `gid` (usher drops to them once the sockets are bound) ***');
  }
  return fifos;
}

/**
 * `pipe`: the children's log pipe the CLI started making as soon as it read the config (logging/pipe.ts);
 * `early`: the Python fork-server it started then too (spawn.ts spawnEarlyForkServer).
 */
export async function runMaster(config: UsherConfig, log: Logger, pipe: Promise<LogPipe>, early?: ChildProcess): Promise<number> {
  configureTitles(config);
  // The daemon's log file (daemonize, or daemonize2: detached once the workers are ready).
  const daemonFile = config.daemonize ?? config.daemonize2;
  const daemonize = daemonFile !== undefined ? await import('./daemonize.js') : undefined;
  const daemon = daemonize?.isDaemon() ?? false;
  const launchCwd = process.cwd();
  const privileges = config.uid !== undefined || config.gid !== undefined || config.chownSocket !== undefined || config.umask !== undefined
    ? await import('./privileges.js') : undefined;
  const plan = privileges?.planPrivileges(config) ?? NO_PRIVILEGES;
  // uWSGI sets the umask first: the log file, sockets and pidfile are all created under it.
  if (plan.umask !== undefined && (daemon || daemonFile === undefined)) process.umask(plan.umask);
  // Children write to a pipe the master reads; Node workers may append to a plain logto file directly (writer.ts directFile).
  const logs = startLogging(config, config.logto ?? (daemon ? daemonFile : undefined), await pipe);
  // The format is compiled here too, once, so an unknown variable warns once, not once per worker
  // (only a log-format, log-encoder or log-date can warn: uWSGI's default line needs no compiling here).
  const spec = accessLogSpec(config);
  if (spec.format !== null || spec.encoder !== null || spec.strftime !== null) {
    const { compileAccessLog } = await import('../logging/format.js');
    for (const w of compileAccessLog(spec, 'master').warnings) log.warn(w);
  }
  try {
    return await runWithLogs(config, log, logs, { daemonFile, daemon, daemonize, launchCwd, plan, privileges, early });
  } finally {
    logs.close();
  }
}

interface Start {
  daemonFile: string | undefined;
  daemon: boolean;
  daemonize: typeof import('./daemonize.js') | undefined;
  launchCwd: string;
  plan: PrivilegePlan;
  privileges: Privileges | undefined;
  early: ChildProcess | undefined;
}

async function runWithLogs(config: UsherConfig, log: Logger, logs: MasterLogs, o: Start): Promise<number> {
  const { daemonFile, daemon, daemonize, launchCwd, plan, privileges, early } = o;
  const logFd = logs.childFd;
  applyEnv(config.env);
  if (config.chdir !== undefined) {
    try {
      process.chdir(config.chdir);
    } catch {
      throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `chdir: cannot enter ${config.chdir}: no such folder, or not allowed`, where(config, 'chdir'));
    }
  }
  // After chdir: relative socket and fifo paths resolve against it, as they will when bound.
  const fifo = config.masterFifo.length > 0 ? await import('./fifo.js') : undefined;
  const fifos = preflight(config, plan, fifo, log);
  if (daemonize !== undefined && daemonFile !== undefined && !daemon) return daemonize.launchDaemon(config, daemonFile, log, launchCwd);
  setMasterTitle();
  if (!config.master) log.info('usher always runs a master process; `master = false` changes nothing');
  const { runtime, app, wsgiFile } = chooseRuntime(config, log);

  const created = new Created();
  let arbiter: Arbiter;
  let stopStats = (): void => undefined;
  let systemd: Systemd | undefined;
  try {
    // After applyEnv: `env = NOTIFY_SOCKET=...` counts too.
    systemd = SYSTEMD_VARIABLES.some((k) => process.env[k] !== undefined) ? await import('./systemd.js') : undefined;
    await bindAll(config, wantedSockets(config, runtime), created, plan, systemd, log);
    if (config.pidfile !== undefined) {
      created.pidfile = resolve(config.pidfile);
      writePidfile(created.pidfile);
    }
    let ctl: MasterControl | undefined;
    if (fifo !== undefined && fifos.length > 0) created.fifo = fifo.MasterFifo.create(fifos, { reload: (r) => ctl?.reload(r), chainReload: (r) => ctl?.chainReload(r), addWorker: () => ctl?.addWorker(), removeWorker: () => ctl?.removeWorker(), stop: () => ctl?.stop(), stopNow: () => ctl?.stopNow(), reopenLogs: () => ctl?.reopenLogs(), setRequestLogging: (e) => ctl?.setRequestLogging(e), requestLogging: () => ctl?.requestLogging() ?? true }, log, plan.drop);
    if (plan.drop !== undefined) privileges?.dropPrivileges(plan.drop, log);
    checkVacuum(config, created, log);
    arbiter = buildArbiter(config, created, runtime, app, wsgiFile, logFd, log, daemon && config.daemonize2 !== undefined ? daemonize?.tellLauncherReady : undefined, logs.directFile, early);
    // Node workers that append to the log file themselves reopen it when the master does.
    const a = arbiter;
    logs.onReopen(() => a.broadcast({ type: 'reopen-logs' }));
    ctl = control(arbiter, config, log, logs);
    created.fifo?.open();
    stopStats = await startStats(config, arbiter, created.bound, log);
  } catch (err) {
    stopStats();
    created.remove(true);
    throw err;
  }
  const notifier = systemd?.systemdNotifier(log);
  const urls = created.bound.filter((s) => s.kind === 'router' || s.kind === 'http').map((s) => describeSocket(s));
  const stopNotify = systemd !== undefined && notifier !== undefined ? systemd.notifySystemd(notifier, () => `${config.processes} workers ready, serving ${urls.join(' ') || created.bound.map((s) => describeSocket(s)).join(' ')}`, log) : undefined;
  const extras = await startMasterExtras(arbiter, config, log, runtime, app ?? wsgiFile);
  try {
    return await arbiter.run();
  } finally {
    stopStats();
    extras.stop();
    stopNotify?.();
    created.remove(config.vacuum);
  }
}
