// The ini corpus: every file in test/fixtures/ini/ (one construct each) resolves in usher to what
// uWSGI 2.0 resolves it to. NAME.expected holds what Debian's `uwsgi --ini NAME.ini --show-config`
// printed (the expanded option list), with @TOKENS@ for what depends on the machine. When uwsgi is
// installed the test also runs it live and checks both the committed expectation and usher against
// it; without uwsgi it fails under CI=true and otherwise compares with the committed files.
// `; expect: option = value` lines in a fixture check the typed value usher's config takes from it,
// `; expect-warning: text` a diagnostic. USHER_CAPTURE_INI=1 rewrites the .expected files from uwsgi.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readIniFiles, OPTIONS } from '../../src/config/index.js';
import { REPO } from '../helpers/usher.js';

const DIR = realpathSync(join(REPO, 'test', 'fixtures', 'ini'));
const ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, USHER_FX_SET: 'hello', USHER_FX_EMPTY: '' };
/** Options that make uwsgi bind, write or move before it prints its config: no fixture may use them. */
const ACTS = /^\s*(socket|http|http-socket|https|uwsgi-socket|http11-socket|pidfile|pidfile2|safe-pidfile|chdir|logto|logto2|daemonize|daemonize2|touch-reload)\s*=/m;
const FIXTURES = readdirSync(DIR).filter((f) => f.endsWith('.ini')).sort();

function groupName(gid: number): string {
  const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[2] === String(gid));
  return line?.split(':')[0] ?? String(gid);
}

/** Machine-dependent values, as they appear in the .expected files. */
function tokens(): Record<string, string> {
  const parts = DIR.split('/').filter((p) => p !== '');
  const t: Record<string, string> = {
    '@DIR@': `${DIR}/`, '@CWD@': DIR, '@CPUS@': String(cpus().length), '@CPUS2@': String(cpus().length * 2), '@HOST@': hostname(),
    '@UID@': String(process.getuid!()), '@USER@': userInfo().username, '@GID@': String(process.getgid!()), '@GROUP@': groupName(process.getgid!()),
  };
  for (let i = 0; i <= 9; i++) t[`@P${i}@`] = parts[i] ?? '';
  return t;
}

function expectedLines(name: string): string[] {
  const t = tokens();
  return readFileSync(join(DIR, name.replace(/\.ini$/, '.expected')), 'utf8').split('\n')
    .filter((l) => l !== '' && !l.startsWith(';'))
    .map((l) => l.replace(/@[A-Z0-9]+@/g, (m) => t[m] ?? m));
}

