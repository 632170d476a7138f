// The config language's diagnostics: where uWSGI would loop, guess or stay silent, usher names the
// file, line and option (include and placeholder cycles, nested blocks, a switch whose comment makes
// it true, keys uWSGI ignores, placeholders nothing sets). The values themselves are held to uWSGI by
// the corpus (ini-corpus.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readIniFiles, renderHelp, OPTIONS } from '../../src/config/index.js';
import { ConfigError, type UsherErrorCode } from '../../src/errors.js';
import { USHER_BIN } from '../helpers/usher.js';

const RUN = ['--http', '127.0.0.1:1', '--app', 'app.js'];

function withFiles(files: Record<string, string>, fn: (dir: string) => void): void {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'usher-lang-')));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function failure(fn: () => unknown): { code: UsherErrorCode; message: string; file?: string; line?: number; option?: string } {
  try { fn(); } catch (e) {
    if (e instanceof ConfigError) return { code: e.code, message: e.message, ...e.location };
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const load = (dir: string, name = 'uwsgi.ini', env: NodeJS.ProcessEnv = {}) => loadConfig(['--ini', name, ...RUN], env, dir).loaded!;

test('an include cycle is an error naming the chain of files and the line that closes it', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nprocesses = 2\nini = b.ini\n', 'b.ini': '[uwsgi]\nini = uwsgi.ini\n' }, (dir) => {
    const e = failure(() => load(dir));
    assert.equal(e.code, 'USHER_ERR_CONFIG_SYNTAX');
    assert.equal(e.file, join(dir, 'b.ini'));
    assert.equal(e.line, 2);
    assert.equal(e.option, 'ini');
    assert.ok(e.message.includes(`${dir}/uwsgi.ini[uwsgi] -> ${dir}/b.ini[uwsgi] -> ${dir}/uwsgi.ini[uwsgi]`), e.message);
  });
  withFiles({ 'uwsgi.ini': '[uwsgi]\nini = :other\n[other]\nini = :uwsgi\n' }, (dir) => {
    assert.match(failure(() => load(dir)).message, /include cycle: .*uwsgi\.ini\[uwsgi\] -> .*uwsgi\.ini\[other\] -> .*uwsgi\.ini\[uwsgi\]/);
  });
  withFiles({ 'uwsgi.ini': '[uwsgi]\ninherit = base.ini\n', 'base.ini': '[uwsgi]\ninherit = uwsgi.ini\n' }, (dir) => {
    const e = failure(() => load(dir));
    assert.match(e.message, /inherit cycle/);
    assert.equal(e.line, 2);
  });
});

test('an include that cannot be read names the including line and says relative paths start from the current folder', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nini = missing.ini\n' }, (dir) => {
    const e = failure(() => load(dir));
    assert.equal(e.code, 'USHER_ERR_CONFIG_FILE');
    assert.equal(e.line, 2);
    assert.match(e.message, /current folder/);
  });
  withFiles({ 'uwsgi.ini': '[uwsgi]\ninclude = app.yaml\n', 'app.yaml': 'uwsgi:\n  processes: 2\n' }, (dir) => {
    const e = failure(() => load(dir));
    assert.equal(e.code, 'USHER_ERR_CONFIG_BAD_VALUE');
    assert.equal(e.line, 2);
    assert.match(e.message, /ini files only/);
  });
});

test('blocks do not nest; an unclosed block warns; an endif without a block warns', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nif-env = HOME\nfor = a b\nendfor\nendif\n' }, (dir) => {
    const e = failure(() => load(dir, 'uwsgi.ini', { HOME: '/root' }));
    assert.equal(e.code, 'USHER_ERR_CONFIG_SYNTAX');
    assert.equal(e.line, 3);
    assert.match(e.message, /opened at .*:2/);
  });
  withFiles({ 'uwsgi.ini': '[uwsgi]\nif-env = HOME\nprocesses = 3\nendfor = \nendif\n' }, (dir) => {
    const l = load(dir, 'uwsgi.ini', { HOME: '/root' });
    assert.equal(l.config.processes, 3);
    assert.ok(l.diagnostics.some((d) => d.line === 5 && /without an open/.test(d.message)));
  });
  withFiles({ 'uwsgi.ini': '[uwsgi]\nif-not-env = HOME\nprocesses = 3\n' }, (dir) => {
    const l = load(dir, 'uwsgi.ini', {});
    assert.equal(l.config.processes, 3);
    assert.ok(l.diagnostics.some((d) => d.line === 2 && /no endif/.test(d.message)));
  });
});

