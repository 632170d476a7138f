/**
 * The same request through a real Nginx (uwsgi_pass) to a Node worker and to a Python worker gives the
 * same access line, with a log-format read from an ini file (its %(vars) left for the logger), and
 * the same default uWSGI line, times and pids masked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUsherReady, tempDir } from '../helpers/usher.js';
import { requireTool, startNginx } from '../helpers/fronts.js';
import { NODE_APP, PY, PY_APP, waitUntil } from './helpers.js';

const FORMAT = 'ACCESS %(addr) [%(user)] %(method) %(uri) %(proto) %(status) %(rsize) %(cl) "%(referer)" "%(uagent)" %(host) '
  + '%(var.HTTP_X_TRACE) %(var.REQUEST_METHOD) %(var.NOPE) %(vars) %(pktsize) %(switches) %(core) %(wid) [%(ltime)] %(msecs)';

async function lineFrom(runtime: 'node' | 'python', dir: string): Promise<{ custom: string; uwsgi: string }> {
  const sock = join(dir, `${runtime}.sock`);
  const out: string[] = [];
  for (const custom of [true, false]) {
    const ini = join(dir, `${runtime}-${custom}.ini`);
    writeFileSync(ini, `[uwsgi]\nsocket = ${sock}\nchmod-socket = 666\n${custom ? `log-format = ${FORMAT}\n` : ''}`);
    const app = runtime === 'node' ? ['--app', NODE_APP] : ['--wsgi-file', PY_APP, '--python', PY];
    const u = await startUsherReady(['--ini', ini, ...app]);
    const front = await startNginx({ serverBlock: `server {
    listen 127.0.0.1:{{PORT}};
    location / { include uwsgi_params; uwsgi_pass unix:${sock}; }
}` });
    try {
      const r = await fetch(`${front.url}/same/path?q=1`, { method: 'POST', body: 'abc', headers: { 'User-Agent': 'probe/1.0', Referer: 'http://ref.example/', 'X-Trace': 't-42', 'Content-Type': 'text/plain' } });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      const re = custom ? /^ACCESS .*$/m : /^\[pid: .*$/m;
      const text = await waitUntil(() => u.output(), (s) => re.test(s), `${runtime}'s access line`);
      out.push((re.exec(text) as RegExpExecArray)[0]);
    } finally {
      await front.stop();
      await u.stop();
    }
  }
  return { custom: out[0]!, uwsgi: out[1]! };
}

const mask = (l: string): string => l.replace(/\[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]/, '[TIME]').replace(/ \d+$/, ' MS')
  .replace(/\[pid: \d+/, '[pid: PID').replace(/\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\]/, '[TIME]').replace(/in \d+ msecs/, 'in MS msecs')
  .replace(/\d+ headers in \d+ bytes/, 'H headers in HB bytes');

test('Node and Python workers log the same request through Nginx identically (ini log-format, and the default line)', async (t) => {
  if (!existsSync(PY)) { if (process.env.CI === 'true') throw new Error(`${PY} missing`); return t.skip('python missing'); }
  if (!requireTool('nginx')) return t.skip('nginx missing');
  const d = tempDir();
  try {
    const node = await lineFrom('node', d.dir);
    const python = await lineFrom('python', d.dir);
    assert.equal(mask(node.custom), mask(python.custom));
    assert.match(mask(node.custom), /^ACCESS 127\.0\.0\.1 \[-\] POST \/same\/path\?q=1 HTTP\/1\.1 200 6 3 "http:\/\/ref\.example\/" "probe\/1\.0" 127\.0\.0\.1 t-42 POST - \d+ \d+ 1 0 1 \[TIME\] MS$/);
    assert.equal(mask(node.uwsgi), mask(python.uwsgi));
    assert.match(mask(node.uwsgi), /^\[pid: PID\|app: 0\|req: 1\/1\] 127\.0\.0\.1 \(\) \{\d+ vars in \d+ bytes\} \[TIME\] POST \/same\/path\?q=1 => generated 6 bytes in MS msecs \(HTTP\/1\.1 200\) H headers in HB bytes \(1 switches on core 0\)$/);
  } finally {
    d.remove();
  }
});
