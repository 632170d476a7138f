// Many hosts: three usher "hosts" (network namespaces joined by veth links, 10.213.N.2), a front in the
// root namespace rendered by `usher deploy nginx|haproxy --upstream ...`, and wrk driving load while
// (a) one host's whole usher tree is kill -9'd and started again, (b) a host's link goes down and up,
// (c) every host in turn is stopped gracefully (SIGTERM) and started again. Failed requests (wrk's
// non-2xx and socket errors) are counted: none for the rolling restart, at most the requests in flight
// for the failures. Needs root and iproute2; every namespace and veth is removed even on failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { renderNginxBalancer, BALANCER_DEFAULTS, type BalancerOptions } from '../../src/deploy/balance.js';
import { renderHaproxyConfig } from '../../src/deploy/haproxy.js';
import { requireTool, startNginx } from '../helpers/fronts.js';
import { tempDir, freePort, REPO, USHER_BIN } from '../helpers/usher.js';
import { descendants, waitGone } from '../emperor/proc-tree.js';
import { makeHosts, setLink, leftovers, type Host } from './netns.js';

const CONNECTIONS = 16;
const PORT = 8080;
const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') throw new Error('the many-hosts test needs root (network namespaces)');
const READY = isRoot && requireTool('ip') && requireTool('wrk') && requireTool('nginx') && requireTool('haproxy');

const tmp = tempDir('usher-hosts-');
const APP = join(tmp.dir, 'whoami.mjs');
let net3: { hosts: Host[]; cleanup: () => void } | undefined;
const running = new Map<number, UsherHost>();
const figures: string[] = [];

interface UsherHost { proc: ChildProcess; out: () => string; ready: Promise<void>; exited: Promise<void> }

function startHost(h: Host): UsherHost {
  const proc = spawn('ip', ['netns', 'exec', h.ns, process.execPath, USHER_BIN, '--http', `${h.addr}:${PORT}`, '--app', APP,
    '--processes', '2', '--disable-logging', '--reload-mercy', '10', '--env', `HOST_NAME=h${h.index}`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`host ${h.index} not ready:\n${out}`)), 30_000);
    const check = (): void => { if (/master: ready/.test(out)) { clearTimeout(t); resolve(); } };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    void exited.then(() => { clearTimeout(t); reject(new Error(`host ${h.index} exited:\n${out}`)); });
  });
  const u = { proc, out: () => out, ready, exited };
  running.set(h.index, u);
  return u;
}

function killTree(u: UsherHost): void {
  const pid = u.proc.pid!;
  for (const p of [...descendants(pid).map((d) => d.pid), pid]) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
}

before(async () => {
  if (!READY) return;
  writeFileSync(APP, "export default function whoami(req, res) {\n  res.writeHead(200, { 'content-type': 'text/plain' });\n  res.end(`${process.env.HOST_NAME}\\n`);\n}\n");
  net3 = makeHosts(3);
  await Promise.all(net3.hosts.map((h) => startHost(h).ready));
});

after(async () => {
  for (const u of running.values()) killTree(u);
  await Promise.all([...running.values()].map((u) => u.exited));
  if (net3 !== undefined) {
    net3.cleanup();
    assert.deepEqual(leftovers(net3.hosts), [], 'every namespace and veth is gone');
  }
  tmp.remove();
});

interface WrkResult { requests: number; non2xx: number; socketErrors: number; maxLatency: string; raw: string }