test('if-* applies one branch only, and a typo inside a taken block still warns with the nearest option', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nif-env = PROD\nprocesses = 8\nvaccum = true\nendif\nif-not-env = PROD\nprocesses = 1\nendif\n' }, (dir) => {
    const prod = load(dir, 'uwsgi.ini', { PROD: '1' });
    assert.equal(prod.config.processes, 8);
    assert.ok(prod.diagnostics.some((d) => d.code === 'USHER_ERR_CONFIG_UNKNOWN_OPTION' && d.line === 4 && d.message.includes('"vacuum"')));
    const dev = load(dir, 'uwsgi.ini', {});
    assert.equal(dev.config.processes, 1);
    assert.ok(!dev.diagnostics.some((d) => d.code === 'USHER_ERR_CONFIG_UNKNOWN_OPTION'), 'the skipped branch is not read');
  });
});

test('@(file) that cannot be read is an error naming the line (uWSGI stops too)', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nprocesses = 2\npidfile = @(missing.txt)\n' }, (dir) => {
    const e = failure(() => load(dir));
    assert.equal(e.code, 'USHER_ERR_CONFIG_FILE');
    assert.equal(e.line, 3);
    assert.equal(e.option, 'pidfile');
  });
});

test('command-line values expand $(ENV) and %(key) from the ini files, as uWSGI\'s flags do', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nname = shop\nprocesses = 2\n' }, (dir) => {
    const c = loadConfig(['--ini', 'uwsgi.ini', '--pidfile', '/run/%(name)-$(TAG).pid', '--threads', '%(processes + 1)', ...RUN], { TAG: 'blue' }, dir).loaded!.config;
    assert.equal(c.pidfile, '/run/shop-blue.pid');
    assert.equal(c.threads, 3);
    const e = failure(() => loadConfig(['--ini', 'uwsgi.ini', '--pidfile', '/run/%(nope).pid', ...RUN], {}, dir));
    assert.equal(e.code, 'USHER_ERR_CONFIG_BAD_VALUE');
    assert.equal(e.option, 'pidfile');
  });
});

test('a mistyped block opener warns with the directive it nearly is', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nif-evn = PROD\nprocesses = 8\nendif\n' }, (dir) => {
    const l = load(dir);
    assert.ok(l.diagnostics.some((d) => d.code === 'USHER_ERR_CONFIG_UNKNOWN_OPTION' && d.line === 2 && d.message.includes('"if-env"')));
  });
});

test('placeholders: nothing sets it, %(_) outside a block, a cycle, and an immediate option are errors with file, line and option', () => {
  const cases: [string, RegExp, number, string][] = [
    ['[uwsgi]\npidfile = %(nope)/x.pid\n', /%\(nope\) is not defined/, 2, 'pidfile'],
    ['[uwsgi]\npidfile = %(_).pid\n', /only inside an if-\*\/for block/, 2, 'pidfile'],
    ['[uwsgi]\nchdir = %(a)\na = %(b)\nb = %(a)\n', /placeholder cycle: /, 3, 'a'],
    ['[uwsgi]\nprocs = 100\nlisten = %(procs)\n', /before \$\(\.\.\.\) and %\(\.\.\.\) are expanded/, 3, 'listen'],
  ];
  for (const [text, re, line, option] of cases) {
    withFiles({ 'uwsgi.ini': text }, (dir) => {
      const e = failure(() => load(dir));
      assert.equal(e.code, 'USHER_ERR_CONFIG_BAD_VALUE', text);
      assert.match(e.message, re, text);
      assert.equal(e.line, line, text);
      assert.equal(e.option, option, text);
      assert.equal(e.file, join(dir, 'uwsgi.ini'));
    });
  }
});

test('a switch whose inline comment makes uWSGI read it as true is true, with a warning; a word uWSGI reads as true by accident is refused', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nvacuum = false ; keep the sockets\n' }, (dir) => {
    const l = load(dir);
    assert.equal(l.config.vacuum, true);
    assert.ok(l.diagnostics.some((d) => d.line === 2 && /true for uWSGI/.test(d.message)));
  });
  withFiles({ 'uwsgi.ini': '[uwsgi]\nvacuum = disabled\n' }, (dir) => {
    const e = failure(() => load(dir));
    assert.equal(e.code, 'USHER_ERR_CONFIG_BAD_VALUE');
    assert.match(e.message, /uWSGI would read "disabled" as true/);
  });
});

