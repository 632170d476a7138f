/**
 * config/options: the one table of truth for usher's options. Parsing (ini, env, CLI), validation,
 * `--help`, `--print-config` and the README's option list all derive from it.
 * `status` says what usher does with an option real uWSGI files carry:
 *   implemented   usher does it;
 *   accepted      it means nothing to usher (an info line says why), so existing files run as they are;
 *   unimplemented a uWSGI option usher knows of but does not do yet: a warning names it, never silence.
 * Must not: read files or the environment.
 */
import type { UsherConfig } from './types.js';

export type OptionType = 'string' | 'path' | 'int' | 'bool' | 'list' | 'mode' | 'address';

export interface OptionDef {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly type: OptionType;
  /** The UsherConfig field it fills (implemented options only). */
  readonly field?: keyof UsherConfig;
  readonly default?: string | number | boolean;
  readonly min?: number;
  readonly max?: number;
  /** Values above `max` are taken as `max` (with a warning), as uWSGI does, instead of refused. */
  readonly clamp?: boolean;
  readonly status: 'implemented' | 'accepted' | 'unimplemented';
  readonly help: string;
}

const impl = (d: Omit<OptionDef, 'status'>): OptionDef => ({ ...d, status: 'implemented' });
const accepted = (name: string, help: string, aliases?: string[]): OptionDef => ({ name, aliases, type: 'string', status: 'accepted', help });
const todo = (name: string, help: string, aliases?: string[]): OptionDef => ({ name, aliases, type: 'string', status: 'unimplemented', help });

