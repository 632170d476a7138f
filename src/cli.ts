/**
 * cli: `usher --ini uwsgi.ini` and friends. Reads the config, prints what the user asked for (help,
 * version, the effective config) or runs the master; `usher deploy ...` renders deployment files;
 * `usher top [ADDR]` watches a stats address.
 * Every failure ends as one clear line and an exit code, never a bare stack trace.
 * Must not: contain option definitions (config/options is the one table) or supervision logic.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig, renderHelp, renderConfig, formatDiagnostic, formatConfigError } from './config/index.js';
import { ConfigError, UsherError } from './errors.js';
import { createLogger, flushSync } from './log.js';
import { findEmperorRequest } from './emperor/request.js';

const log = createLogger('master');

function version(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'deploy') {
    const { runDeploy } = await import('./deploy/cli.js');
    return runDeploy(argv.slice(1), (s) => process.stdout.write(s));
  }
  if (argv[0] === 'top') {
    const { runTop } = await import('./top/index.js');
    return runTop(argv.slice(1), (s) => process.stdout.write(s));
  }
  const emperor = findEmperorRequest(argv, process.env, process.cwd());
  // The emperor and the master are imported only by the run that needs one: less code (and heap) in each.
  if (emperor !== undefined) {
    const { runEmperor } = await import('./emperor/index.js');
    return runEmperor(emperor, createLogger('emperor'));
  }
  const { action, loaded } = loadConfig(argv, process.env, process.cwd());
  if (action.kind === 'help') {
    process.stdout.write(renderHelp());
    return 0;
  }
  if (action.kind === 'version') {
    process.stdout.write(`usher ${version()}\n`);
    return 0;
  }
  if (loaded === undefined) return 1;
  for (const d of loaded.diagnostics) {
    (d.level === 'warn' ? log.warn : log.info)(formatDiagnostic(d));
  }
  if (action.kind === 'print-config') {
    process.stdout.write(renderConfig(loaded.config));
    return 0;
  }
  log.info('starting', { version: version(), pid: process.pid, config: loaded.config.iniFile });
  // A Python app's fork-server starts now, and imports its runner while the master loads the rest;
  // so does the `mkfifo` that makes the children's log pipe.
  const { spawnEarlyForkServer } = await import('./master/spawn.js');
  const early = spawnEarlyForkServer(loaded.config);
  const { makeLogPipe } = await import('./logging/pipe.js');
  const pipe = makeLogPipe();
  try {
    const { runMaster } = await import('./master/index.js');
    return await runMaster(loaded.config, log, pipe, early);
  } finally {
    await pipe.catch(() => undefined); // a start that failed before taking the pipe still removes its folder
  }
}

main(process.argv.slice(2)).then((code) => {
  flushSync();
  process.exit(code);
}, (err: unknown) => {
  if (err instanceof ConfigError) {
    log.error(formatConfigError(err), { code: err.code });
  } else if (err instanceof UsherError) {
    log.error(err.message, { code: err.code });
  } else {
    log.error('unexpected failure; please report it with this line', { error: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
  flushSync();
  process.exit(1);
});
