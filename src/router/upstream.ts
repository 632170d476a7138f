/**
 * router/upstream: the router's connections to the workers' private socket, kept alive and reused.
 * Opening a unix connection per request was measured at over half the router's CPU time (connect,
 * socket setup, close). The router asks for keep-alive with uwsgi modifier2 = 1 on this private link
 * only; a worker that frames its response (Content-Length or chunked) and keeps the connection lets the
 * router reuse it; one that closes after the response (a Node worker, or any worker that is stopping)
 * simply is not reused. Nginx and Apache never send modifier2 = 1, so their connections are unchanged.
 * Must not: queue requests (every request gets a connection at once), or reuse a connection whose
 * response was not read to its end.
 */
import net from 'node:net';

/** modifier2 on the private link: "frame the response and keep the connection". */
export const MODIFIER2_KEEPALIVE = 1;

export class UpstreamPool {
  private readonly idle: net.Socket[] = [];

  constructor(private readonly path: string, private readonly maxIdle = 256) {}

  /** An idle connection, or a new one; `reused` says whether it has served before. */
  acquire(fresh = false): { socket: net.Socket; reused: boolean } {
    for (let s = fresh ? undefined : this.idle.pop(); s !== undefined; s = this.idle.pop()) {
      s.removeAllListeners('close');
      s.removeAllListeners('error');
      s.removeAllListeners('data');
      if (!s.destroyed && s.readable && s.writable) return { socket: s, reused: true };
    }
    const socket = net.connect(this.path);
    socket.setNoDelay(true);
    return { socket, reused: false };
  }

  release(s: net.Socket): void {
    s.removeAllListeners('data');
    s.removeAllListeners('end');
    s.removeAllListeners('error');
    s.removeAllListeners('close');
    s.removeAllListeners('drain');
    if (this.idle.length >= this.maxIdle || s.destroyed) {
      s.destroy();
      return;
    }
    // A worker that stops closes its idle connections: drop them from the pool when it does.
    const drop = (): void => {
      const i = this.idle.indexOf(s);
      if (i >= 0) this.idle.splice(i, 1);
      s.destroy();
    };
    s.once('close', drop);
    s.once('error', drop);
    s.once('data', drop); // nothing may arrive on an idle connection
    // Back-pressure from the last client may have paused it (its body ended in the same read that
    // filled the client's buffer): paused, it would never hand the next response's bytes over.
    s.resume();
    this.idle.push(s);
  }
}