test('a comment after a path stays part of it (as in uWSGI) and gets a warning', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\npidfile = /tmp/x.pid ; the pid\n' }, (dir) => {
    const l = load(dir);
    assert.equal(l.config.pidfile, '/tmp/x.pid ; the pid');
    assert.ok(l.diagnostics.some((d) => d.line === 2 && /inline comment/.test(d.message)));
  });
});

test('keys uWSGI ignores in ini files are not taken; strict makes them errors', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nt = 30\nharakiri_verbose = true\nchmod_socket = 660\n' }, (dir) => {
    const l = load(dir);
    assert.equal(l.config.harakiri, 0);
    assert.equal(l.config.chmodSocket, undefined);
    const msgs = l.diagnostics.filter((d) => d.code === 'USHER_ERR_CONFIG_UNKNOWN_OPTION').map((d) => d.message);
    assert.equal(msgs.length, 3);
    assert.ok(msgs[0]!.includes('write `harakiri = 30`'));
    assert.ok(msgs[1]!.includes('write `harakiri-verbose = true`'));
    assert.ok(msgs[2]!.includes('write `chmod-socket = 660`'));
  });
  withFiles({ 'uwsgi.ini': '[uwsgi]\nstrict = true\np = 4\n' }, (dir) => {
    const e = failure(() => load(dir));
    assert.equal(e.code, 'USHER_ERR_CONFIG_UNKNOWN_OPTION');
    assert.equal(e.line, 3);
  });
  // on the command line the letters are uWSGI's short options
  assert.equal(loadConfig(['-p', '3', ...RUN], {}).loaded!.config.processes, 3);
});

test('magic vars: an unknown one warns (uWSGI drops it), a % ending a line is an error', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\npidfile = /tmp/%z.pid\n' }, (dir) => {
    const l = load(dir);
    assert.equal(l.config.pidfile, '/tmp/.pid');
    assert.ok(l.diagnostics.some((d) => d.line === 2 && /%z is not a magic variable/.test(d.message)));
  });
  withFiles({ 'uwsgi.ini': '[uwsgi]\npidfile = /tmp/100%\n' }, (dir) => {
    assert.equal(failure(() => load(dir)).code, 'USHER_ERR_CONFIG_SYNTAX');
  });
});

test('log-format keeps the logger\'s %(vars) for the logger', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nlog-format = %(addr) %(status) %(app)\napp = shop\n' }, (dir) => {
    const e = readIniFiles(['uwsgi.ini'], {}, dir).entries.find((x) => x.key === 'log-format')!;
    assert.equal(e.value, '%(addr) %(status) shop');
    assert.deepEqual(e.unresolved, ['addr', 'status']);
  });
});

test('http11-socket is http-socket; buffer-size above 65535 is 65535 with a warning', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nhttp11-socket = 127.0.0.1:9\napp = a.js\nbuffer-size = 1000000\n' }, (dir) => {
    const l = loadConfig(['--ini', 'uwsgi.ini'], {}, dir).loaded!;
    assert.deepEqual(l.config.httpSocket, ['127.0.0.1:9']);
    assert.equal(l.config.bufferSize, 65535);
    assert.ok(l.diagnostics.some((d) => /using 65535/.test(d.message)));
  });
});

test('usher --show-config is --print-config: prints the resolved file and exits', () => {
  withFiles({ 'uwsgi.ini': '[uwsgi]\nhttp = 127.0.0.1:1\napp = a.js\nprocesses = %(%k * 0 + 3) ; three\n' }, (dir) => {
    const r = spawnSync(process.execPath, [USHER_BIN, '--ini', 'uwsgi.ini', '--show-config'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`processes = 3 +; ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/uwsgi\\.ini:4`));
  });
});

test('--help says for every option whether usher honours it, accepts it as a no-op, or does not do it yet', () => {
  const help = renderHelp();
  const [honoured, rest] = help.split('uWSGI options accepted as documented no-ops');
  const [accepted, notYet] = rest!.split('uWSGI options usher does not do yet');
  for (const o of OPTIONS) {
    const section = o.status === 'implemented' ? honoured : o.status === 'accepted' ? accepted : notYet;
    assert.ok(section!.includes(o.status === 'implemented' ? `--${o.name}` : o.name), `${o.name} (${o.status})`);
  }
  assert.match(help, /--print-config, --show-config/);
  assert.match(help, /Config language/);
});
