/**
 * config/spelling: key spellings uWSGI 2.0 ignores in ini files although they work elsewhere.
 * uWSGI looks ini keys up by their long name only (`core/config.c` uwsgi_opt_get): one-letter
 * options (`b`, `p`) exist only on the command line (`-b 65535`), and `_` spellings (`chmod_socket`)
 * only in UWSGI_* environment variables. usher does not take them from ini files either, and warns
 * with the key to write instead (uWSGI says nothing; `strict` makes it an error).
 * Must not: decide anything else about options (config/resolve does).
 */
import { findOption } from './options.js';

/** uWSGI 2.0's one-letter command-line options (core and the python plugin). */
const UWSGI_SHORT: Readonly<Record<string, string>> = {
  A: 'sharedarea', C: 'chmod-socket', H: 'home', J: 'test', L: 'disable-logging', M: 'master', O: 'optimize', Q: 'spooler',
  R: 'max-requests', S: 'set', T: 'enable-threads', a: 'abstract-socket', b: 'buffer-size', c: 'cgi-mode', d: 'daemonize',
  i: 'single-interpreter', j: 'json', l: 'listen', m: 'memory-report', p: 'processes', r: 'reaper', s: 'socket', t: 'harakiri',
  v: 'max-vars', w: 'wsgi', x: 'xmlconfig', y: 'yaml', z: 'socket-timeout',
};

export interface Respelling {
  /** The key uWSGI would read. */
  readonly key: string;
  readonly why: string;
}

/** For an ini key uWSGI ignores because of how it is spelled: the key to write, and why. */
export function iniRespelling(key: string): Respelling | undefined {
  if (key.length === 1) {
    const long = UWSGI_SHORT[key] ?? (findOption(key) !== undefined ? findOption(key)!.name : undefined);
    if (long === undefined) return undefined;
    return { key: long, why: `uWSGI reads one-letter options only on the command line (-${key}); in an ini file it ignores \`${key}\`` };
  }
  if (key.includes('_')) {
    const dashed = key.replace(/_/g, '-');
    if (findOption(dashed) === undefined) return undefined;
    return { key: dashed, why: `uWSGI ignores \`_\` spellings in ini files (only UWSGI_* environment variables use them)` };
  }
  return undefined;
}