const KNOWN: OptionDef[] = [
  // sockets
  impl({ name: 'http', type: 'list', field: 'http', help: 'Serve HTTP on this address (`127.0.0.1:8080`, `:8080`). Node workers speak HTTP themselves; Python workers sit behind usher\'s HTTP router. Repeatable.' }),
  impl({ name: 'http-socket', aliases: ['http11-socket'], type: 'list', field: 'httpSocket', help: 'HTTP on this address, spoken by the workers themselves (Node apps); for a Python app, usher\'s HTTP router takes the address (llhttp and keep-alive in Node rather than an HTTP parser in Python under the GIL). Repeatable.' }),
  impl({ name: 'socket', aliases: ['uwsgi-socket', 's'], type: 'list', field: 'socket', help: 'Speak the uwsgi protocol on this unix socket path or `host:port` (for Nginx `uwsgi_pass`, Apache mod_proxy_uwsgi). Repeatable.' }),
  impl({ name: 'protocol', type: 'string', field: 'protocol', default: 'uwsgi', help: 'What `socket` addresses speak: `uwsgi` (the default) or `http` (as `http-socket`). uWSGI\'s other protocols (fastcgi, scgi, ...) are refused with a reason.' }),
  impl({ name: 'chmod-socket', aliases: ['chmod'], type: 'mode', field: 'chmodSocket', help: 'Permissions of unix sockets, octal (`660`); the bare key means 666.' }),
  impl({ name: 'listen', aliases: ['l'], type: 'int', field: 'listen', default: 100, min: 1, max: 65535, help: 'Socket listen backlog.' }),
  impl({ name: 'buffer-size', aliases: ['b'], type: 'int', field: 'bufferSize', default: 4096, min: 512, max: 65535, clamp: true, help: 'Largest uwsgi request vars block accepted, in bytes; larger requests are refused with 413 and a log line. Values above 65535 are taken as 65535, as uWSGI does.' }),
  // processes
  impl({ name: 'processes', aliases: ['workers', 'p'], type: 'int', field: 'processes', default: 1, min: 1, max: 1024, help: 'Number of worker processes.' }),
  impl({ name: 'threads', type: 'int', field: 'threads', default: 1, min: 1, max: 1024, help: 'Threads per Python worker. Node workers serve concurrent requests on their event loop; for them this changes nothing.' }),
  impl({ name: 'master', aliases: ['M'], type: 'bool', field: 'master', default: true, help: 'Run the master process. usher always does; accepted for uWSGI files.' }),
  impl({ name: 'http-router', type: 'bool', field: 'httpRouter', help: 'Put usher\'s HTTP router in front of the workers for `http`. Default: on for Python apps, off for Node apps (their workers speak HTTP themselves: one hop less, about 4x the requests/s). On for a Node app, clients keep their connections to the router across reloads. usher-only.' }),
  impl({ name: 'lazy-apps', aliases: ['lazy'], type: 'bool', field: 'lazyApps', default: false, help: 'Python apps: each worker loads the app itself. Off (the default, as uWSGI): one fork-server process loads the app once and forks the workers, which share its memory; an app that opens connections, starts threads or seeds random at import wants `lazy-apps = true`. Node apps always load per worker.' }),
  impl({ name: 'http-processes', aliases: ['http-workers'], type: 'int', field: 'httpProcesses', default: 1, min: 1, max: 64, help: 'Number of HTTP router processes (Python apps behind `http`).' }),
  impl({ name: 'socket-timeout', type: 'int', field: 'socketTimeout', default: 30, min: 1, max: 86400, help: 'Seconds a worker waits on a uwsgi peer that goes quiet before its request vars are complete (Python workers: also mid-body, answered 408) before it closes the connection with a log line. uWSGI\'s default is 4; usher\'s is 30 because its HTTP router streams request bodies, so a slow upload pauses too.' }),
  impl({ name: 'http-timeout', type: 'int', field: 'httpTimeout', default: 60, min: 1, max: 86400, help: 'Seconds usher\'s HTTP router lets a client connection sit idle (between requests, or mid-head, or mid-body) before closing it, and lets a worker stay silent while a request waits on it before answering 504, as uWSGI\'s. Unlike `socket-timeout` (the workers\' side of a uwsgi connection), this is the router\'s.' }),
  impl({ name: 'harakiri', type: 'int', field: 'harakiri', default: 0, min: 0, help: 'Seconds a request may run (0 = off). A Python worker past it is killed and replaced, as uWSGI; a Node worker (many requests at once) cuts only that request (504, or its connection closed) and serves on. The log names the request.' }),
  impl({ name: 'post-buffering', type: 'int', field: 'postBuffering', default: 0, min: 0, help: 'Python workers read the whole request body before the app runs, so `wsgi.input` is seekable: up to this many bytes in memory, larger bodies in a temp file (uWSGI\'s semantics; 0 = stream the body to the app). Node apps read bodies as streams: for them it changes nothing (an info line says so).' }),
  impl({ name: 'max-requests', type: 'int', field: 'maxRequests', default: 0, min: 0, help: 'Recycle a worker after this many requests (0 = never).' }),
  impl({ name: 'limit-as', type: 'int', field: 'limitAs', default: 0, min: 0, help: 'Address-space limit (RLIMIT_AS) in MiB that each Python worker sets on itself before loading the app: an allocation past it fails with MemoryError (0 = none). Node workers reserve gigabytes of address space at start, so for them it is refused with a warning: use `reload-on-rss`.' }),
  impl({ name: 'harakiri-graceful-timeout', type: 'int', field: 'harakiriGracefulTimeout', default: 0, min: 0, max: 3600, help: 'Python workers: past `harakiri`, send the worker `harakiri-graceful-signal`, stop its accepting and give its other requests this many seconds to finish before it exits (0 = exit at once). Node workers cut only the late request, so for them it changes nothing.' }),
  impl({ name: 'harakiri-graceful-signal', type: 'int', field: 'harakiriGracefulSignal', default: 15, min: 1, max: 64, help: 'The signal number a Python worker sends itself at harakiri when `harakiri-graceful-timeout` is set (default 15, SIGTERM; an app may handle it to clean up).' }),
  impl({ name: 'limit-post', type: 'int', field: 'limitPost', default: 0, min: 0, help: 'The largest request body, in bytes (0 = no limit): a larger one is answered 413 before the app runs (Content-Length), or the moment the limit is crossed (chunked), on every path. uWSGI 2.0 answers a 500 and closes; usher says 413.' }),
  impl({ name: 'ready-path', type: 'string', field: 'readyPath', help: 'A path (`/-/ready`) that answers 200 while usher serves and 503 while it drains before a stop, for a load balancer\'s health check; only that exact path is taken from the app. Off by default. usher-only.' }),
  impl({ name: 'drain-time', type: 'int', field: 'drainTime', default: 0, min: 0, max: 3600, help: 'Seconds SIGTERM first drains: `ready-path` answers 503 while every other request is still served, so a load balancer moves traffic away; then the graceful stop. A second SIGTERM stops at once. usher-only (0 = stop at once, as uWSGI).' }),
  impl({ name: 'heartbeat-timeout', type: 'int', field: 'heartbeatTimeout', default: 60, min: 1, max: 86400, help: 'Seconds a worker or router may go without a heartbeat (its event loop or serving threads stuck) before the master sends it SIGABRT, then SIGKILL 5 s later, and replaces it. usher-only (gunicorn calls it `timeout`; uWSGI has none).' }),
  impl({ name: 'reload-mercy', aliases: ['worker-reload-mercy'], type: 'int', field: 'reloadMercy', default: 30, min: 1, max: 86400, help: 'Seconds workers get to finish in-flight requests on stop or reload before they are killed.' }),
  // recycling and scaling (the master's monitor, src/master/monitor.ts)
  impl({ name: 'max-requests-delta', type: 'int', field: 'maxRequestsDelta', default: 0, min: 0, help: 'Worker N recycles after `max-requests` + (N - 1) × this many requests, so the workers do not all recycle at once.' }),
  impl({ name: 'min-worker-lifetime', type: 'int', field: 'minWorkerLifetime', default: 10, min: 0, max: 86400, help: 'Seconds a worker runs before `reload-on-rss`/`reload-on-as` may recycle it (uWSGI\'s default, 10).' }),
  impl({ name: 'max-worker-lifetime', type: 'int', field: 'maxWorkerLifetime', default: 0, min: 0, help: 'Recycle a worker gracefully after this many seconds (0 = never); its replacement is ready before it stops.' }),
  impl({ name: 'max-worker-lifetime-delta', type: 'int', field: 'maxWorkerLifetimeDelta', default: 0, min: 0, help: 'Worker N lives `max-worker-lifetime` + (N - 1) × this many seconds, so the workers do not all recycle at once.' }),
  impl({ name: 'reload-on-rss', type: 'int', field: 'reloadOnRss', default: 0, min: 0, help: 'Recycle a worker gracefully once its resident memory reaches this many MiB (checked every second by the master; 0 = off).' }),
  impl({ name: 'reload-on-as', type: 'int', field: 'reloadOnAs', default: 0, min: 0, help: 'Recycle a worker gracefully once its address space reaches this many MiB (0 = off). Node reserves a large address space at start: use `reload-on-rss` for Node apps.' }),
  impl({ name: 'evil-reload-on-rss', type: 'int', field: 'evilReloadOnRss', default: 0, min: 0, help: 'Kill a worker at once (SIGKILL, as uWSGI) once its resident memory reaches this many MiB, even mid-request; it is respawned (0 = off).' }),
  impl({ name: 'evil-reload-on-as', type: 'int', field: 'evilReloadOnAs', default: 0, min: 0, help: 'Kill a worker at once (SIGKILL) once its address space reaches this many MiB (0 = off).' }),
  impl({ name: 'idle', type: 'int', field: 'idle', default: 0, min: 0, max: 86400, help: 'After this many seconds without a request, stop every worker (uWSGI\'s cheap mode); the sockets stay listening, and the first connection that waits starts them again (0 = off).' }),
  impl({ name: 'die-on-idle', type: 'bool', field: 'dieOnIdle', default: false, help: 'With `idle`: stop usher (exit 0) instead of its workers once idle, as for an Emperor\'s on-demand vassals.' }),
  impl({ name: 'cheaper', type: 'int', field: 'cheaper', default: 0, min: 0, help: 'Adaptive workers (uWSGI\'s `spare` algorithm): keep at least this many workers, grow towards `processes` while all are busy, retire idle ones (0 = off: always `processes`).' }),
  impl({ name: 'cheaper-initial', type: 'int', field: 'cheaperInitial', default: 0, min: 0, help: 'Workers started at boot when `cheaper` is on (default: `cheaper`).' }),
  impl({ name: 'cheaper-step', type: 'int', field: 'cheaperStep', default: 1, min: 1, help: 'Workers started at a time when all are busy.' }),
  impl({ name: 'cheaper-overload', type: 'int', field: 'cheaperOverload', default: 3, min: 1, max: 3600, help: 'Seconds all workers must be busy before more start, and the interval at which idle ones are retired.' }),
  impl({ name: 'cheaper-algo', type: 'string', field: 'cheaperAlgo', default: 'spare', help: 'The cheaper algorithm. usher has `spare` (uWSGI\'s default); others are refused with a reason.' }),
  // reload triggers (src/master/triggers.ts)
  impl({ name: 'touch-reload', type: 'list', field: 'touchReload', help: 'Reload the workers gracefully when this file is touched (or appears). Repeatable.' }),
  impl({ name: 'touch-workers-reload', type: 'list', field: 'touchWorkersReload', help: 'The same as `touch-reload` in usher (its reload never restarts the master). Repeatable.' }),
  impl({ name: 'touch-chain-reload', type: 'list', field: 'touchChainReload', help: 'Chain-reload when this file is touched: workers are replaced one at a time, each new one ready before the old one stops. Repeatable.' }),
  impl({ name: 'py-autoreload', aliases: ['python-autoreload', 'py-auto-reload'], type: 'int', field: 'pyAutoreload', default: 0, min: 0, max: 3600, help: 'Python apps: every N seconds, reload the workers gracefully when a .py file of the app (under `chdir`, the wsgi-file\'s folder, `pythonpath`) changed (0 = off). For development.' }),
  impl({ name: 'node-autoreload', type: 'int', field: 'nodeAutoreload', default: 0, min: 0, max: 3600, help: 'Node apps: every N seconds, reload the workers gracefully when a source file of the app (.js .mjs .cjs .ts .json under `chdir` and the app\'s folder) changed (0 = off). usher-only, for development.' }),
  impl({ name: 'fs-reload', type: 'list', field: 'fsReload', help: 'Reload the workers gracefully when this file or folder changes (watched, not polled). Repeatable.' }),
  // app
  impl({ name: 'app', type: 'path', field: 'app', help: 'A Node module whose export is a (req, res) listener (Express, Koa\'s callback(), node:http) or a fetch-style handler / object with fetch (Hono). .js .mjs .cjs .ts' }),
  impl({ name: 'wsgi-file', aliases: ['file'], type: 'path', field: 'wsgiFile', help: 'A Python file defining the WSGI callable (Django\'s wsgi.py).' }),
  impl({ name: 'module', aliases: ['wsgi', 'w'], type: 'string', field: 'module', help: 'A Python module with the WSGI callable: `pkg.mod` or `pkg.mod:callable`.' }),
  impl({ name: 'callable', type: 'string', field: 'callable', default: 'application', help: 'Name of the WSGI callable.' }),
  impl({ name: 'pythonpath', aliases: ['python-path', 'pp'], type: 'list', field: 'pythonpath', help: 'Add a folder to sys.path. Repeatable.' }),
  impl({ name: 'home', aliases: ['virtualenv', 'venv', 'pyhome', 'H'], type: 'path', field: 'home', help: 'A Python virtualenv: its interpreter runs the Python workers.' }),
  impl({ name: 'python', type: 'path', field: 'python', help: 'The Python interpreter for the workers (default: the virtualenv\'s, else `python3` on PATH). usher-only.' }),
  // environment
  impl({ name: 'chdir', type: 'path', field: 'chdir', help: 'Change to this folder before loading the app; relative paths resolve against it.' }),
  impl({ name: 'env', type: 'list', field: 'env', help: 'Set an environment variable, `KEY=VALUE`. Repeatable.' }),
  impl({ name: 'pidfile', type: 'path', field: 'pidfile', help: 'Write the master\'s pid here.' }),
  impl({ name: 'uid', type: 'string', field: 'uid', help: 'Run as this user (name or number) once the sockets are bound, the pidfile written and the log opened: the master drops to it before starting any worker, with that user\'s supplementary groups. Only root can switch.' }),
  impl({ name: 'gid', type: 'string', field: 'gid', help: 'Run as this group (name or number). Default with `uid`: that user\'s primary group (uWSGI keeps group root).' }),
  impl({ name: 'chown-socket', type: 'string', field: 'chownSocket', help: 'Owner of unix sockets, `user[:group]` (group default: the user\'s primary group); set while still root.' }),
  impl({ name: 'umask', type: 'string', field: 'umask', help: 'The process umask, octal (`022`), set before anything is created.' }),
  impl({ name: 'vacuum', type: 'bool', field: 'vacuum', default: false, help: 'Remove unix sockets and the pidfile on exit.' }),
  // logging
  impl({ name: 'daemonize', type: 'path', field: 'daemonize', help: 'Detach into the background (own session) at once, logging to this file; the launching command exits 0.' }),
  impl({ name: 'daemonize2', type: 'path', field: 'daemonize2', help: 'As `daemonize`, but the launching command waits until every worker is ready (exit 0) or usher fails (exit 1).' }),
  impl({ name: 'master-fifo', type: 'list', field: 'masterFifo', help: 'A fifo the master reads one-letter commands from: r/w reload, c chain reload, +/- one worker more/less, q stop, Q stop at once, l reopen logs, L toggle request logging, 0-9 switch to the Nth fifo. Created at start, removed on exit. Repeatable.' }),
  impl({ name: 'auto-procname', type: 'bool', field: 'autoProcname', default: true, help: 'Name processes `usher master`, `usher worker N`, `usher router` (as `ps` shows them). usher does this always; accepted for uWSGI files.' }),
  impl({ name: 'procname-prefix', type: 'string', field: 'procnamePrefix', help: 'Put this before every process name.' }),
  impl({ name: 'procname-prefix-spaced', type: 'string', field: 'procnamePrefixSpaced', help: 'Put this and a space before every process name.' }),
  impl({ name: 'procname-master', type: 'string', field: 'procnameMaster', help: 'The master\'s process name (default `usher master`).' }),
  impl({ name: 'logto', aliases: ['logto2'], type: 'path', field: 'logto', help: 'Append logs to this file instead of stderr.' }),
  impl({ name: 'disable-logging', aliases: ['L'], type: 'bool', field: 'disableLogging', default: false, help: 'No per-request access lines (errors and events are still logged); `log-4xx`, `log-5xx`, `log-slow`, `log-big` and `log-zero` bring back the lines they name.' }),
  impl({ name: 'log-style', type: 'string', field: 'logStyle', default: 'uwsgi', help: 'The access line without `log-format`: `uwsgi` (uWSGI\'s request line, the default) or `usher` (usher\'s own `time LEVEL worker N: GET /uri 200 bytes=.. ms=.. addr=..` shape, as its event lines). usher-only.' }),
  impl({ name: 'log-format', aliases: ['logformat'], type: 'string', field: 'logFormat', help: 'The access line, with uWSGI\'s variables: `%(addr) %(user) %(ltime) %(method) %(uri) %(proto) %(status) %(size) %(msecs) %(uagent)` and the others (see "Logging"), `%(var.NAME)` for any request var. Empty values render `-`; an unknown variable renders `-` and warns once at startup.' }),
  impl({ name: 'log-encoder', aliases: ['log-req-encoder'], type: 'string', field: 'logEncoder', help: '`json`: one JSON object per access line (keys are the log-format variables); `json {"msg":"${msg}","t":${unix}}`: uWSGI\'s template form. Applies to access lines; event lines keep usher\'s key=value shape.' }),
  impl({ name: 'memory-report', type: 'bool', field: 'memoryReport', default: false, help: 'uWSGI\'s request line ends with the worker\'s address space and RSS (`{address space usage: N bytes/NMB} {rss usage: N bytes/NMB}`), as uWSGI\'s. With `log-format`, use `%(vsz)`, `%(rss)`, `%(vszM)`, `%(rssM)`.' }),
  impl({ name: 'log-date', aliases: ['logdate'], type: 'string', field: 'logDate', help: 'A strftime format for `%(ftime)` (`%d/%m/%Y %H:%M:%S`; conversions aAbBdeHIjmMpSyYzsuwFTRDc). Event lines always start with an ISO-8601 time.' }),
  impl({ name: 'log-micros', type: 'bool', field: 'logMicros', default: false, help: 'The default access line gives the response time in microseconds.' }),
  impl({ name: 'log-4xx', type: 'bool', field: 'log4xx', default: false, help: 'With `disable-logging`: still log requests answered 4xx.' }),
  impl({ name: 'log-5xx', type: 'bool', field: 'log5xx', default: false, help: 'With `disable-logging`: still log requests answered 5xx.' }),
  impl({ name: 'log-slow', type: 'int', field: 'logSlow', default: 0, min: 0, help: 'With `disable-logging`: still log requests that took at least this many milliseconds (0 = off).' }),
  impl({ name: 'log-big', type: 'int', field: 'logBig', default: 0, min: 0, help: 'With `disable-logging`: still log responses of at least this many body bytes (0 = off).' }),
  impl({ name: 'log-zero', type: 'bool', field: 'logZero', default: false, help: 'With `disable-logging`: still log responses without a body.' }),
  impl({ name: 'log-x-forwarded-for', type: 'bool', field: 'logXForwardedFor', default: false, help: 'The logged address (`%(addr)`) is the X-Forwarded-For header the front sent (as uWSGI: the whole header), not the socket peer.' }),
  impl({ name: 'logger', type: 'list', field: 'logger', help: 'Where lines go: `file:/path` or `stdio` (stderr). Without `req-logger`, access lines go here too. `syslog` is refused for now (use journald via stderr). Repeatable.' }),
  impl({ name: 'req-logger', type: 'list', field: 'reqLogger', help: 'Where access lines go, apart from event lines: `file:/path` or `stdio`. Repeatable.' }),
  impl({ name: 'log-master', type: 'bool', field: 'logMaster', default: false, help: 'Every line goes through the master, which alone writes the log file. Without it, Node workers append their lines to a plain `logto` file themselves (O_APPEND, whole lines per write), as uWSGI\'s workers do; `log-maxsize`, `logger` and `req-logger` always use the master.' }),
  impl({ name: 'log-reopen', type: 'bool', field: 'logReopen', default: false, help: 'Reopen the log files on every reload (SIGHUP), for logrotate\'s move-then-reload.' }),
  impl({ name: 'touch-logreopen', type: 'list', field: 'touchLogreopen', help: 'Reopen the log files when this file is touched (checked once a second, as uWSGI): logrotate\'s `postrotate` touches it. Repeatable.' }),
  impl({ name: 'log-maxsize', type: 'int', field: 'logMaxsize', default: 0, min: 0, help: 'Rotate a log file once it reaches this many bytes: renamed to `FILE.<unix time>` (`.1`, `.2` appended should that exist) and a new one started; no line is lost (0 = off).' }),
  impl({ name: 'log-backupname', type: 'path', field: 'logBackupname', help: 'The name a `log-maxsize` rotation renames the log to (replacing the previous one), instead of `FILE.<unix time>`.' }),
  // many apps
  impl({ name: 'emperor', type: 'path', help: 'Run as an Emperor: every `*.ini` in this folder (or matching a glob, `/etc/usher/vassals/*.ini`) is a vassal, a whole usher of its own; new files start, touched files reload, removed files stop. Symlinks are followed (Debian\'s apps-enabled). See "Many apps".' }),
  impl({ name: 'emperor-tyrant', type: 'bool', default: false, help: 'Emperor: run each vassal as the user and group owning its file (passes `--uid`/`--gid`); files owned by root are refused.' }),
  // stats
  impl({ name: 'stats', aliases: ['stats-server'], type: 'address', field: 'stats', help: 'Serve uWSGI-compatible stats JSON on this address (`127.0.0.1:9191` or a unix socket path): written on connect, then closed, as uWSGI does (uwsgitop, `usher top`). Bind loopback or a private path: stats expose pids, paths and traffic.' }),
  impl({ name: 'stats-http', type: 'bool', field: 'statsHttp', default: false, help: 'Speak HTTP on the `stats` address: `/` gives the JSON (a browser gets the live dashboard), `/metrics` Prometheus metrics. Read-only.' }),
  impl({ name: 'stats-minified', aliases: ['stats-min'], type: 'bool', field: 'statsMinified', default: false, help: 'Stats JSON on one line, without indentation.' }),
  impl({ name: 'strict', type: 'bool', field: 'strict', default: false, help: 'Unknown options are errors instead of warnings.' }),

  // static files (src/static): served by usher itself, before the app sees the request
  impl({ name: 'static-map', type: 'list', field: 'staticMap', help: 'Serve files for a URL prefix from a folder (or one file): `/static=/srv/app/static`; `/static/css/a.css` is `/srv/app/static/css/a.css`. GET and HEAD only; a missing file goes on to the next mapping, then to the app. Prefixes match whole segments (uWSGI: plain string prefix). Repeatable.' }),
  impl({ name: 'static-map2', type: 'list', field: 'staticMap2', help: 'As `static-map`, but the whole path, prefix included, goes under the folder: `/static=/srv/app` serves `/static/a.css` from `/srv/app/static/a.css`. Repeatable.' }),
  impl({ name: 'check-static', aliases: ['static-check'], type: 'list', field: 'checkStatic', help: 'Serve any request path that names a file in this folder; everything else goes to the app. Tried before the static maps. Repeatable.' }),
  impl({ name: 'static-index', type: 'list', field: 'staticIndex', help: 'File to serve when a static path is a folder (`index.html`); tried in order. Without one, folder paths go to the app: there is never a directory listing. Repeatable.' }),
  impl({ name: 'static-skip-ext', type: 'list', field: 'staticSkipExt', help: 'Never serve static files whose name ends so (`.php`); those requests go to the app. Repeatable.' }),
  impl({ name: 'static-safe', type: 'list', field: 'staticSafe', help: 'A folder that symlinks inside a static root may lead into. Any other symlink out of the root is refused with 403 (uWSGI passes it to the app). Repeatable.' }),
  impl({ name: 'static-gzip-all', type: 'bool', field: 'staticGzipAll', default: false, help: 'When the client accepts br or gzip, serve a precompressed `FILE.br` or `FILE.gz` next to the file, if there is one, with `Content-Encoding` and `Vary: Accept-Encoding`. usher never compresses on the fly.' }),
  impl({ name: 'static-gzip-dir', aliases: ['static-gzip-prefix'], type: 'list', field: 'staticGzipDir', help: 'As `static-gzip-all`, for files whose real path starts with this prefix. Repeatable.' }),
  impl({ name: 'mimefile', type: 'list', field: 'mimefile', help: 'mime.types file(s) giving Content-Type by extension; default `/etc/mime.types` (Debian\'s media-types), else a built-in table of common web types. Unknown extensions are application/octet-stream (uWSGI sends none). Repeatable.' }),
  impl({ name: 'static-expires-type', type: 'list', field: 'staticExpiresType', help: '`content/type=seconds`: `Expires` and `Cache-Control: max-age` that many seconds from now for static files of that type. Repeatable.' }),
  impl({ name: 'static-expires-type-mtime', type: 'list', field: 'staticExpiresTypeMtime', help: 'As `static-expires-type`, counted from the file\'s mtime. Repeatable.' }),
  impl({ name: 'static-expires-uri', type: 'list', field: 'staticExpiresUri', help: '`regexp seconds`: `Expires`/`Cache-Control` for static files whose request URI (query included) matches. JavaScript (Node) and Python `re` syntax: keep to their common subset. Repeatable.' }),
  impl({ name: 'static-expires-uri-mtime', type: 'list', field: 'staticExpiresUriMtime', help: 'As `static-expires-uri`, counted from the file\'s mtime. Repeatable.' }),
  impl({ name: 'static-expires', type: 'list', field: 'staticExpires', help: '`regexp seconds`: `Expires`/`Cache-Control` for static files whose real path matches. Rules are tried file, uri, then type; the first match wins (uWSGI may send several Expires). Repeatable.' }),
  impl({ name: 'static-expires-mtime', type: 'list', field: 'staticExpiresMtime', help: 'As `static-expires`, counted from the file\'s mtime. Repeatable.' }),

  // accepted: real uWSGI files carry them, they mean nothing to usher
  accepted('plugin', 'usher has no plugins: HTTP, uwsgi and Python support are built in.', ['plugins', 'plugins-dir', 'plugin-dir', 'need-plugin', 'need-plugins']),
  accepted('enable-threads', 'Python threads are always enabled in usher workers.'),
  accepted('single-interpreter', 'usher runs one interpreter per Python worker process.', ['i']),
  accepted('py-call-osafterfork', 'usher forks Python workers with `os.fork`, which always runs CPython\'s after-fork handling (`random` reseeded, `threading` and `logging` made right for the child); uWSGI runs it only with this option.'),
  accepted('die-on-term', 'usher always stops on SIGTERM (as uWSGI 2.1 does, and as systemd expects): there is nothing to switch.'),
  accepted('ignore-sigpipe', 'usher never dies of SIGPIPE: Node ignores it, and the Python runner turns a broken pipe into one log line.'),
  accepted('ignore-write-errors', 'A client gone mid-response is one INFO line (`client went away`), never an error or a traceback.'),
  accepted('disable-write-exception', 'The Python runner catches a client gone mid-response around the app\'s iterable and write(), closes the iterable and logs one line, as uWSGI with this option.'),
  accepted('harakiri-verbose', 'usher\'s harakiri line always names the request: method, URI and seconds.'),
  accepted('thunder-lock', 'The kernel distributes connections among the workers.'),
  accepted('need-app', 'usher always stops when the app cannot be loaded.'),
  accepted('strict-mode', 'Use `strict`.'),
  accepted('no-orphans', 'usher workers always exit when the master goes away.'),
  accepted('optimize', 'Python optimisation level is left to the interpreter.', ['O']),
  accepted('http-keepalive', 'usher keeps HTTP connections alive whenever the client allows.'),
  accepted('http-auto-chunked', 'usher chunks HTTP/1.1 responses of unknown length.'),
  accepted('offload-threads', 'usher has no offload threads and needs none: Node workers stream static files from the event loop with bounded memory; Python workers send them with os.sendfile from the thread serving the request, which stays busy until the client has the file (as uWSGI without offload threads).'),
  accepted('manage-script-name', 'SCRIPT_NAME is passed as the front sends it.'),
  accepted('log-format-strftime', 'usher formats `%(ftime)` with `log-date` whenever `log-date` is set.', ['logformat-strftime']),
];


