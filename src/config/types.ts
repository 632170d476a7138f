/**
 * config/types: the resolved, frozen configuration every other module reads. Produced only by
 * config/resolve (from defaults < ini file < USHER_* env < CLI flags); nothing else builds one.
 */

/** Where an option's value came from, for --print-config and error messages. */
export interface OptionSource {
  readonly kind: 'default' | 'file' | 'env' | 'cli';
  readonly file?: string;
  readonly line?: number;
}

export interface UsherConfig {
  /** `http =`: addresses the HTTP router listens on (`127.0.0.1:8080`, `:8080`). Repeatable. */
  readonly http: readonly string[];
  /** `http-socket =`: addresses where workers speak HTTP themselves. Repeatable. */
  readonly httpSocket: readonly string[];
  /** `socket =` (alias `uwsgi-socket`): unix paths or host:port where workers speak the uwsgi protocol. */
  readonly socket: readonly string[];
  /** `protocol`: what `socket` addresses speak (`uwsgi` or `http`). */
  readonly protocol: string;
  /** `chmod-socket`: mode for unix sockets (bare key = 0o666); undefined = leave the umask's. */
  readonly chmodSocket: number | undefined;
  readonly chdir: string | undefined;
  /** `processes` / `workers`. */
  readonly processes: number;
  readonly threads: number;
  readonly master: boolean;
  readonly vacuum: boolean;
  /** Python: each worker loads the app itself instead of being forked from a fork-server that loaded it once. */
  readonly lazyApps: boolean;
  readonly pidfile: string | undefined;
  /** `env = KEY=VALUE`, repeatable, in file order. */
  readonly env: readonly string[];
  /** `listen`: the socket backlog. */
  readonly listen: number;
  /** `buffer-size`: the largest uwsgi vars block (and HTTP header block) accepted, in bytes. */
  readonly bufferSize: number;
  /** `app`: a Node module exporting a (req, res) listener or a fetch-style handler. */
  readonly app: string | undefined;
  /** Python: `wsgi-file`, `module`, `callable`, `pythonpath`, `home`/`virtualenv`/`venv`, `python`. */
  readonly wsgiFile: string | undefined;
  readonly module: string | undefined;
  readonly callable: string;
  readonly pythonpath: readonly string[];
  readonly home: string | undefined;
  readonly python: string | undefined;
  /** `http-router`: put usher's HTTP router in front of the workers for `http =`; undefined = auto
   *  (on for Python apps, off for Node apps, whose workers speak HTTP themselves). */
  readonly httpRouter: boolean | undefined;
  /** `http-processes`: how many HTTP router processes serve `http =`. */
  readonly httpProcesses: number;
  /** `harakiri`: seconds a single request may take before its worker is killed and replaced (0 = off). */
  readonly harakiri: number;
  /** `http-timeout`: seconds the HTTP router waits on an idle client or a silent worker. */
  readonly httpTimeout: number;
  /** `socket-timeout`: seconds a worker waits on a uwsgi peer mid-request before closing it. */
  readonly socketTimeout: number;
  /** `post-buffering`: bytes of body a Python worker reads before the app runs (0 = stream). */
  readonly postBuffering: number;
  /** `max-requests`: recycle a worker after this many requests (0 = never). */
  readonly maxRequests: number;
  /** `ready-path` (a health-check path, 200 serving / 503 draining) and `drain-time` (seconds SIGTERM drains first). */
  readonly readyPath: string | undefined;
  /** `limit-post`: the largest request body in bytes (0 = none). */
  readonly limitPost: number;
  /** `limit-as` (MiB), `harakiri-graceful-timeout` (s) and `harakiri-graceful-signal` (number): Python workers. */
  readonly limitAs: number;
  readonly harakiriGracefulTimeout: number;
  readonly harakiriGracefulSignal: number;
  readonly drainTime: number;
  /** `heartbeat-timeout`: seconds without a heartbeat before a child is aborted and replaced. */
  readonly heartbeatTimeout: number;
  /** Recycling and scaling: see the options table for each. Sizes in MiB, times in seconds. */
  readonly maxRequestsDelta: number;
  readonly minWorkerLifetime: number;
  readonly maxWorkerLifetime: number;
  readonly maxWorkerLifetimeDelta: number;
  readonly reloadOnRss: number;
  readonly reloadOnAs: number;
  readonly evilReloadOnRss: number;
  readonly evilReloadOnAs: number;
  /** `idle` (seconds without a request before the workers stop; 0 = off) and `die-on-idle`. */
  readonly idle: number;
  readonly dieOnIdle: boolean;
  /** `memory-report`: memory figures at the end of uWSGI's request line. */
  readonly memoryReport: boolean;
  readonly cheaper: number;
  readonly cheaperInitial: number;
  readonly cheaperStep: number;
  readonly cheaperOverload: number;
  readonly cheaperAlgo: string;
  /** Reload triggers: files whose touch reloads (gracefully, or a chain reload), or paths watched for changes. */
  readonly touchReload: readonly string[];
  readonly touchWorkersReload: readonly string[];
  readonly touchChainReload: readonly string[];
  readonly fsReload: readonly string[];
  /** `py-autoreload` / `node-autoreload`: seconds between scans of the app's sources (0 = off). */
  readonly pyAutoreload: number;
  readonly nodeAutoreload: number;
  /** `reload-mercy` / `worker-reload-mercy`: seconds a worker gets to finish in-flight work on stop or reload. */
  readonly reloadMercy: number;
  /** `uid`/`gid`: who the master (and so every child) runs as once the sockets are bound; names or numbers. */
  readonly uid: string | undefined;
  readonly gid: string | undefined;
  /** `chown-socket`: `user[:group]` owning unix sockets. */
  readonly chownSocket: string | undefined;
  /** `umask`: octal, as written. */
  readonly umask: string | undefined;
  /** `daemonize`/`daemonize2`: detach, logging to this file (2: once the workers are ready). */
  readonly daemonize: string | undefined;
  readonly daemonize2: string | undefined;
  /** `master-fifo`: fifos the master reads commands from (the first is active). */
  readonly masterFifo: readonly string[];
  /** `auto-procname`, `procname-prefix`, `procname-prefix-spaced`, `procname-master`: process titles. */
  readonly autoProcname: boolean;
  readonly procnamePrefix: string | undefined;
  readonly procnamePrefixSpaced: string | undefined;
  readonly procnameMaster: string | undefined;
  /** `logto`: a file to append logs to instead of stderr. */
  readonly logto: string | undefined;
  /** `disable-logging`: no per-request access lines. */
  readonly disableLogging: boolean;
  /** Access lines and log destinations (src/logging/): see the options table for each. */
  readonly logStyle: string;
  readonly logFormat: string | undefined;
  readonly logEncoder: string | undefined;
  readonly logDate: string | undefined;
  readonly logMicros: boolean;
  readonly log4xx: boolean;
  readonly log5xx: boolean;
  readonly logSlow: number;
  readonly logBig: number;
  readonly logZero: boolean;
  readonly logXForwardedFor: boolean;
  readonly logger: readonly string[];
  readonly reqLogger: readonly string[];
  readonly logReopen: boolean;
  /** `log-master`: every line goes through the master's pipe (no direct writes by workers). */
  readonly logMaster: boolean;
  readonly touchLogreopen: readonly string[];
  readonly logMaxsize: number;
  readonly logBackupname: string | undefined;
  /** `stats`: where to serve uWSGI-compatible stats (host:port or a unix socket path). */
  readonly stats: string | undefined;
  /** `stats-http`: the stats address speaks HTTP (JSON, dashboard, /metrics). */
  readonly statsHttp: boolean;
  /** `stats-minified`: stats JSON on one line. */
  readonly statsMinified: boolean;
  /** `strict`: unknown options are errors, not warnings. */
  readonly strict: boolean;
  /** Static files (src/static/spec.ts turns these into the children's StaticSpec). Lists keep file order. */
  readonly staticMap: readonly string[];
  readonly staticMap2: readonly string[];
  readonly checkStatic: readonly string[];
  readonly staticIndex: readonly string[];
  readonly staticSkipExt: readonly string[];
  readonly staticSafe: readonly string[];
  readonly staticGzipAll: boolean;
  readonly staticGzipDir: readonly string[];
  readonly mimefile: readonly string[];
  readonly staticExpiresType: readonly string[];
  readonly staticExpiresTypeMtime: readonly string[];
  readonly staticExpiresUri: readonly string[];
  readonly staticExpiresUriMtime: readonly string[];
  readonly staticExpires: readonly string[];
  readonly staticExpiresMtime: readonly string[];
  /** Where each option came from (keyed by canonical option name). */
  readonly sources: Readonly<Record<string, OptionSource>>;
  /** The ini file, when one was given (absolute). */
  readonly iniFile: string | undefined;
}

/** A message for the user found while reading the config (unknown key, unimplemented option, ...). */
export interface ConfigDiagnostic {
  readonly level: 'info' | 'warn';
  readonly code: string;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly option?: string;
}

export interface LoadedConfig {
  readonly config: UsherConfig;
  readonly diagnostics: readonly ConfigDiagnostic[];
}

/** What the CLI asked for besides running. */
export interface CliAction {
  readonly kind: 'run' | 'help' | 'version' | 'print-config';
}
