// "An option is honoured, or it says so": every implemented option (or one of its aliases) is set by
// some test — on a command line (`--name`), in an ini fixture or an ini string (`name = …`) or in a shared fixture
// corpus (`"name":`) — so an option cannot be listed as implemented with nothing that exercises it.
// This file and the options table itself do not count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { OPTIONS } from '../../src/config/options.js';
import { REPO } from '../helpers/usher.js';

const SELF = join('test', 'config', 'options-tested.test.ts');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('every implemented option is set by at least one test or fixture', () => {
  const corpus = files(join(REPO, 'test'))
    .filter((p) => /\.(ts|mjs|cjs|js|py|ini|json|sh|conf)$/.test(p) && relative(REPO, p) !== SELF)
    .map((p) => readFileSync(p, 'utf8'))
    .join('\n');
  const untested = OPTIONS.filter((d) => d.status === 'implemented').filter((d) => ![d.name, ...(d.aliases ?? [])].some((n) => {
    const e = escape(n);
    return new RegExp(`--${e}(?![\\w-])|^[ \\t]*${e}[ \\t]*=|['"\`\\n]${e} = |"${e}":|'${e}'[,\\]]`, 'm').test(corpus);
  })).map((d) => d.name);
  assert.deepEqual(untested, [], 'implemented options that no test sets');
});
