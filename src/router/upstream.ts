/**
 * router/upstream: the router's connections to the workers' private socket, kept alive and reused.
 * Opening a unix connection per request was measured at over half the router's CPU time (connect,
 * socket setup, close). The router asks for keep-alive with uwsgi modifier2 = 1 on this private link
 * only; a worker that frames its response (Content-Length or chunked) and keeps the connection lets the
 * router reuse it; one that closes after the response (a Node worker, or any worker that is stopping)
 * simply is not reused. Nginx and Apache never send modifier2 = 1, so their connections are unchanged.
 *
 * A kept connection belongs to the worker that accepted it, so a pool that kept its connections forever
 * would keep sending work to the workers that were there first: after a worker dies its replacement
 * would get nothing while the survivors' connections suffice. Every kept connection is therefore
 * retired between half of `maxAgeMs` and `maxAgeMs` after its connect (spread at random, so they
 * are not all replaced in one burst that one worker would accept): the next request opens a new one,
 * and the kernel hands it to a worker waiting in accept, i.e. an idle one, which a new worker is. The
 * cost is about one connect per connection per second, against thousands of requests.
 * Must not: queue requests (every request gets a connection at once), or reuse a connection whose
 * response was not read to its end.
 */
import net from 'node:net';

/** modifier2 on the private link: "frame the response and keep the connection". */
export const MODIFIER2_KEEPALIVE = 1;

/** How long a kept connection serves before it is closed and replaced (see above). */
export const KEEP_MAX_AGE_MS = 1000;

const RETIRE = Symbol('usher.upstream.retire');
/** A pooled connection carries when it retires. */
type PooledSocket = net.Socket & { [RETIRE]: number };

export class UpstreamPool {
  private readonly idle: PooledSocket[] = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly path: string, private readonly maxAgeMs = KEEP_MAX_AGE_MS, private readonly maxIdle = 256) {
    // Idle connections age out even when no request comes to notice them.
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.floor(maxAgeMs / 4)));
    this.sweeper.unref();
  }

  /** An idle connection, or a new one; `reused` says whether it has served before. */
  acquire(fresh = false): { socket: net.Socket; reused: boolean } {
    const now = Date.now();
    for (let s = fresh ? undefined : this.idle.pop(); s !== undefined; s = this.idle.pop()) {
      s.removeAllListeners('close');
      s.removeAllListeners('error');
      s.removeAllListeners('data');
      if (!s.destroyed && s.readable && s.writable && now < s[RETIRE]) return { socket: s, reused: true };
      s.destroy();
    }
    const socket = net.connect(this.path) as PooledSocket;
    socket[RETIRE] = now + this.maxAgeMs * (0.5 + Math.random() / 2);
    socket.setNoDelay(true);
    return { socket, reused: false };
  }

  release(socket: net.Socket): void {
    const s = socket as PooledSocket;
    s.removeAllListeners('data');
    s.removeAllListeners('end');
    s.removeAllListeners('error');
    s.removeAllListeners('close');
    s.removeAllListeners('drain');
    if (this.idle.length >= this.maxIdle || s.destroyed || Date.now() >= s[RETIRE]) {
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

  /** Close every idle connection (the router is stopping). */
  close(): void {
    clearInterval(this.sweeper);
    for (const s of this.idle.splice(0)) s.destroy();
  }

  private sweep(): void {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const s = this.idle[i] as PooledSocket;
      if (s[RETIRE] > now) continue;
      this.idle.splice(i, 1);
      s.removeAllListeners('close');
      s.destroy();
    }
  }
}