function parseWrk(raw: string): WrkResult {
  const requests = Number(/(\d+) requests in/.exec(raw)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(raw)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const socketErrors = se ? se.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0;
  const maxLatency = /Latency\s+\S+\s+\S+\s+(\S+)/.exec(raw)?.[1] ?? '?';
  return { requests, non2xx, socketErrors, maxLatency, raw };
}

function wrk(url: string, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '10s', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('exit', (code) => (code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk failed (${code}):\n${out}`))));
  });
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Load for `seconds` while action runs (it starts after a 2 s warm-up: the fault lands under load). */
async function underLoad(url: string, seconds: number, action: () => Promise<void>): Promise<WrkResult> {
  const load = wrk(url, seconds);
  await delay(2000);
  await action();
  return load;
}

async function bodies(url: string, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await (await fetch(url)).text()).trim());
  return seen;
}

/** Until the front sends a request to host `name` again (it is back in the rotation). */
async function inRotation(url: string, name: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const body = await fetch(url).then(async (r) => (await r.text()).trim(), () => '');
    if (body === name) return;
    if (Date.now() > until) throw new Error(`the front did not send to ${name} again within ${timeoutMs} ms`);
    await delay(20);
  }
}

async function scenarios(front: string, url: string): Promise<void> {
  const hosts = net3!.hosts;
  assert.deepEqual([...await bodies(url, 30)].sort(), ['h1', 'h2', 'h3'], 'the front balances over the three hosts');

  const a = await underLoad(url, 12, async () => {
    const u = running.get(1)!;
    const tree = [...descendants(u.proc.pid!), ...descendants(process.pid).filter((d) => d.pid === u.proc.pid)];
    killTree(u);
    await u.exited;
    assert.deepEqual(await waitGone(tree, 10_000), []);
    await startHost(hosts[0]!).ready;
    await inRotation(url, 'h1');
  });
  report(front, '(a) kill -9 of one host\'s whole usher tree, then started again', a);
  assert.ok(a.requests > 500, a.raw);
  assert.ok(a.non2xx + a.socketErrors <= CONNECTIONS, `at most the requests in flight fail:\n${a.raw}`);

  const b = await underLoad(url, 12, async () => {
    setLink(hosts[1]!, false);
    await delay(5000);
    setLink(hosts[1]!, true);
  });
  report(front, '(b) one host\'s link down for 5 s, then up', b);
  assert.ok(b.requests > 500, b.raw);
  assert.ok(b.non2xx + b.socketErrors <= CONNECTIONS, `at most the requests in flight fail:\n${b.raw}`);
  assert.deepEqual([...await bodies(url, 60)].sort(), ['h1', 'h2', 'h3'], 'the host is back in the rotation');

  // As an operator would: the next host is stopped only once the front sends to the restarted one
  // again (Nginx's fail_timeout, HAProxy's rise checks); stopping it sooner leaves fewer hosts serving.
  const c = await underLoad(url, 25, async () => {
    for (const h of hosts) {
      const u = running.get(h.index)!;
      u.proc.kill('SIGTERM');
      await u.exited;
      assert.match(u.out(), /stopping gracefully/);
      await startHost(h).ready;
      await inRotation(url, `h${h.index}`);
    }
  });
  report(front, '(c) rolling SIGTERM + restart of each host in turn', c);
  assert.ok(c.requests > 500, c.raw);
  assert.equal(c.non2xx + c.socketErrors, 0, `a rolling restart loses no request:\n${c.raw}`);
}

function report(front: string, what: string, r: WrkResult): void {
  figures.push(`${front} ${what}: ${r.requests} requests, ${r.non2xx} non-2xx, ${r.socketErrors} socket errors, max latency ${r.maxLatency}`);
}

function balancer(listen: string, upstreams: string[]): BalancerOptions {
  // Short timeouts so a host that stops answering (link down) is given up on well within wrk's 10 s.
  return { ...BALANCER_DEFAULTS, upstreams, listen, connectTimeoutS: 1, readTimeoutS: 3, failTimeoutS: 3 };
}

function waitPort(port: number, proc: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (proc.exitCode !== null) return reject(new Error('haproxy exited'));
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); resolve(); });
      c.once('error', () => (Date.now() > until ? reject(new Error(`nothing on ${port}`)) : setTimeout(attempt, 50)));
    };
    attempt();
  });
}

test('Nginx in front of three usher hosts: kill -9, link down, rolling restart', { timeout: 180_000 }, async (ctx) => {
  if (!READY) { ctx.skip('needs root, ip, wrk, nginx and haproxy'); return; }
  const upstreams = net3!.hosts.map((h) => `${h.addr}:${PORT}`);
  const front = await startNginx({ serverBlock: renderNginxBalancer(balancer('127.0.0.1:{{PORT}}', upstreams)) });
  try {
    await scenarios('nginx', `${front.url}/`);
  } finally {
    for (const f of figures.filter((x) => x.startsWith('nginx'))) ctx.diagnostic(f);
    await front.stop();
  }
});

test('HAProxy in front of three usher hosts: kill -9, link down, rolling restart', { timeout: 180_000 }, async (ctx) => {
  if (!READY) { ctx.skip('needs root, ip, wrk, nginx and haproxy'); return; }
  const upstreams = net3!.hosts.map((h) => `${h.addr}:${PORT}`);
  const port = await freePort();
  const cfg = join(tmp.dir, 'haproxy.cfg');
  writeFileSync(cfg, renderHaproxyConfig(balancer(`127.0.0.1:${port}`, upstreams)));
  const check = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const proc = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await waitPort(port, proc);
    await scenarios('haproxy', `http://127.0.0.1:${port}/`);
  } finally {
    for (const f of figures.filter((x) => x.startsWith('haproxy'))) ctx.diagnostic(f);
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
  }
});

