// Run: npx tsc -p . && node bench/worker-bookkeeping.mjs
// Per-request cost of the worker's bookkeeping, in isolation: a response with no socket (writes are
// buffered), the app's writeHead+end, then 'close' as node:http emits it. Plain ServerResponse vs
// TrackedResponse + the tracker's listener (counters, in-flight set, tx, rtUs, finished()).
import http from 'node:http';
import net from 'node:net';
const { RequestTracker, TrackedResponse } = await import(new URL('../dist/src/worker/requests.js', import.meta.url).href);
const life = { counters: { requests: 0, tx: 0, exceptions: 0, rtUs: 0, harakiri: 0 }, inflight: new Set(), log: { info() {}, error() {} }, isStopping: false, recycle() {} };
const tracker = new RequestTracker(life, { maxRequests: 0, accessLog: false, isStopping: () => false, harakiri: 0 });
const app = (req, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 14 }); res.end('Hello, world!\n'); };
const sock = new net.Socket();
const req = new http.IncomingMessage(sock); req.method = 'GET'; req.url = '/';
function run(Res, listener, n) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) { const res = new Res(req); listener(req, res); res.emit('close'); }
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / n; // ns per request
}
const tracked = tracker.listener(app);
// what the worker did before when logging or max-requests was on (minus the access line itself)
let served = 0;
const started = new WeakMap();
const done = (rq, rs) => { served++; const t = started.get(rq); if (t !== undefined && served < 0) console.log(t); };
const before = (rq, rs) => { started.set(rq, process.hrtime.bigint()); rs.once('close', () => done(rq, rs)); app(rq, rs); };
function runBefore(n) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) { const rq = new http.IncomingMessage(sock); rq.method = 'GET'; rq.url = '/'; const res = new http.ServerResponse(rq); before(rq, res); res.emit('close'); }
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / n;
}
function runReq(Res, listener, n) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) { const rq = new http.IncomingMessage(sock); rq.method = 'GET'; rq.url = '/'; const res = new Res(rq); listener(rq, res); res.emit('close'); }
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / n;
}
const N = 200000;
for (let round = 0; round < 7; round++) {
  const a = runReq(http.ServerResponse, app, N);
  const b = runReq(TrackedResponse, tracked, N);
  const c = runBefore(N);
  console.log(`none=${a.toFixed(0)}ns tracked=${b.toFixed(0)}ns (+${(b - a).toFixed(0)}) before-with-logging=${c.toFixed(0)}ns (+${(c - a).toFixed(0)})`);
}
console.log(life.counters.requests, life.counters.tx);
