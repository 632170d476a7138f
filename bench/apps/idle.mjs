// A plain Node HTTP server that nothing loads: the bench fetches it at the same moments as the stats
// address, so the table shows how fast anything on this machine answers while the load saturates it
// (the floor the stats server's answer times are to be read against).
import http from 'node:http';

const body = Buffer.alloc(4096, 'x');
http.createServer((_req, res) => res.end(body)).listen(Number(process.env.PORT), '127.0.0.1');
