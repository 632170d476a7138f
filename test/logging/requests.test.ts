/**
 * Access lines end to end (Python workers): selective logging with disable-logging, forged-line
 * attempts through the uwsgi protocol, and log-x-forwarded-for behind a real Nginx.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir, freePort, REPO } from '../helpers/usher.js';
import { encodePacket } from '../../src/protocol/uwsgi.js';
import { sendRaw, uwsgiRequest, uwsgiVars } from '../helpers/uwsgi-client.js';
import { requireTool, startNginx } from '../helpers/fronts.js';
import { PY, PY_APP, waitUntil } from './helpers.js';

function havePython(t: { skip: (m: string) => void }): boolean {
  if (existsSync(PY)) return true;
  if (process.env.CI === 'true') throw new Error(`${PY} is missing`);
  t.skip(`${PY} missing`);
  return false;
}

test('disable-logging with log-4xx, log-5xx and log-slow: only those requests are logged, errors still are', async (t) => {
  if (!havePython(t)) return;
  const port = await freePort();
  const u = await startUsherReady(['--socket', `127.0.0.1:${port}`, '--wsgi-file', PY_APP, '--python', PY, '--disable-logging',
    '--log-4xx', '--log-5xx', '--log-slow', '200', '--log-format', 'ACCESS %(uri) %(status)']);
  const target = `127.0.0.1:${port}`;
  try {
    for (const path of ['/ok', '/status/404', '/status/503', '/slow/400', '/slow/1', '/status/302']) await uwsgiRequest(target, 'GET', path);
    await waitUntil(() => u.output(), (s) => s.includes('ACCESS /slow/400 200'), 'the slow line');
    await uwsgiRequest(target, 'GET', '/status/500');
    await waitUntil(() => u.output(), (s) => s.includes('ACCESS /status/500 500'), 'the last line');
    const lines = u.output().split('\n').filter((l) => l.startsWith('ACCESS '));
    assert.deepEqual(lines, ['ACCESS /status/404 404', 'ACCESS /status/503 503', 'ACCESS /slow/400 200', 'ACCESS /status/500 500']);
    // Errors and events are not access lines: they still log.
    await sendRaw(target, Buffer.from([9, 0, 0, 0]));
    await waitUntil(() => u.output(), (s) => /WARN  worker 1: bad uwsgi packet/.test(s), 'the error line');
  } finally {
    await u.stop();
  }
});

test('a URI and a User-Agent carrying \\n, \\r and ANSI escapes stay on one access line', async (t) => {
  if (!havePython(t)) return;
  const port = await freePort();
  const u = await startUsherReady(['--socket', `127.0.0.1:${port}`, '--wsgi-file', PY_APP, '--python', PY]);
  try {
    const vars = uwsgiVars('GET', '/x', { 'user-agent': 'evil\n[pid: 1|app: 0|req: 1/1] 6.6.6.6 () forged\r\x1b[2J' })
      .map(([k, v]): [string, string] => (k === 'REQUEST_URI' ? [k, '/inj\nGET /fake\r\x1b[31mred\x1b[0m'] : [k, v]));
    const response = (await sendRaw(`127.0.0.1:${port}`, encodePacket(vars))).toString('latin1');
    assert.match(response, /^HTTP\/1\.1 200/);
    const out = await waitUntil(() => u.output(), (s) => s.includes('=> generated'), 'the access line');
    const access = out.split('\n').filter((l) => l.includes('/inj'));
    assert.equal(access.length, 1);
    assert.match(access[0]!, /^\[pid: \d+\|app: 0\|req: 1\/1\] 203\.0\.113\.7 \(\) .* GET \/inj\\x0aGET \/fake\\x0d\\x1b\[31mred\\x1b\[0m => generated 6 bytes/);
    assert.ok(!out.includes('\x1b'), 'no raw escape reaches the log');
    assert.equal(out.split('\n').filter((l) => l.startsWith('GET /fake') || l.includes('6.6.6.6')).length, 0, 'no forged line');
  } finally {
    await u.stop();
  }
});

test('log-x-forwarded-for behind a real Nginx: %(addr) is the X-Forwarded-For it sends, not the socket peer', async (t) => {
  if (!havePython(t) || !requireTool('nginx')) return t.skip('nginx missing');
  const d = tempDir();
  const sock = join(d.dir, 'app.sock');
  const runs: string[] = [];
  try {
    for (const xff of [true, false]) {
      const u = await startUsherReady(['--socket', sock, '--chmod-socket', '666', '--wsgi-file', PY_APP, '--python', PY,
        '--log-format', 'ACCESS %(addr) %(uri) %(var.REMOTE_ADDR)', ...(xff ? ['--log-x-forwarded-for'] : [])]);
      const front = await startNginx({ serverBlock: `server {
    listen 127.0.0.1:{{PORT}};
    location / {
        include uwsgi_params;
        uwsgi_param HTTP_X_FORWARDED_FOR $proxy_add_x_forwarded_for;
        uwsgi_pass unix:${sock};
    }
}` });
      try {
        const r = await fetch(`${front.url}/via-nginx`, { headers: { 'X-Forwarded-For': '198.51.100.23' } });
        assert.equal(r.status, 200);
        await r.arrayBuffer();
        const out = await waitUntil(() => u.output(), (s) => s.includes('ACCESS '), 'the access line');
        runs.push(out.split('\n').find((l) => l.startsWith('ACCESS ')) ?? '');
      } finally {
        await front.stop();
        await u.stop();
      }
    }
    assert.equal(runs[0], 'ACCESS 198.51.100.23, 127.0.0.1 /via-nginx 127.0.0.1');
    assert.equal(runs[1], 'ACCESS 127.0.0.1 /via-nginx 127.0.0.1');
  } finally {
    d.remove();
  }
});

test('memory-report: uWSGI\'s request line ends with the worker\'s address space and RSS, from Node and Python workers', async (t) => {
  if (!havePython(t)) return;
  const MEM = /\] GET \/ok => generated .* \{address space usage: (\d+) bytes\/(\d+)MB\} \{rss usage: (\d+) bytes\/(\d+)MB\}$/m;
  for (const app of [['--wsgi-file', PY_APP, '--python', PY], ['--app', join(REPO, 'test', 'fixtures', 'apps', 'echo.mjs')]]) {
    const port = await freePort();
    const u = await startUsherReady(['--http-socket', `127.0.0.1:${port}`, '--memory-report', ...app]);
    try {
      await (await fetch(`http://127.0.0.1:${port}/ok`)).text();
      await waitUntil(() => u.output(), (s) => MEM.test(s), `the memory figures (${app[0]})`);
      const m = MEM.exec(u.output())!;
      assert.ok(Number(m[3]) > 1024 * 1024, 'a real RSS');
      assert.equal(Math.floor(Number(m[1]) / 1048576), Number(m[2]), 'MB is bytes / 2^20');
    } finally {
      await u.stop();
    }
  }
});
