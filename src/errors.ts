/**
 * errors: the one catalogue of usher's failures. Every error a user can meet is a class here with a
 * stable code (`USHER_ERR_*`); tests assert codes, never wording; messages say what to do next.
 * Must not: log, exit, or know about processes. Callers decide what a failure means for them.
 */

export type UsherErrorCode =
  // config
  | 'USHER_ERR_CONFIG_FILE'
  | 'USHER_ERR_CONFIG_SYNTAX'
  | 'USHER_ERR_CONFIG_UNKNOWN_OPTION'
  | 'USHER_ERR_CONFIG_BAD_VALUE'
  | 'USHER_ERR_CONFIG_MISSING'
  | 'USHER_ERR_CONFIG_CONFLICT'
  // sockets and master
  | 'USHER_ERR_BIND'
  | 'USHER_ERR_PIDFILE'
  | 'USHER_ERR_LOG_FILE'
  | 'USHER_ERR_LOG_PIPE'
  | 'USHER_ERR_APP_LOAD'
  | 'USHER_ERR_WORKER_BOOT'
  // uwsgi protocol
  | 'USHER_ERR_UWSGI_TRUNCATED'
  | 'USHER_ERR_UWSGI_MALFORMED'
  | 'USHER_ERR_UWSGI_TOO_LARGE'
  | 'USHER_ERR_UWSGI_UNSUPPORTED'
  // router
  | 'USHER_ERR_UPSTREAM';

/** What each code means and what to do about it; README's error table is generated from this. */
export const ERROR_DOCS: Readonly<Record<UsherErrorCode, string>> = Object.freeze({
  USHER_ERR_CONFIG_FILE: 'The config file cannot be read (missing, unreadable, or the section is absent). Check the path given to --ini.',
  USHER_ERR_CONFIG_SYNTAX: 'A line of the ini file is not `key = value`, a bare key, a comment or a [section]. Fix the named line.',
  USHER_ERR_CONFIG_UNKNOWN_OPTION: 'An option usher does not know (a warning unless `strict` is set). The message suggests the nearest known option.',
  USHER_ERR_CONFIG_BAD_VALUE: 'A known option has a value of the wrong type or out of range. The message gives the expected form.',
  USHER_ERR_CONFIG_MISSING: 'Something required is missing: no socket to serve on, or no app to run. Add `http`, `http-socket` or `socket`, and `app`, `wsgi-file` or `module`.',
  USHER_ERR_CONFIG_CONFLICT: 'Two options that cannot go together were both given. Keep one.',
  USHER_ERR_BIND: 'A socket could not be bound (address in use, permission denied, folder missing). Free the address or fix the path.',
  USHER_ERR_PIDFILE: 'The pidfile could not be written. Check that its folder exists and is writable.',
  USHER_ERR_LOG_FILE: 'A log file (`logto`, `logger = file:`, `req-logger = file:`) cannot be opened for writing at startup. Check that its folder exists and usher may write there.',
  USHER_ERR_LOG_PIPE: 'The pipe the workers write their log lines to could not be made: a FIFO in the temp folder (`TMPDIR`, else /tmp), made with coreutils\' `mkfifo`. Check that the folder exists and usher may write there, and that `mkfifo` is on PATH.',
  USHER_ERR_APP_LOAD: 'The app could not be loaded (missing file, import/syntax error, no usable export or callable). usher stops instead of respawning; fix the app and start again.',
  USHER_ERR_WORKER_BOOT: 'A worker could not start (interpreter missing, runner failed). Check the interpreter named by `python`/`home`.',
  USHER_ERR_UWSGI_TRUNCATED: 'A uwsgi packet ended before its declared size. The connection is closed; the worker keeps serving.',
  USHER_ERR_UWSGI_MALFORMED: 'A uwsgi packet is not well formed (a length runs past its block, an empty block). Answered 400 and closed.',
  USHER_ERR_UWSGI_TOO_LARGE: 'A uwsgi packet\'s vars exceed `buffer-size`. Answered 413-style and closed; raise `buffer-size` if the request is legitimate.',
  USHER_ERR_UWSGI_UNSUPPORTED: 'A uwsgi packet with a modifier1 usher does not serve. Answered 400 and closed.',
  USHER_ERR_UPSTREAM: 'The HTTP router could not reach a worker or the worker sent no valid response. The client got 502.',
});

export class UsherError extends Error {
  readonly code: UsherErrorCode;
  constructor(code: UsherErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Where in a config a problem sits: every config error names file, line and option. */
export interface ConfigLocation {
  readonly file?: string;
  readonly line?: number;
  readonly option?: string;
}

export class ConfigError extends UsherError {
  readonly location: ConfigLocation;
  constructor(code: UsherErrorCode, message: string, location: ConfigLocation = {}) {
    super(code, message);
    this.location = location;
  }
}

/** uwsgi codec failures carry the HTTP status the peer should get, where one can still be written. */
export class UwsgiProtocolError extends UsherError {
  readonly status: 400 | 413;
  constructor(code: UsherErrorCode, message: string, status: 400 | 413 = 400) {
    super(code, message);
    this.status = status;
  }
}

export class AppLoadError extends UsherError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USHER_ERR_APP_LOAD', message, options);
  }
}
