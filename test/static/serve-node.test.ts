// The Node side of static files on real servers: createStaticHandler in front of an app in a real
// node:http server (this process), and in a child process whose RSS is watched while a 1 GiB sparse
// file goes to a client that reads in pauses. Also: a file truncated mid-send ends in a destroyed
// connection (never a short body under a Content-Length), a file replaced mid-send is sent whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, truncateSync, utimesSync, writeFileSync, ftruncateSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO, tempDir } from '../helpers/usher.js';
import { staticFirst, type StaticSpec } from '../../src/static/index.js';

function specFor(dir: string): StaticSpec {
  return { maps: [{ mount: '/static', root: join(dir, 'root'), keepMount: false }], index: ['index.html'], skipExt: [], safe: [], gzipAll: true, gzipDirs: [], mimefiles: [], expires: [] };
}

function makeTree(): { dir: string; remove: () => void } {
  const tmp = tempDir('usher-static-node-');
  mkdirSync(join(tmp.dir, 'root'));
  mkdirSync(join(tmp.dir, 'outside'));
  writeFileSync(join(tmp.dir, 'root', 'a.txt'), 'hello, static\n');
  utimesSync(join(tmp.dir, 'root', 'a.txt'), 1600000000, 1600000000);
  writeFileSync(join(tmp.dir, 'root', 'style.css'), 'body { color: red }\n');
  writeFileSync(join(tmp.dir, 'root', 'style.css.gz'), 'GZIP-BYTES');
  writeFileSync(join(tmp.dir, 'outside', 'canary.txt'), 'CANARY\n');
  return tmp;
}

