/**
 * child/readiness: `ready-path` for load balancers (an HAProxy `option httpchk`, a Kubernetes
 * readinessProbe): GET or HEAD of exactly that path answers 200 `ready` while the instance serves, and
 * 503 `draining` once the master drains it before a stop — while every other request is still served,
 * so traffic moves away before anything is refused. Only that exact path is taken from the app, and only
 * when the option is set.
 * Must not: answer any other path, or cost a request more than one comparison when set.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export function withReadiness(path: string | null, isDraining: () => boolean, next: RequestListener): RequestListener {
  if (path === null) return next;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== path || (req.method !== 'GET' && req.method !== 'HEAD')) return next(req, res);
    const draining = isDraining();
    const body = draining ? 'draining\n' : 'ready\n';
    res.writeHead(draining ? 503 : 200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
