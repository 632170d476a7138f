// Config errors say where and what: unknown keys warn with the nearest option (errors under strict),
// bad values and missing pieces are errors with stable codes naming file, line and option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, renderHelp, renderConfig, renderOptionsMarkdown, OPTIONS } from '../../src/config/index.js';
import { ConfigError, ERROR_DOCS, type UsherErrorCode } from '../../src/errors.js';
import { REPO } from '../helpers/usher.js';

function ini(text: string): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'usher-cfg-'));
  const file = join(dir, 'uwsgi.ini');
  writeFileSync(file, text);
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function code(fn: () => unknown): { code: UsherErrorCode; line?: number; option?: string; file?: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return { code: e.code, line: e.location.line, option: e.location.option, file: e.location.file };
    throw e;
  }
  throw new Error('expected a ConfigError');
}

test('unknown key: a warning with file, line and the nearest option; usher still starts', () => {
  const f = ini('[uwsgi]\nhttp = :8080\napp = a.js\nvaccum = true\n');
  try {
    const { loaded } = loadConfig(['--ini', f.file]);
    const d = loaded!.diagnostics.find((x) => x.code === 'USHER_ERR_CONFIG_UNKNOWN_OPTION');
    assert.ok(d);
    assert.equal(d.level, 'warn');
    assert.equal(d.line, 4);
    assert.equal(d.option, 'vaccum');
    assert.match(d.message, /"vacuum"/);
    assert.ok(d.message.includes(`${f.file}:4`));
  } finally { f.done(); }
});

test('unknown key under strict (file or flag) is an error', () => {
  const f = ini('[uwsgi]\nstrict = true\nhttp = :8080\napp = a.js\nproccesses = 4\n');
  try {
    const e = code(() => loadConfig(['--ini', f.file]));
    assert.equal(e.code, 'USHER_ERR_CONFIG_UNKNOWN_OPTION');
    assert.equal(e.line, 5);
  } finally { f.done(); }
  const g = ini('[uwsgi]\nhttp = :8080\napp = a.js\nvaccum\n');
  try {
    assert.equal(code(() => loadConfig(['--ini', g.file, '--strict'])).code, 'USHER_ERR_CONFIG_UNKNOWN_OPTION');
  } finally { g.done(); }
});

test('unknown command-line flag is an error with a suggestion', () => {
  const e = code(() => loadConfig(['--http', ':1', '--app', 'a.js', '--proceses', '2']));
  assert.equal(e.code, 'USHER_ERR_CONFIG_UNKNOWN_OPTION');
});

test('bad values: code, file, line and option', () => {
  for (const [line, expectOption] of [['processes = four', 'processes'], ['chmod-socket = 999', 'chmod-socket'], ['buffer-size = -1', 'buffer-size'], ['master = maybe', 'master'], ['env = NOEQUALS', 'env']] as const) {
    const f = ini(`[uwsgi]\nhttp = :8080\napp = a.js\n${line}\n`);
    try {
      const e = code(() => loadConfig(['--ini', f.file]));
      assert.equal(e.code, 'USHER_ERR_CONFIG_BAD_VALUE', line);
      assert.equal(e.line, 4, line);
      assert.equal(e.option, expectOption, line);
      assert.equal(e.file, f.file);
    } finally { f.done(); }
  }
});

test('uWSGI options usher accepts (info) and the ones it does not do yet (warning by name)', () => {
  const f = ini('[uwsgi]\nplugins = python3,http\nenable-threads = true\nhttp = :8080\napp = a.js\nspooler = /tmp/spool\n');
  try {
    const d = loadConfig(['--ini', f.file]).loaded!.diagnostics;
    assert.deepEqual(d.map((x) => [x.level, x.option]), [['info', 'plugins'], ['info', 'enable-threads'], ['warn', 'spooler']]);
  } finally { f.done(); }
});

test('missing pieces and conflicts', () => {
  assert.equal(code(() => loadConfig(['--app', 'a.js'])).code, 'USHER_ERR_CONFIG_MISSING');
  assert.equal(code(() => loadConfig(['--http', ':1'])).code, 'USHER_ERR_CONFIG_MISSING');
  assert.equal(code(() => loadConfig(['--http', ':1', '--app', 'a.js', '--wsgi-file', 'w.py'])).code, 'USHER_ERR_CONFIG_CONFLICT');
  assert.equal(code(() => loadConfig(['--ini', '/nonexistent/uwsgi.ini'])).code, 'USHER_ERR_CONFIG_FILE');
});

test('--help lists every implemented option; --print-config shows where values came from', () => {
  const help = renderHelp();
  for (const o of OPTIONS.filter((x) => x.status === 'implemented')) assert.ok(help.includes(`--${o.name}`), o.name);
  const f = ini('[uwsgi]\nhttp = :8080\napp = a.js\nprocesses = 4\n');
  try {
    const out = renderConfig(loadConfig(['--ini', f.file, '--threads', '2']).loaded!.config);
    assert.match(out, new RegExp(`processes = 4 +; ${f.file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4`));
    assert.match(out, /threads = 2 +; command line/);
    assert.match(out, /listen = 100 +; default/);
  } finally { f.done(); }
});

test('every error code is documented, and the README option table matches the options table', () => {
  for (const c of Object.keys(ERROR_DOCS)) assert.ok((ERROR_DOCS as Record<string, string>)[c]!.length > 20, c);
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const block = /<!-- options:start -->\n([\s\S]*?)<!-- options:end -->/.exec(readme)?.[1];
  assert.equal(block, renderOptionsMarkdown(), 'README options table is stale: regenerate it with `npm run docs`');
  for (const c of Object.keys(ERROR_DOCS)) assert.ok(readme.includes(c), `README documents ${c}`);
});
