// The resolver's cache of looked-up files (src/static/cache.ts) never serves a changed file: on a real
// node:http server, a file rewritten in place with the same size and its mtime put back to the same
// nanosecond, a file replaced by rename, a symlink pointed at another file or out of the root, and a
// file deleted are each answered afresh on the very next request, both while a file is new (read from
// disk each time) and once it has settled and its bytes are kept in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync as closeFd, mkdirSync, renameSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../helpers/usher.js';
import { staticFirst, StaticResolver, type StaticSpec } from '../../src/static/index.js';
import { RACY_NS, SMALL_MAX } from '../../src/static/cache.js';

const MTIME = 1600000000; // whole seconds: the nanosecond part is 0 each time it is set

function specFor(dir: string): StaticSpec {
  return { maps: [{ mount: '/static', root: join(dir, 'root'), keepMount: false }], index: ['index.html'], skipExt: [], safe: [], gzipAll: false, gzipDirs: [], mimefiles: [], expires: [] };
}

/** Write a file and set its mtime to MTIME: same size + same mtime = same ETag, the case a cache could miss. */
function put(path: string, body: string): void {
  writeFileSync(path, body);
  utimesSync(path, MTIME, MTIME);
}

interface Got { status: number; body: string; etag: string | undefined; length: string | undefined }

function get(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('latin1'), etag: res.headers.etag, length: res.headers['content-length'] }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every way a file can change under a cached path, checked on the next request. */
async function changesAreSeen(root: string, port: number, name: string): Promise<void> {
  const p = join(root, name);
  const first = await get(port, `/static/${name}`);
  assert.equal(first.body, 'A'.repeat(100));
  assert.equal((await get(port, `/static/${name}`)).body, 'A'.repeat(100), 'served again (from the cache)');
  put(p, 'B'.repeat(100)); // in place: same inode, same size, same mtime to the nanosecond
  const rewritten = await get(port, `/static/${name}`);
  assert.equal(rewritten.body, 'B'.repeat(100), 'an in-place rewrite is seen at once');
  assert.equal(rewritten.etag, first.etag, 'the ETag alone could not tell (same size, same mtime)');
  put(`${p}.new`, 'C'.repeat(100));
  renameSync(`${p}.new`, p);
  assert.equal((await get(port, `/static/${name}`)).body, 'C'.repeat(100), 'a replacement by rename is seen at once');
  unlinkSync(p);
  assert.equal((await get(port, `/static/${name}`)).body, `app /static/${name}`, 'a deleted file goes to the app');
}

test('static cache: a changed file is served fresh on the next request, new or settled; a symlink pointed elsewhere is followed again', async () => {
  const tree = tempDir('usher-static-cache-');
  const root = join(tree.dir, 'root');
  mkdirSync(root);
  mkdirSync(join(tree.dir, 'outside'));
  writeFileSync(join(tree.dir, 'outside', 'secret.txt'), 'S'.repeat(100));
  put(join(root, 'settled.txt'), 'A'.repeat(100));
  put(join(root, 'one.txt'), 'O'.repeat(100));
  put(join(root, 'two.txt'), 'T'.repeat(100));
  put(join(root, 'digits.txt'), '0123456789'.repeat(10));
  symlinkSync('one.txt', join(root, 'link.txt'));
  // Let these settle past the cache's racy window (ctime older than RACY_NS), so their bytes are kept.
  await sleep(Number(RACY_NS / 1_000_000n) + 200);
  const server = createServer(staticFirst(specFor(tree.dir), (req, res) => res.end(`app ${req.url}`)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  try {
    // From kept bytes: the same answers as from disk (206, HEAD, 304).
    const whole = await get(port, '/static/digits.txt');
    assert.equal(whole.body, '0123456789'.repeat(10));
    const part = await get(port, '/static/digits.txt', { headers: { range: 'bytes=12-15' } });
    assert.deepEqual([part.status, part.body, part.length], [206, '2345', '4']);
    const head = await get(port, '/static/digits.txt', { method: 'HEAD' });
    assert.deepEqual([head.status, head.body, head.length], [200, '', '100']);
    assert.equal((await get(port, '/static/digits.txt', { headers: { 'if-none-match': whole.etag! } })).status, 304);
    put(join(root, 'fresh.txt'), 'A'.repeat(100)); // new: looked up by stat, read from disk each time
    await changesAreSeen(root, port, 'fresh.txt');
    await changesAreSeen(root, port, 'settled.txt');
    assert.equal((await get(port, '/static/link.txt')).body, 'O'.repeat(100));
    assert.equal((await get(port, '/static/link.txt')).body, 'O'.repeat(100));
    unlinkSync(join(root, 'link.txt'));
    symlinkSync('two.txt', join(root, 'link.txt'));
    assert.equal((await get(port, '/static/link.txt')).body, 'T'.repeat(100), 'the symlink\'s new target');
    unlinkSync(join(root, 'link.txt'));
    symlinkSync(join(tree.dir, 'outside', 'secret.txt'), join(root, 'link.txt'));
    const escaped = await get(port, '/static/link.txt');
    assert.equal(escaped.status, 403, 'a symlink now leading out of the root is refused, not served from the cache');
    assert.ok(!escaped.body.includes('S'));
  } finally {
    server.closeAllConnections();
    server.close();
    tree.remove();
  }
});

test('static cache: the bytes of a settled small file are kept; a new file, a large one, and a precompressed one are read from disk', async () => {
  const tree = tempDir('usher-static-cache-');
  const root = join(tree.dir, 'root');
  mkdirSync(root);
  put(join(root, 'small.css'), 'x'.repeat(1000));
  put(join(root, 'large.bin'), 'y'.repeat(SMALL_MAX + 1));
  await sleep(Number(RACY_NS / 1_000_000n) + 200);
  put(join(root, 'new.css'), 'z'.repeat(1000));
  try {
    const r = new StaticResolver(specFor(tree.dir));
    for (let i = 0; i < 3; i++) {
      const small = r.resolve({ method: 'GET', target: '/static/small.css', headers: {} });
      assert.ok(small.kind === 'file' && small.fd === -1 && small.body?.toString() === 'x'.repeat(1000), 'kept in memory');
      for (const name of ['new.css', 'large.bin']) {
        const d = r.resolve({ method: 'GET', target: `/static/${name}`, headers: {} });
        assert.ok(d.kind === 'file' && d.fd >= 0 && d.body === undefined, `${name} is read from its fd`);
        if (d.kind === 'file') closeFd(d.fd);
      }
    }
    const gz = new StaticResolver({ ...specFor(tree.dir), gzipAll: true });
    const d = gz.resolve({ method: 'GET', target: '/static/small.css', headers: {} });
    assert.ok(d.kind === 'file' && d.fd >= 0, 'a file that may have .br/.gz siblings is looked up in full each time');
    if (d.kind === 'file') closeFd(d.fd);
    const off = new StaticResolver(specFor(tree.dir), undefined, { cache: false });
    const o = off.resolve({ method: 'GET', target: '/static/small.css', headers: {} });
    assert.ok(o.kind === 'file' && o.fd >= 0, 'cache: false reads from disk');
    if (o.kind === 'file') closeFd(o.fd);
  } finally {
    tree.remove();
  }
});
