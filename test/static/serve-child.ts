// A node:http server with usher's static handler in front of a tiny app, run as its own process so a
// test can watch its RSS. argv[2]: a StaticSpec as JSON. Prints `listening <port>` when ready.
import { createServer } from 'node:http';
import { staticFirst, type StaticSpec } from '../../src/static/index.js';

const spec = JSON.parse(process.argv[2]!) as StaticSpec;
const server = createServer(staticFirst(spec, (req, res) => res.end(`app ${req.method} ${req.url}`)));
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('disconnect', () => process.exit(0));
