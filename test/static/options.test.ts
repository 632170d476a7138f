// The static-file options as uWSGI files write them: parsed from a real ini into the StaticSpec the
// children get (order kept: check-static, static-map, static-map2; relative paths against chdir);
// bad values are config errors naming file, line and option; the uWSGI static options usher does not
// do warn by name; offload-threads says why it changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { buildStaticSpec } from '../../src/static/index.js';
import { tempDir } from '../helpers/usher.js';

function withIni<T>(body: string, fn: (file: string, dir: string) => T): T {
  const tmp = tempDir('usher-static-cfg-');
  try {
    const file = join(tmp.dir, 'uwsgi.ini');
    writeFileSync(file, `[uwsgi]\nhttp = :8080\nwsgi-file = app.py\n${body}`);
    return fn(file, tmp.dir);
  } finally {
    tmp.remove();
  }
}

test('static options from an ini become the StaticSpec, in uWSGI\'s order, paths resolved against chdir', () => {
  withIni([
    'chdir = /srv/app',
    'static-map = /static=static',
    'static-map = /media=/var/media',
    'static-map2 = /assets=/srv/site',
    'check-static = public',
    'static-index = index.html',
    'static-skip-ext = .php',
    'static-safe = /usr/share/javascript',
    'static-gzip-dir = static/dist',
    'mimefile = /etc/mime.types',
    'static-expires-type = text/css=3600',
    'static-expires-type-mtime = image/png=86400',
    'static-expires-uri = ^/static/ 60',
    'static-expires-uri-mtime = ^/media/ 30',
    'static-expires = \\.js$ 120',
    'static-expires-mtime = \\.woff2$ 31536000',
    '',
  ].join('\n'), (file) => {
    const { loaded } = loadConfig(['--ini', file]);
    const spec = buildStaticSpec(loaded!.config, { cwd: '/' })!;
    assert.deepEqual(buildStaticSpec(loaded!.config, { base: '/srv/app' }), spec, 'after the master\'s chdir, the same spec');
    assert.deepEqual(spec.maps, [
      { mount: '/', root: '/srv/app/public', keepMount: true },
      { mount: '/static', root: '/srv/app/static', keepMount: false },
      { mount: '/media', root: '/var/media', keepMount: false },
      { mount: '/assets', root: '/srv/site', keepMount: true },
    ]);
    assert.deepEqual(spec.index, ['index.html']);
    assert.deepEqual(spec.skipExt, ['.php']);
    assert.deepEqual(spec.safe, ['/usr/share/javascript']);
    assert.deepEqual(spec.gzipDirs, ['/srv/app/static/dist']);
    assert.equal(spec.gzipAll, false);
    assert.deepEqual(spec.mimefiles, ['/etc/mime.types']);
    assert.deepEqual(spec.expires.map((r) => [r.on, r.match, r.seconds, r.fromMtime]), [
      ['file', '\\.js$', 120, false], ['file', '\\.woff2$', 31536000, true], ['uri', '^/static/', 60, false], ['uri', '^/media/', 30, true],
      ['type', 'text/css', 3600, false], ['type', 'image/png', 86400, true],
    ]);
    assert.ok(!loaded!.diagnostics.some((d) => d.option?.startsWith('static') || d.option === 'check-static'), 'no warning for options usher does');
  });
});

test('no static option: no StaticSpec (children skip the static hook entirely)', () => {
  withIni('', (file) => {
    assert.equal(buildStaticSpec(loadConfig(['--ini', file]).loaded!.config), undefined);
  });
});

test('a bad static value is a config error naming file, line and option', () => {
  const cases: [string, string][] = [
    ['static-map = static=/srv/static', 'static-map'],
    ['static-map = /static', 'static-map'],
    ['static-map2 = /x=', 'static-map2'],
    ['static-expires-type = text/css', 'static-expires-type'],
    ['static-expires-type = text/css=soon', 'static-expires-type'],
    ['static-expires = \\.css$', 'static-expires'],
    ['static-expires-uri = ([ 60', 'static-expires-uri'],
    ['static-index = ../index.html', 'static-index'],
  ];
  for (const [line, option] of cases) {
    withIni(`static-map = /ok=/srv\n${line}\n`, (file) => {
      let err: unknown;
      try {
        loadConfig(['--ini', file]);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof ConfigError, `${line}: a ConfigError`);
      assert.equal(err.code, 'USHER_ERR_CONFIG_BAD_VALUE', line);
      assert.equal(err.location.option, option, line);
      assert.equal(err.location.file, file, line);
      assert.equal(err.location.line, 5, line);
      assert.ok(err.message.includes(`${file}:5`), `${line}: the message names file:line`);
    });
  }
});

test('uWSGI static options usher does not do yet warn by name; offload-threads is accepted and says why', () => {
  withIni('static-map = /s=/srv\nstatic-gzip-ext = .css\ncheck-static-docroot = true\noffload-threads = 4\n', (file) => {
    const { loaded } = loadConfig(['--ini', file]);
    const warned = loaded!.diagnostics.filter((d) => d.code === 'unimplemented').map((d) => d.option);
    assert.deepEqual(warned, ['static-gzip-ext', 'check-static-docroot']);
    const offload = loaded!.diagnostics.find((d) => d.option === 'offload-threads');
    assert.equal(offload?.level, 'info');
    assert.match(offload!.message, /sendfile/);
  });
});
