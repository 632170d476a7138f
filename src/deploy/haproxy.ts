/**
 * deploy/haproxy: renders a complete haproxy.cfg balancing N usher hosts with active health checks
 * (a GET on a path every second: a host that fails twice is out, two passes bring it back), retries of
 * requests that could not reach a host, and redispatch to another host. A pure function.
 * The check asks `/` unless --check-path names the hosts' `ready-path` (200 while serving, 503 while
 * draining): `/` tells a dead host, only `ready-path` tells a draining one before it stops.
 * Must not: install, reload or probe anything.
 */
import type { BalancerOptions } from './balance.js';

function bind(listen: string): string {
  return /^\d+$/.test(listen) ? `:${listen}` : listen;
}

export function renderHaproxyConfig(o: BalancerOptions): string {
  const servers = o.upstreams.map((u, i) => `    server host${i + 1} ${u} check`).join('\n');
  return `# A balanced front for ${o.upstreams.length} usher host(s): usher deploy haproxy --upstream ${o.upstreams.join(',')}
# A whole haproxy.cfg (Debian: /etc/haproxy/haproxy.cfg); check it with haproxy -c -f FILE.
global
    maxconn 4096
    log /dev/log local0 notice

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect ${o.connectTimeoutS}s
    timeout client 30s
    timeout server ${o.readTimeoutS}s
    timeout http-keep-alive 10s
    timeout http-request 10s
    # A request that could not reach its host is tried again, on another host (redispatch), up to
    # ${o.tries - 1} more time(s). Beyond connection failures, only idempotent requests are replayed: see
    # disable-l7-retry in the backend.
    retries ${o.tries - 1}
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 504

frontend usher_${o.name}
    bind ${bind(o.listen)}
    option forwardfor
    default_backend usher_${o.name}

backend usher_${o.name}
    balance roundrobin
    # A POST (any non-idempotent method) may have reached the app: never replay it.
    http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS
    # Active health: GET ${o.checkPath} every ${o.checkIntervalMs} ms; ${o.fall} failures take a host out, ${o.rise} passes bring it back.
    option httpchk
    http-check send meth GET uri ${o.checkPath} ver HTTP/1.1 hdr Host ${o.serverName}
    http-check expect status 200
    # Idle connections to the hosts are reused across requests (keep-alive to the upstreams).
    http-reuse safe
    default-server inter ${o.checkIntervalMs} fastinter ${Math.max(100, Math.floor(o.checkIntervalMs / 2))} downinter ${o.checkIntervalMs} fall ${o.fall} rise ${o.rise}
${servers}
`;
}
