// Balanced fronts for N usher hosts are pure renderings: keep-alive to the hosts, passive health and
// retries of idempotent requests for Nginx, active health checks, retries and redispatch for HAProxy;
// and the real binaries accept them (nginx -t, haproxy -c).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BALANCER_DEFAULTS, parseUpstreams, renderNginxBalancer, type BalancerOptions } from '../../src/deploy/balance.js';
import { renderHaproxyConfig } from '../../src/deploy/haproxy.js';
import { requireTool } from '../helpers/fronts.js';
import { tempDir, USHER_BIN } from '../helpers/usher.js';

const THREE: BalancerOptions = { ...BALANCER_DEFAULTS, upstreams: ['10.213.1.2:8080', '10.213.2.2:8080', '10.213.3.2:8080'] };

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim());
}

test('nginx balancer: every host with passive health, keep-alive, idempotent retries to the next host', () => {
  const n = renderNginxBalancer({ ...THREE, readTimeoutS: 5, tries: 2 });
  const l = lines(n);
  for (const want of [
    'upstream usher_app {',
    'server 10.213.1.2:8080 max_fails=1 fail_timeout=10s;',
    'server 10.213.2.2:8080 max_fails=1 fail_timeout=10s;',
    'server 10.213.3.2:8080 max_fails=1 fail_timeout=10s;',
    'keepalive 32;',
    'listen 80;',
    'proxy_pass http://usher_app;',
    'proxy_http_version 1.1;',
    'proxy_set_header Connection "";',
    'proxy_connect_timeout 2s;',
    'proxy_read_timeout 5s;',
    'proxy_next_upstream error timeout http_502 http_504;',
    'proxy_next_upstream_tries 2;',
  ]) assert.ok(l.includes(want), `${want}\n${n}`);
  // a POST already sent must never be replayed on another host
  assert.doesNotMatch(n, /non_idempotent/);
});

test('haproxy config: active checks on the check path, retries and redispatch, no replayed POST', () => {
  const h = renderHaproxyConfig({ ...THREE, checkPath: '/healthz', listen: '127.0.0.1:8099' });
  const l = lines(h);
  for (const want of [
    'bind 127.0.0.1:8099',
    'option httpchk',
    'http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost',
    'http-check expect status 200',
    'retries 2',
    'option redispatch 1',
    'retry-on conn-failure empty-response response-timeout 502 504',
    'http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS',
    'http-reuse safe',
    'default-server inter 1000 fastinter 500 downinter 1000 fall 2 rise 2',
    'server host1 10.213.1.2:8080 check',
    'server host3 10.213.3.2:8080 check',
  ]) assert.ok(l.includes(want), `${want}\n${h}`);
  assert.ok(lines(renderHaproxyConfig(THREE)).includes('bind :80'), 'a bare port binds every address');
});

test('upstream lists are checked: clear answers for bad entries', () => {
  assert.deepEqual(parseUpstreams('10.0.0.1:8080, 10.0.0.2:8080'), { upstreams: ['10.0.0.1:8080', '10.0.0.2:8080'] });
  assert.deepEqual(parseUpstreams('[::1]:8080'), { upstreams: ['[::1]:8080'] });
  for (const bad of ['', '10.0.0.1', '10.0.0.1:0', '10.0.0.1:99999', 'a b:80', '10.0.0.1:80,10.0.0.1:80']) {
    assert.ok('error' in parseUpstreams(bad), bad);
  }
});

test('the real nginx accepts the rendered front (nginx -t)', (ctx) => {
  if (!requireTool('nginx')) { ctx.skip('nginx is not installed'); return; }
  const t = tempDir('usher-nginx-t-');
  try {
    mkdirSync(join(t.dir, 'logs'));
    const conf = join(t.dir, 'nginx.conf');
    writeFileSync(conf, `pid ${t.dir}/nginx.pid;\nerror_log ${t.dir}/logs/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${t.dir}/body;\n  proxy_temp_path ${t.dir}/proxy;\n${renderNginxBalancer({ ...THREE, listen: '127.0.0.1:18099' })}}\n`);
    const r = spawnSync('nginx', ['-t', '-p', t.dir, '-c', conf], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /syntax is ok/);
    assert.match(r.stderr, /test is successful/);
    // and a broken one is refused, so the check means something
    writeFileSync(conf, `pid ${t.dir}/nginx.pid;\nevents {}\nhttp {\n${renderNginxBalancer(THREE).replace('keepalive 32;', 'keepalive;')}}\n`);
    assert.notEqual(spawnSync('nginx', ['-t', '-p', t.dir, '-c', conf], { encoding: 'utf8' }).status, 0);
  } finally {
    t.remove();
  }
});

test('the real haproxy accepts the rendered config (haproxy -c)', (ctx) => {
  if (!requireTool('haproxy')) { ctx.skip('haproxy is not installed'); return; }
  const t = tempDir('usher-haproxy-c-');
  try {
    const cfg = join(t.dir, 'haproxy.cfg');
    writeFileSync(cfg, renderHaproxyConfig({ ...THREE, checkPath: '/ready', listen: '127.0.0.1:18099' }));
    const r = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /Configuration file is valid/);
    writeFileSync(cfg, renderHaproxyConfig(THREE).replace('option httpchk', 'option httpcheck'));
    assert.notEqual(spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' }).status, 0);
  } finally {
    t.remove();
  }
});

test('usher deploy nginx|haproxy --upstream prints them; bad flags get a clear line and exit 2', () => {
  const n = execFileSync(process.execPath, [USHER_BIN, 'deploy', 'nginx', '--upstream', '10.0.0.1:8080,10.0.0.2:8080', '--listen', '8080', '--tries', '2', '--read-timeout', '10'], { encoding: 'utf8' });
  assert.match(n, /server 10\.0\.0\.2:8080 max_fails=1 fail_timeout=10s;/);
  assert.match(n, /proxy_next_upstream_tries 2;/);
  assert.match(n, /proxy_read_timeout 10s;/);
  assert.match(n, /listen 8080;/);
  const h = execFileSync(process.execPath, [USHER_BIN, 'deploy', 'haproxy', '--upstream', '10.0.0.1:8080', '--check-path', '/up', '--name', 'shop'], { encoding: 'utf8' });
  assert.match(h, /http-check send meth GET uri \/up /);
  assert.match(h, /backend usher_shop/);
  for (const [args, re] of [
    [['deploy', 'haproxy'], /--upstream HOST:PORT\[,\.\.\.\] is needed/],
    [['deploy', 'nginx', '--upstream', '10.0.0.1'], /not HOST:PORT/],
    [['deploy', 'haproxy', '--upstream', '10.0.0.1:80', '--tries', 'x'], /--tries "x": a whole number from 1 to 16/],
    [['deploy', 'haproxy', '--upstream', '10.0.0.1:80', '--check-path', 'up'], /--check-path "up": a path starting with \//],
    [['deploy', 'nginx', '--upstream', '10.0.0.1:80', '--bogus'], /unexpected "--bogus"/],
  ] as const) {
    const r = spawnSync(process.execPath, [USHER_BIN, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
