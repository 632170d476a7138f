// Run: npm run build && node bench/access-line.mjs [USHER_ROOT]   (wrap in flock /tmp/usher-bench.lock)
// CPU per access line of a Node worker, in isolation, for the default uWSGI line: one real request's
// req/res (from a loopback request), then NodeAccessLog.finished() over and over, lines batched to a
// real file (src/log.ts, as with logto), the loop yielding every 100 lines so batches flush as in a
// worker. Also: render alone (a cons string), render + flatten (what the queue's write pays), and
// the queue alone (a fixed flat line), and where the checkout has it the byte writer alone (`write`).
// Median of 5 runs of 200k lines. USHER_ROOT: compare checkouts.
import http from 'node:http';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
const root = resolve(process.argv[2] ?? new URL('..', import.meta.url).pathname);
const mod = (p) => import(join(root, 'dist/src', p));
const { NodeAccessLog } = await mod('logging/node-access.js');
const { compileAccessLog } = await mod('logging/format.js');
const { emptyFacts } = await mod('logging/facts.js');
const { DEFAULT_ACCESS_LOG } = await mod('logging/spec.js');
const { setLogFile, flushSync, writeAccess } = await mod('log.js');
const dir = mkdtempSync(join(tmpdir(), 'access-line-'));
const file = join(dir, 'usher.log');
setLogFile(openSync(file, 'a'), file);
const { req, res } = await new Promise((done) => {
  const srv = http.createServer((rq, rs) => {
    rs.writeHead(200, { 'content-type': 'text/plain', 'content-length': 14 });
    rs.end('Hello, world!\n');
    rs.on('finish', () => done({ req: rq, res: rs }));
  }).listen(0, '127.0.0.1', () => {
    http.get({ port: srv.address().port, host: '127.0.0.1', path: '/', headers: { 'user-agent': 'wrk' } }, (r) => r.resume());
  });
});
Object.assign(res, { t0: performance.now(), bytes: 14, cut: false });
const log = new NodeAccessLog(DEFAULT_ACCESS_LOG, 1, 'worker 1');
const compiled = compileAccessLog(DEFAULT_ACCESS_LOG, 'worker 1');
const f = Object.assign(emptyFacts(), { addr: '127.0.0.1', method: 'GET', uri: '/', proto: 'HTTP/1.1', status: 200, rsize: 14,
  hsize: 149, headers: 5, vars: 9, pktsize: 197, startUs: Date.now() * 1000, durUs: 123, req: 1 });
const fixed = compiled.render(f);
let sink = 0;
const cases = {
  finished: () => { res.t0 += 0.05; log.finished(req, res, 0.123); },
  render: () => { f.req++; f.startUs += 50; sink += compiled.render(f).length; },
  'render+flatten': () => { f.req++; f.startUs += 50; const s = compiled.render(f); sink += s.charCodeAt(s.length >> 1); },
  queue: () => { writeAccess(fixed); },
};
// Checkouts with logging/line-bytes (the default line written straight into the queue's buffer): that
// writer alone, into a buffer of its own.
const lineBuf = Buffer.alloc(4096);
if (compiled.write) cases.write = () => { f.req++; f.startUs += 50; sink += compiled.write(f, lineBuf, 0); };
const turn = () => new Promise((r) => setImmediate(r));
async function run(fn, n) {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i += 100) { for (let j = 0; j < 100; j++) fn(); await turn(); }
  flushSync();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / n;
}
for (const fn of Object.values(cases)) await run(fn, 50000);
for (const [name, fn] of Object.entries(cases)) {
  const rs = [];
  for (let i = 0; i < 5; i++) rs.push(await run(fn, 200000));
  rs.sort((a, b) => a - b);
  console.log(`${name.padEnd(15)} ${rs[2].toFixed(3)} us CPU/line`);
}
rmSync(dir, { recursive: true, force: true });
process.exit(sink < 0 ? 1 : 0);
