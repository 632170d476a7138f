#!/usr/bin/env node
// The installed entry point: the compiled CLI lives in dist/ (built by `npm install` via `prepare`).
import('../dist/src/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli.js')) {
    process.stderr.write('usher: not built yet; run `npm install` (or `npm run build`) in the usher folder first\n');
    process.exit(1);
  }
  throw err;
});
