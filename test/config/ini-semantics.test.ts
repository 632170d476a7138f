// uWSGI ini semantics: the seed's files, sections, comments, bare keys, booleans, repeated keys,
// magic vars (%d %n ...), %(placeholders), $(ENV), and precedence file < env < CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';

function withIni(text: string, fn: (file: string, dir: string) => void, name = 'uwsgi.ini'): void {
  const dir = mkdtempSync(join(tmpdir(), 'usher-ini-'));
  try {
    const file = join(dir, name);
    writeFileSync(file, text);
    fn(file, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the seed\'s mode 1 file, verbatim', () => {
  withIni(`[uwsgi]
http = 127.0.0.1:8080
chdir = /home/debian/guestbook_project
wsgi-file = guestbook_project/wsgi.py
processes = 4
threads = 2
master = true
vacuum = true
`, (file) => {
    const { loaded } = loadConfig(['--ini', file]);
    const c = loaded!.config;
    assert.deepEqual(c.http, ['127.0.0.1:8080']);
    assert.equal(c.chdir, '/home/debian/guestbook_project');
    assert.equal(c.wsgiFile, 'guestbook_project/wsgi.py');
    assert.equal(c.processes, 4);
    assert.equal(c.threads, 2);
    assert.equal(c.master, true);
    assert.equal(c.vacuum, true);
    assert.deepEqual(loaded!.diagnostics, []);
    assert.deepEqual(c.sources.processes, { kind: 'file', file, line: 5 });
  });
});

test('the seed\'s mode 2 file, verbatim (blank lines, chmod-socket)', () => {
  withIni(`[uwsgi]
socket = /run/uwsgi/guestbook.sock
chmod-socket = 660

chdir = /home/debian/guestbook_project
wsgi-file = guestbook_project/wsgi.py

processes = 4
threads = 2
master = true
vacuum = true
`, (file) => {
    const c = loadConfig(['--ini', file]).loaded!.config;
    assert.deepEqual(c.socket, ['/run/uwsgi/guestbook.sock']);
    assert.equal(c.chmodSocket, 0o660);
  });
});

test('comments, bare keys, booleans, repeated keys, sections', () => {
  withIni(`# a comment
; another
[other]
processes = 9
[uwsgi]
socket = /tmp/a.sock
socket = 127.0.0.1:3031
env = A=1
env = B=two words
master
vacuum = off
disable-logging = yes
chmod-socket
app = app.js
`, (file) => {
    const c = loadConfig([file]).loaded!.config;
    assert.deepEqual(c.socket, ['/tmp/a.sock', '127.0.0.1:3031']);
    assert.deepEqual(c.env, ['A=1', 'B=two words']);
    assert.equal(c.processes, 1, '[other] is not read');
    assert.equal(c.master, true);
    assert.equal(c.vacuum, false);
    assert.equal(c.disableLogging, true);
    assert.equal(c.chmodSocket, 0o666, 'a bare chmod-socket is 666');
  });
});

test('FILE:section picks a section; [usher] is read when there is no [uwsgi]', () => {
  withIni('[uwsgi]\nhttp = :1\napp = a.js\n[prod]\nhttp = :2\napp = a.js\nprocesses = 8\n', (file) => {
    const c = loadConfig(['--ini', `${file}:prod`]).loaded!.config;
    assert.deepEqual(c.http, [':2']);
    assert.equal(c.processes, 8);
  });
  withIni('[usher]\nhttp = :3\napp = a.js\n', (file) => {
    assert.deepEqual(loadConfig(['--ini', file]).loaded!.config.http, [':3']);
  });
});

test('magic vars, placeholders and environment expansion', () => {
  withIni(`[uwsgi]
base = /srv/app
chdir = %(base)/current
socket = %d%n.sock
pidfile = /run/%n.pid
app = $(USHER_TEST_APP)
logto = %(base)/log/%s.log
`, (file, dir) => {
    const { loaded } = loadConfig(['--ini', file], { ...process.env, USHER_TEST_APP: 'server.mjs' });
    const c = loaded!.config;
    assert.equal(c.chdir, '/srv/app/current');
    assert.deepEqual(c.socket, [`${dir}/myapp.sock`]);
    assert.equal(c.pidfile, '/run/myapp.pid');
    assert.equal(c.app, 'server.mjs');
    assert.equal(c.logto, '/srv/app/log/myapp.ini.log');
    assert.deepEqual(loaded!.diagnostics, [], 'a custom key used as a placeholder is not an unknown option');
  }, 'myapp.ini');
});

test('precedence: file < USHER_* environment < command line', () => {
  withIni('[uwsgi]\nhttp = :8080\nprocesses = 2\nthreads = 3\napp = a.js\n', (file) => {
    const c = loadConfig(['--ini', file, '--processes', '6', '--http=:9090'], { USHER_THREADS: '5', USHER_PROCESSES: '4' }).loaded!.config;
    assert.equal(c.processes, 6);
    assert.equal(c.threads, 5);
    assert.deepEqual(c.http, [':9090'], 'a repeatable option given on the CLI replaces the file\'s');
    assert.equal(c.sources.processes?.kind, 'cli');
    assert.equal(c.sources.threads?.kind, 'env');
  });
});

test('a placeholder nothing in the file defines is an error naming file and line (one defined further down is fine)', () => {
  withIni('[uwsgi]\nchdir = %(later)/x\nlater = /srv\nhttp = :1\napp = a.js\n', (file) => {
    assert.equal(loadConfig(['--ini', file]).loaded!.config.chdir, '/srv/x');
  });
  withIni('[uwsgi]\nchdir = %(nope)/x\n', (file) => {
    assert.throws(() => loadConfig(['--ini', file]), (e: unknown) => e instanceof ConfigError && e.code === 'USHER_ERR_CONFIG_BAD_VALUE' && e.location.line === 2);
  });
});
