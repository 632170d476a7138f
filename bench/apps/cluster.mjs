// The same hello world on a plain node:cluster server: what a Node team runs without usher.
import cluster from 'node:cluster';
import http from 'node:http';
import hello from './hello.mjs';

const workers = Number(process.env.WORKERS ?? 4);
if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => { for (const w of Object.values(cluster.workers ?? {})) w?.kill(); process.exit(0); });
} else {
  http.createServer(hello).listen(Number(process.env.PORT), '127.0.0.1');
}
