#!/usr/bin/env node
// The installed entry point: the compiled CLI lives in dist/ (built by `npm install` via `prepare`).
//
// The master runs little JavaScript (config, supervision, batched log relaying), so V8's optimising
// compiler and per-function feedback are memory it never earns back: `--lite-mode` (interpreter and
// baseline only, feedback allocated lazily) cuts ~0.6 MiB of the master's anonymous memory and ~3.5 MiB
// of the node binary it pages in, and did not change the master's CPU per request (bench: alternated
// rounds, access log on). `--stress-flush-code` (bytecode of idle functions dropped at each full GC)
// saved ~0.3 MiB more, but it is a V8 testing flag: not shipped as a default.
// Set here, through v8.setFlagsFromString, not on the command line:
// process.execArgv stays as typed, so Node workers and the router (spawned with the master's execArgv)
// keep the full compiler. USHER_MASTER_V8_FLAGS replaces the list ('' for none).
import { setFlagsFromString } from 'node:v8';

const flags = process.env.USHER_MASTER_V8_FLAGS ?? '--lite-mode';
if (flags.trim() !== '') setFlagsFromString(flags);

import('../dist/src/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli.js')) {
    process.stderr.write('usher: not built yet; run `npm install` (or `npm run build`) in the usher folder first\n');
    process.exit(1);
  }
  throw err;
});
