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
  readonly status: 'implemented' | 'accepted' | 'unimplemented';
  readonly help: string;
}

const impl = (d: Omit<OptionDef, 'status'>): OptionDef => ({ ...d, status: 'implemented' });
const accepted = (name: string, help: string, aliases?: string[]): OptionDef => ({ name, aliases, type: 'string', status: 'accepted', help });
const todo = (name: string, help: string, aliases?: string[]): OptionDef => ({ name, aliases, type: 'string', status: 'unimplemented', help });

const KNOWN: OptionDef[] = [
  // sockets
  impl({ name: 'http', type: 'list', field: 'http', help: 'Serve HTTP on this address (`127.0.0.1:8080`, `:8080`). Node workers speak HTTP themselves; Python workers sit behind usher\'s HTTP router. Repeatable.' }),
  impl({ name: 'http-socket', type: 'list', field: 'httpSocket', help: 'Workers speak HTTP themselves on this address (Node apps). Repeatable.' }),
  impl({ name: 'socket', aliases: ['uwsgi-socket', 's'], type: 'list', field: 'socket', help: 'Speak the uwsgi protocol on this unix socket path or `host:port` (for Nginx `uwsgi_pass`, Apache mod_proxy_uwsgi). Repeatable.' }),
  impl({ name: 'chmod-socket', aliases: ['chmod'], type: 'mode', field: 'chmodSocket', help: 'Permissions of unix sockets, octal (`660`); the bare key means 666.' }),
  impl({ name: 'listen', aliases: ['l'], type: 'int', field: 'listen', default: 100, min: 1, max: 65535, help: 'Socket listen backlog.' }),
  impl({ name: 'buffer-size', aliases: ['b'], type: 'int', field: 'bufferSize', default: 4096, min: 512, max: 65535, help: 'Largest uwsgi request vars block accepted, in bytes; larger requests are refused with 413 and a log line.' }),
  // processes
  impl({ name: 'processes', aliases: ['workers', 'p'], type: 'int', field: 'processes', default: 1, min: 1, max: 1024, help: 'Number of worker processes.' }),
  impl({ name: 'threads', type: 'int', field: 'threads', default: 1, min: 1, max: 1024, help: 'Threads per Python worker. Node workers serve concurrent requests on their event loop; for them this changes nothing.' }),
  impl({ name: 'master', aliases: ['M'], type: 'bool', field: 'master', default: true, help: 'Run the master process. usher always does; accepted for uWSGI files.' }),
  impl({ name: 'http-router', type: 'bool', field: 'httpRouter', help: 'Put usher\'s HTTP router in front of the workers for `http`. Default: on for Python apps, off for Node apps (their workers speak HTTP themselves: one hop less, about 4x the requests/s). On for a Node app, clients keep their connections to the router across reloads. usher-only.' }),
  impl({ name: 'http-processes', aliases: ['http-workers'], type: 'int', field: 'httpProcesses', default: 1, min: 1, max: 64, help: 'Number of HTTP router processes (Python apps behind `http`).' }),
  impl({ name: 'socket-timeout', type: 'int', field: 'socketTimeout', default: 30, min: 1, max: 86400, help: 'Seconds a worker waits on a uwsgi peer that goes quiet before its request vars are complete (Python workers: also mid-body, answered 408) before it closes the connection with a log line. uWSGI\'s default is 4; usher\'s is 30 because its HTTP router streams request bodies, so a slow upload pauses too.' }),
  impl({ name: 'harakiri', type: 'int', field: 'harakiri', default: 0, min: 0, help: 'Seconds a request may run in a Python worker before the worker is killed and replaced (0 = off).' }),
  impl({ name: 'max-requests', type: 'int', field: 'maxRequests', default: 0, min: 0, help: 'Recycle a worker after this many requests (0 = never).' }),
  impl({ name: 'reload-mercy', aliases: ['worker-reload-mercy'], type: 'int', field: 'reloadMercy', default: 30, min: 1, max: 86400, help: 'Seconds workers get to finish in-flight requests on stop or reload before they are killed.' }),
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
  impl({ name: 'vacuum', type: 'bool', field: 'vacuum', default: false, help: 'Remove unix sockets and the pidfile on exit.' }),
  // logging
  impl({ name: 'logto', aliases: ['logto2'], type: 'path', field: 'logto', help: 'Append logs to this file instead of stderr.' }),
  impl({ name: 'disable-logging', aliases: ['L'], type: 'bool', field: 'disableLogging', default: false, help: 'No per-request access lines (errors are still logged).' }),
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
  accepted('enable-threads', 'Python threads are always enabled in usher workers.', ['enable-threads']),
  accepted('single-interpreter', 'usher runs one interpreter per Python worker process.', ['i']),
  accepted('die-on-term', 'usher always stops on SIGTERM (as uWSGI 2.1 does).'),
  accepted('thunder-lock', 'The kernel distributes connections among the workers.'),
  accepted('lazy-apps', 'usher workers always load the app themselves, after the master forks nothing (as lazy-apps).', ['lazy']),
  accepted('need-app', 'usher always stops when the app cannot be loaded.'),
  accepted('auto-procname', 'Process titles are left as they are.', ['procname-prefix', 'procname-prefix-spaced', 'procname', 'procname-master']),
  accepted('strict-mode', 'Use `strict`.'),
  accepted('memory-report', 'Memory is reported by `npm run bench` and the stats of the OS.'),
  accepted('no-orphans', 'usher workers always exit when the master goes away.'),
  accepted('optimize', 'Python optimisation level is left to the interpreter.', ['O']),
  accepted('py-autoreload', 'Use SIGHUP (or systemctl reload) to reload the app.', ['python-autoreload', 'py-auto-reload']),
  accepted('http-keepalive', 'usher keeps HTTP connections alive whenever the client allows.'),
  accepted('http-auto-chunked', 'usher chunks HTTP/1.1 responses of unknown length.'),
  accepted('post-buffering', 'usher streams request bodies to the app.'),
  accepted('offload-threads', 'usher has no offload threads and needs none: Node workers stream static files from the event loop with bounded memory; Python workers send them with os.sendfile from the thread serving the request, which stays busy until the client has the file (as uWSGI without offload threads).'),
  accepted('master-fifo', 'Use signals: SIGHUP reloads, SIGTERM stops.'),
  accepted('manage-script-name', 'SCRIPT_NAME is passed as the front sends it.'),
];

