/**
 * deploy/balance: what a balanced front for N usher hosts needs, shared by the Nginx and HAProxy
 * renderers: the upstream list (parsed and checked once) and the timing knobs with their defaults.
 * Pure: no I/O. The Nginx rendering lives here too (passive health: a host that fails is left out
 * for a while; idempotent requests move to the next host); HAProxy's in deploy/haproxy.
 * Must not: install, reload or probe anything.
 */

export interface BalancerOptions {
  /** Names the upstream block / backend (`usher_<name>`). */
  readonly name: string;
  /** usher hosts, `HOST:PORT` each (their `http =` / `http-socket =` address). */
  readonly upstreams: readonly string[];
  /** Where the front listens: `80`, `127.0.0.1:8080`. */
  readonly listen: string;
  readonly serverName: string;
  /** The health check path: `/` by default; the hosts' `ready-path` also tells a draining host. */
  readonly checkPath: string;
  /** Seconds to open a connection to a host before trying the next. */
  readonly connectTimeoutS: number;
  /** Seconds a host may take to answer (or stay silent mid-response) before the request moves on. */
  readonly readTimeoutS: number;
  /** How many hosts one request may try (the first included). */
  readonly tries: number;
  /** Nginx passive health: failures within fail_timeout that take a host out for fail_timeout. */
  readonly maxFails: number;
  readonly failTimeoutS: number;
  /** Idle keep-alive connections to the hosts kept per Nginx worker. */
  readonly keepalive: number;
  /** HAProxy active health: check every interval; fall fails take a host out, rise passes bring it back. */
  readonly checkIntervalMs: number;
  readonly fall: number;
  readonly rise: number;
}

export const BALANCER_DEFAULTS: Omit<BalancerOptions, 'upstreams'> = Object.freeze({
  name: 'app',
  listen: '80',
  serverName: 'localhost',
  checkPath: '/',
  connectTimeoutS: 2,
  readTimeoutS: 30,
  tries: 3,
  maxFails: 1,
  failTimeoutS: 10,
  keepalive: 32,
  checkIntervalMs: 1000,
  fall: 2,
  rise: 2,
});

/** `10.0.0.1:8080,10.0.0.2:8080` -> the list, or why not (the CLI prints it). */
export function parseUpstreams(list: string): { upstreams: string[] } | { error: string } {
  const upstreams = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (upstreams.length === 0) return { error: '--upstream needs at least one HOST:PORT (comma-separated for several hosts)' };
  for (const u of upstreams) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(u);
    if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) return { error: `--upstream: ${JSON.stringify(u)} is not HOST:PORT (e.g. 10.0.0.1:8080)` };
  }
  if (new Set(upstreams).size !== upstreams.length) return { error: '--upstream: a host is listed twice' };
  return { upstreams };
}

export function renderNginxBalancer(o: BalancerOptions): string {
  const servers = o.upstreams.map((u) => `    server ${u} max_fails=${o.maxFails} fail_timeout=${o.failTimeoutS}s;`).join('\n');
  return `# A balanced front for ${o.upstreams.length} usher host(s): usher deploy nginx --upstream ${o.upstreams.join(',')}
upstream usher_${o.name} {
    # Passive health: a host that fails ${o.maxFails} time(s) within ${o.failTimeoutS}s (refused, reset, timed
    # out, 502/504) gets no requests for ${o.failTimeoutS}s, then one to see whether it is back.
${servers}
    # Idle connections kept open to the hosts (per Nginx worker): no TCP handshake per request.
    keepalive ${o.keepalive};
}

server {
    listen ${o.listen};
    server_name ${o.serverName};

    location / {
        proxy_pass http://usher_${o.name};
        # keep-alive to the hosts needs HTTP/1.1 and no "Connection: close" passed on
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout ${o.connectTimeoutS}s;
        proxy_send_timeout ${o.readTimeoutS}s;
        proxy_read_timeout ${o.readTimeoutS}s;
        # A request that meets a dead or dying host moves to the next one. Nginx does this only for
        # idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS): a POST already sent is never replayed.
        proxy_next_upstream error timeout http_502 http_504;
        proxy_next_upstream_tries ${o.tries};
        proxy_next_upstream_timeout ${o.connectTimeoutS * o.tries + o.readTimeoutS}s;
    }
}
`;
}