function uwsgiVersion(): string | undefined {
  const r = spawnSync('uwsgi', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** uWSGI's own resolution: the --show-config block, minus the --ini and --show-config lines themselves. */
function uwsgiLines(name: string): string[] {
  assert.doesNotMatch(readFileSync(join(DIR, name), 'utf8'), ACTS, `${name} would make uwsgi act, not just print`);
  const r = spawnSync('uwsgi', ['--ini', name, '--show-config'], { cwd: DIR, env: ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000, killSignal: 'SIGKILL' });
  const out = `${r.stdout}${r.stderr}`;
  const block = /;uWSGI instance configuration\n\[uwsgi\]\n([\s\S]*?);end of configuration/.exec(out)?.[1];
  assert.ok(block !== undefined, `uwsgi printed no config for ${name}:\n${out}`);
  const lines = block.split('\n').filter((l) => l !== '');
  assert.equal(lines[0], `ini = ${name}`);
  return lines.slice(1).filter((l) => l !== 'show-config = true');
}

function usherLines(name: string): string[] {
  const lines = readIniFiles([name], ENV, DIR).entries.map((e) => `${e.key} = ${e.value ?? ''}`);
  assert.equal(lines[0], `ini = ${name}`);
  return lines.slice(1);
}

const version = uwsgiVersion();

test('the ini corpus has a fixture per construct, none of which binds a socket when uwsgi reads it', () => {
  assert.ok(FIXTURES.length >= 15);
  for (const f of FIXTURES) assert.doesNotMatch(readFileSync(join(DIR, f), 'utf8'), ACTS, f);
});

test('uwsgi is installed to hold usher to (required under CI)', { skip: version === undefined && process.env.CI !== 'true' ? 'uwsgi not installed: comparing with the committed captures' : false }, () => {
  assert.ok(version, 'uwsgi is not installed: install Debian\'s uwsgi (see .ci/run)');
});

for (const name of FIXTURES) {
  test(`ini corpus: ${name} resolves as uWSGI resolves it`, () => {
    if (version !== undefined) {
      const live = uwsgiLines(name);
      if (process.env.USHER_CAPTURE_INI === '1') {
        // keep the committed line (with its @TOKENS@) wherever it still says what uwsgi says
        const t = tokens();
        const file = join(DIR, name.replace(/\.ini$/, '.expected'));
        const before = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith(';')) : [];
        const body = live.map((l, i) => (before[i] !== undefined && before[i]!.replace(/@[A-Z0-9]+@/g, (m) => t[m] ?? m) === l
          ? before[i]! : l.split(`${DIR}/`).join('@DIR@').split(DIR).join('@CWD@'))).join('\n');
        writeFileSync(join(DIR, name.replace(/\.ini$/, '.expected')), `; uwsgi --ini ${name} --show-config, uWSGI ${version}, cwd = this folder; @TOKENS@ stand for what differs between machines\n${body}\n`);
      }
      assert.deepEqual(expectedLines(name), live, `${name}: the committed capture no longer matches uwsgi ${version}; recapture with USHER_CAPTURE_INI=1`);
      assert.deepEqual(usherLines(name), live);
    } else {
      assert.deepEqual(usherLines(name), expectedLines(name));
    }
  });

  test(`ini corpus: ${name} gives usher the typed values and warnings it expects`, () => {
    const text = readFileSync(join(DIR, name), 'utf8');
    const t = tokens();
    const { loaded } = loadConfig(['--ini', name, '--http', '127.0.0.1:1', '--app', 'app.js'], ENV, DIR);
    const lists = new Map<string, string[]>();
    for (const m of text.matchAll(/^; expect: ([\w-]+) = (.*)$/gm)) {
      const def = OPTIONS.find((o) => o.name === m[1])!;
      const v = loaded!.config[def.field!];
      const want = (m[2] as string).replace(/@[A-Z0-9]+@/g, (x) => t[x] ?? x);
      if (Array.isArray(v)) lists.set(def.name, [...(lists.get(def.name) ?? []), want]);
      else assert.equal(def.type === 'mode' && typeof v === 'number' ? v.toString(8) : String(v), want, `${name}: ${def.name}`);
    }
    for (const [opt, want] of lists) assert.deepEqual(loaded!.config[OPTIONS.find((o) => o.name === opt)!.field!], want, `${name}: ${opt}`);
    for (const m of text.matchAll(/^; expect-warning: (.*)$/gm)) {
      assert.ok(loaded!.diagnostics.some((d) => d.message.includes(m[1] as string)), `${name}: no diagnostic says ${m[1]}; got ${JSON.stringify(loaded!.diagnostics.map((d) => d.message))}`);
    }
  });
}

test('the magic vars that change with time or place (%j %i %t %T) match uwsgi\'s on the same file', { skip: version === undefined && process.env.CI !== 'true' ? 'uwsgi not installed' : false }, () => {
  assert.ok(version, 'uwsgi is not installed');
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'usher-magic-')));
  try {
    writeFileSync(join(dir, 'when.ini'), '[uwsgi]\nhash = %j\ninode = %i\nsecs = %t\nmicros = %T\n');
    const r = spawnSync('uwsgi', ['--ini', 'when.ini', '--show-config'], { cwd: dir, env: ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    const theirs = Object.fromEntries([...`${r.stdout}${r.stderr}`.matchAll(/^(hash|inode|secs|micros) = (.*)$/gm)].map((m) => [m[1], m[2]]));
    const ours = Object.fromEntries(readIniFiles(['when.ini'], ENV, dir).entries.map((e) => [e.key, e.value]));
    assert.equal(ours.hash, theirs.hash);
    assert.match(ours.hash!, /^[0-9A-F]{8}$/);
    assert.equal(ours.inode, theirs.inode);
    assert.ok(Math.abs(Number(ours.secs) - Number(theirs.secs)) < 600, `${ours.secs} vs ${theirs.secs}`);
    assert.ok(Math.abs(Number(ours.micros) / 1e6 - Number(theirs.micros) / 1e6) < 600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
