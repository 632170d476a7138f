/**
 * router/idle: `http-timeout` for client connections: one closed when it has moved no byte, either way,
 * for the timeout (idle between requests, a head or a chunked body that stopped coming, a static
 * response nobody reads), unless a request of its is in flight (the worker side's timeout answers that
 * one, see router/forward). One sweep over the connections (every timeoutMs / 4, at most 1 s) compares
 * the bytes each has moved since the last: no timer per connection or per request. A socket timer
 * (`server.setTimeout`) was re-armed by node:http for every request and refreshed on every read and
 * write, a few µs of the router's CPU per request measured; this costs a map entry per connection.
 * A connection is closed between timeoutMs and timeoutMs + one sweep after its last byte.
 * Must not: close a connection with a request in flight (`busy`).
 */
import type net from 'node:net';

interface Seen { moved: number; quiet: number }

/**
 * How often a sweep runs for a timeout (a quarter of it, 50 ms to 1 s) and how many quiet sweeps make
 * the timeout: shared by this and the worker side's 504 (router/forward), so both fire alike.
 */
export function sweepCadence(timeoutMs: number): { tick: number; limit: number } {
  const tick = Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4)));
  return { tick, limit: Math.ceil(timeoutMs / tick) };
}

export class IdleConnections {
  private readonly conns = new Map<net.Socket, Seen>();
  private readonly timer: NodeJS.Timeout;
  private readonly limit: number;

  constructor(timeoutMs: number, private readonly busy: (socket: net.Socket) => boolean) {
    const { tick, limit } = sweepCadence(timeoutMs);
    this.limit = limit;
    this.timer = setInterval(() => this.sweep(), tick);
    this.timer.unref();
  }

  add(socket: net.Socket): void {
    this.conns.set(socket, { moved: -1, quiet: 0 });
    socket.once('close', () => this.conns.delete(socket));
  }

  close(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    for (const [socket, seen] of this.conns) {
      const moved = socket.bytesRead + socket.bytesWritten;
      if (moved !== seen.moved) {
        seen.moved = moved;
        seen.quiet = 0;
      } else if (++seen.quiet > this.limit && !this.busy(socket)) {
        socket.destroy();
      }
    }
  }
}
