// A monitoring agent for bench/ab.sh -w: fetches URL once a second, COUNT times, over one kept-alive
// connection, as Prometheus does between scrapes. A `curl` per fetch (the first version of this) cost
// ~23 ms of CPU a second in fork, exec and TLS/library set-up: on a 2-core machine under wrk that
// stole CPU from the server under test and counted against the side being polled.
// Usage: node bench/poll.mjs URL COUNT
import http from 'node:http';

const [url, count] = [process.argv[2], Number(process.argv[3] ?? 6)];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
for (let i = 0; i < count; i++) {
  await new Promise((done) => {
    http.get(url, { agent }, (res) => { res.resume(); res.on('end', done); }).on('error', done);
  });
  await new Promise((r) => setTimeout(r, 1000));
}
agent.destroy();
