// Node hello world as a (req, res) listener: what usher runs with `app = hello.mjs`.
export default function hello(req, res) {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 14 });
  res.end('Hello, world!\n');
}