async function withServer<T>(spec: StaticSpec, fn: (port: number) => Promise<T>): Promise<T> {
  // The hook as a worker or the router wires it: static first, then the app.
  const server: Server = createServer(staticFirst(spec, (req, res) => res.end(`app ${req.method} ${req.url}`)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await fn((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

interface Got { status: number; headers: IncomingMessage['headers']; body: string; socket: unknown }

function get(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; agent?: Agent } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('latin1'), socket: req.socket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('node static handler on a real http server: 200, 206, HEAD, 304, 403, 416 and gzip; the app gets the rest; one kept-alive connection throughout', async () => {
  const tree = makeTree();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await withServer(specFor(tree.dir), async (port) => {
      const full = await get(port, '/static/a.txt', { agent });
      assert.equal(full.status, 200);
      assert.equal(full.body, 'hello, static\n');
      assert.equal(full.headers['content-length'], '14');
      assert.equal(full.headers['etag'], '"5f5e1000-e"');
      assert.equal(full.headers['last-modified'], 'Sun, 13 Sep 2020 12:26:40 GMT');
      const part = await get(port, '/static/a.txt', { agent, headers: { range: 'bytes=7-11' } });
      assert.equal(part.status, 206);
      assert.equal(part.body, 'stati');
      assert.equal(part.headers['content-range'], 'bytes 7-11/14');
      const head = await get(port, '/static/a.txt', { agent, method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.equal(head.headers['content-length'], '14');
      const nm = await get(port, '/static/a.txt', { agent, headers: { 'if-none-match': '"5f5e1000-e"' } });
      assert.equal(nm.status, 304);
      const bad = await get(port, '/static/a.txt', { agent, headers: { range: 'bytes=50-' } });
      assert.equal(bad.status, 416);
      assert.equal(bad.headers['content-range'], 'bytes */14');
      const gz = await get(port, '/static/style.css', { agent, headers: { 'accept-encoding': 'gzip' } });
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.equal(gz.headers['vary'], 'Accept-Encoding');
      assert.equal(gz.body, 'GZIP-BYTES');
      const trav = await get(port, '/static/%2e%2e/outside/canary.txt', { agent });
      assert.equal(trav.status, 403);
      assert.ok(!trav.body.includes('CANARY'));
      assert.equal((await get(port, '/static/a.txt', { agent, method: 'POST' })).body, 'app POST /static/a.txt');
      assert.equal((await get(port, '/static/nope.txt', { agent })).body, 'app GET /static/nope.txt');
      assert.equal((await get(port, '/api', { agent })).body, 'app GET /api');
      assert.equal(full.socket, (await get(port, '/static/a.txt', { agent })).socket, 'the same connection served every request');
    });
  } finally {
    agent.destroy();
    tree.remove();
  }
});

test('node static handler: a file truncated mid-send destroys the connection instead of ending short; the server keeps serving', async () => {
  const tree = makeTree();
  const path = join(tree.dir, 'root', 'shrink.bin');
  const fd = openSync(path, 'w');
  ftruncateSync(fd, 64 * 2 ** 20);
  closeSync(fd);
  try {
    await withServer(specFor(tree.dir), async (port) => {
      const outcome = await new Promise<{ length: number; got: number; aborted: boolean }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/static/shrink.bin' }, (res) => {
          res.pause();
          truncateSync(path, 2 ** 20); // headers are out, Content-Length promised 64 MiB
          let got = 0;
          let aborted = false;
          res.on('data', (c: Buffer) => { got += c.length; });
          res.on('aborted', () => { aborted = true; });
          res.on('error', () => { aborted = true; });
          res.on('close', () => resolve({ length: Number(res.headers['content-length']), got, aborted }));
          res.resume();
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(outcome.length, 64 * 2 ** 20);
      assert.ok(outcome.got < outcome.length, 'fewer bytes than promised arrived');
      assert.ok(outcome.aborted, 'the client saw the connection cut, not a finished response');
      assert.equal((await get(port, '/static/a.txt')).body, 'hello, static\n', 'still serving');
    });
  } finally {
    tree.remove();
  }
});

test('node static handler: a file replaced by rename mid-send is sent whole from the fd opened first', async () => {
  const tree = makeTree();
  const path = join(tree.dir, 'root', 'swap.bin');
  writeFileSync(path, Buffer.alloc(8 * 2 ** 20, 'A'));
  try {
    await withServer(specFor(tree.dir), async (port) => {
      const body = await new Promise<Buffer>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/static/swap.bin' }, (res) => {
          res.pause();
          writeFileSync(`${path}.new`, 'B'.repeat(100));
          renameSync(`${path}.new`, path);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
          res.resume();
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(body.length, 8 * 2 ** 20);
      assert.ok(body.equals(Buffer.alloc(8 * 2 ** 20, 'A')), 'the old content, not a mix');
    });
  } finally {
    tree.remove();
  }
});

test('node static handler: clients that leave before their file is looked up leave no fd open', async () => {
  const tree = makeTree();
  // Open fds on files of the tree (sockets of other tests come and go, so a plain count would be noisy).
  const fds = (): number => readdirSync('/proc/self/fd').filter((f) => {
    try {
      return readlinkSync(`/proc/self/fd/${f}`).startsWith(tree.dir);
    } catch {
      return false;
    }
  }).length;
  const fd = openSync(join(tree.dir, 'root', 'big.bin'), 'w');
  ftruncateSync(fd, 64 * 2 ** 20);
  closeSync(fd);
  try {
    await withServer(specFor(tree.dir), async (port) => {
      const before = fds();
      assert.equal(before, 0);
      await Promise.all(Array.from({ length: 30 }, () => new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          // Gone as soon as the request is on the wire: the server finds out mid-lookup or mid-send.
          s.write('GET /static/big.bin HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n', () => {
            s.destroy();
            resolve();
          });
        });
      })));
      // The server handles the aborted requests on its own time: wait (bounded) for the count to settle.
      const until = Date.now() + 20_000;
      while (fds() > before && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      assert.equal(fds(), before, 'every file the resolver opened was closed');
      assert.equal((await get(port, '/static/a.txt')).body, 'hello, static\n');
    });
  } finally {
    tree.remove();
  }
});

/**
 * Anonymous resident memory (RssAnon): what a server buffering the file would grow. Not VmRSS, which
 * also counts pages of node's own binary the first time a code path runs (a major GC's, say: measured,
 * up to 4 MiB of it during the 1 GiB send), whatever the server holds.
 */
function rssKiB(pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

test('node static handler: a 1 GiB sparse file to a client reading in pauses does not grow the server\'s anonymous RSS by more than a few MiB', async (ctx) => {
  const tree = makeTree();
  for (const [name, size] of [['big.bin', 2 ** 30], ['warm.bin', 32 * 2 ** 20]] as const) {
    const fd = openSync(join(tree.dir, 'root', name), 'w');
    ftruncateSync(fd, size);
    closeSync(fd);
  }
  const child = spawn(process.execPath, [join(REPO, 'dist', 'test', 'static', 'serve-child.js'), JSON.stringify(specFor(tree.dir))], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const port = Number(/listening (\d+)/.exec(line[0])![1]);
    // Warm up with a 32 MiB send first, read the same slow way: V8's young generation and the socket
    // machinery settle at their working size, and the code of the paused path is paged in, so what is
    // measured next is what a send costs, not the first send's warm-up.
    let peak = 0;
    const slowGet = (path: string, every: number): Promise<number> => new Promise<number>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      let got = 0;
      let nextPause = every;
      let timer: NodeJS.Timeout | undefined;
      sock.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= nextPause) {
          // A slow client: stop reading for a while. A server that ignored backpressure would read
          // the (sparse, so very fast) file into memory meanwhile.
          nextPause += every;
          sock.pause();
          timer = setTimeout(() => {
            peak = Math.max(peak, rssKiB(child.pid!));
            sock.resume();
          }, 200);
        }
      });
      sock.on('end', () => {
        clearTimeout(timer);
        resolve(got);
      });
      sock.on('error', reject);
    });
    assert.ok(await slowGet('/static/warm.bin', 8 * 2 ** 20) > 32 * 2 ** 20);
    const before = rssKiB(child.pid!);
    peak = before;
    const total = await slowGet('/static/big.bin', 64 * 2 ** 20);
    peak = Math.max(peak, rssKiB(child.pid!));
    assert.ok(total > 2 ** 30, 'the whole file (plus the head) arrived');
    const grewMiB = (peak - before) / 1024;
    ctx.diagnostic(`node server anonymous RSS grew ${grewMiB.toFixed(2)} MiB while sending 1 GiB (peak ${(peak / 1024).toFixed(1)} MiB)`);
    assert.ok(grewMiB < 8, `anonymous RSS grew ${grewMiB.toFixed(1)} MiB`);
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
    tree.remove();
  }
});