/** uWSGI options usher knows of but does not do yet (an option that is implemented leaves this list). */
const NOT_YET = [
    'procname', 'mount', 'route', 'route-run', 'route-uri', 'route-host', 'static-gzip', 'static-gzip-ext',
    'static-gzip-suffix', 'static-expires-path-info', 'static-expires-path-info-mtime',
    'check-static-docroot', 'static-cache-paths', 'file-serve-mode', 'spooler', 'spooler-processes', 'cron',
    'cron2', 'mule', 'mules', 'attach-daemon', 'attach-daemon2', 'smart-attach-daemon', 'vassal-set',
    'emperor-stats', 'hook-pre-app', 'exec-pre-app', 'exec-as-root', 'exec-as-user', 'chmod-socket-group',
    'https', 'https-socket', 'ssl-socket', 'shared-socket', 'fastcgi-socket', 'scgi-socket', 'add-header',
    'response-route', 'yaml', 'json', 'xml', 'declare-option', 'wsgi-disable-file-wrapper', 'callable-module',
    'max-fd', 'vhost', 'no-default-app', 'worker-exec', 'carbon', 'ksm', 'cpu-affinity', 'reuse-port',
    'so-keepalive', 'tcp-nodelay', 'freebind', 'show-config', 'print', 'wsgi-env-behaviour', 'pep3333-input',
    'python-worker-override', 'worker-reload-mercy-time', 'cache2', 'cache', 'queue', 'sharedarea', 'locks',
    'rpc-max', 'signal', 'subscribe-to', 'subscription-server', 'fastrouter', 'rawrouter', 'sslrouter',
    'gevent', 'async', 'ugreen', 'asyncio', 'greenlet', 'cheap', 'snmp', 'legion', 'zerg', 'zergpool',
    'pyargv', 'py-tracebacker', 'stats-push', 'metrics-dir', 'enable-metrics', 'hook-as-root', 'pypy-home',
    'thunder-lock-watchdog',
];

export const OPTIONS: readonly OptionDef[] = Object.freeze([
  ...KNOWN,
  ...NOT_YET.map((n) => todo(n, 'A uWSGI option usher does not implement yet.')),
]);

const byName = new Map<string, OptionDef>();
for (const def of OPTIONS) {
  if (!byName.has(def.name)) byName.set(def.name, def);
  for (const a of def.aliases ?? []) if (!byName.has(a)) byName.set(a, def);
}

/** Look up an option by name or alias; `_` and `-` are the same (uWSGI allows both). */
export function findOption(name: string): OptionDef | undefined {
  return byName.get(name) ?? byName.get(name.replace(/_/g, '-'));
}

export function allNames(): string[] {
  return [...byName.keys()];
}
