// The same hello world for PM2's cluster mode (pm2 starts it -i N times and shares the port).
const http = require('node:http');
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 14 });
  res.end('Hello, world!\n');
}).listen(Number(process.env.PORT), '127.0.0.1');