const taken = new Set(KNOWN.flatMap((d) => [d.name, ...(d.aliases ?? [])]));

/** uWSGI options usher knows of but does not do yet. */
const NOT_YET = ['stats', 'uid', 'gid', 'daemonize', 'daemonize2', 'touch-reload', 'touch-chain-reload', 'fs-reload', 'cheaper', 'cheaper-algo',
    'cheaper-initial', 'cheaper-step', 'cheaper-overload', 'max-worker-lifetime', 'reload-on-rss', 'reload-on-as', 'evil-reload-on-rss',
    'limit-as', 'limit-post', 'http-timeout', 'harakiri-verbose', 'log-format', 'logformat', 'log-date', 'log-reopen', 'log-maxsize',
    'log-x-forwarded-for', 'req-logger', 'logger', 'log-master', 'log-5xx', 'log-4xx', 'log-slow', 'log-big', 'mount', 'route', 'route-run',
    'route-uri', 'route-host', 'static-gzip', 'static-gzip-ext', 'static-gzip-suffix', 'static-expires-path-info', 'static-expires-path-info-mtime', 'check-static-docroot', 'static-cache-paths', 'file-serve-mode', 'spooler', 'spooler-processes',
    'cron', 'cron2', 'mule', 'mules', 'attach-daemon', 'attach-daemon2', 'smart-attach-daemon', 'emperor', 'vassal-set', 'hook-pre-app',
    'exec-pre-app', 'exec-as-root', 'exec-as-user', 'chmod-socket-group', 'chown-socket', 'umask', 'https', 'https-socket', 'ssl-socket',
    'shared-socket', 'fastcgi-socket', 'scgi-socket', 'protocol', 'add-header', 'response-route', 'ini', 'yaml', 'json', 'xml', 'set',
    'set-placeholder', 'declare-option', 'for', 'endfor', 'if-env', 'if-exists', 'endif', 'wsgi-disable-file-wrapper', 'callable-module',
    'max-fd', 'vhost', 'no-default-app', 'worker-exec', 'carbon', 'stats-http', 'memory-report', 'idle', 'die-on-idle', 'ksm', 'cpu-affinity',
    'reuse-port', 'so-keepalive', 'tcp-nodelay', 'freebind', 'disable-write-exception', 'ignore-sigpipe', 'ignore-write-errors',
    'show-config', 'print', 'wsgi-env-behaviour', 'pep3333-input', 'python-worker-override', 'worker-reload-mercy-time', 'cache2', 'cache',
    'queue', 'sharedarea', 'locks', 'rpc-max', 'signal', 'subscribe-to', 'subscription-server', 'fastrouter', 'rawrouter', 'sslrouter',
    'gevent', 'async', 'ugreen', 'asyncio', 'greenlet', 'lazy', 'cheap', 'snmp', 'legion', 'zerg', 'zergpool', 'pyargv', 'py-tracebacker',
    'stats-minified', 'stats-push', 'metrics-dir', 'enable-metrics', 'hook-as-root', 'pypy-home', 'thunder-lock-watchdog',
];

export const OPTIONS: readonly OptionDef[] = Object.freeze([
  ...KNOWN,
  ...[...new Set(NOT_YET)].filter((n) => !taken.has(n)).map((n) => todo(n, 'A uWSGI option usher does not implement yet.')),
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
