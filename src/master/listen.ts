/**
 * master/listen: puts a bound socket into the listening state in the master without the master ever
 * accepting. The kernel then queues connections from the moment the socket exists (up to `listen`),
 * so a client that arrives before the first worker is ready, or between two worker generations, waits
 * instead of getting ECONNREFUSED (a 502 through Nginx).
 *
 * How: listen(2) is only reachable in Node through a libuv handle, and libuv's uv_listen() also asks
 * the event loop to watch the fd, which would make the master accept (and strand) connections meant
 * for the workers. The watch is only registered with epoll on the loop's next turn, and
 * uv_read_start()/uv_read_stop() share the same watcher: started then stopped in the same
 * synchronous step, the watcher is gone before the loop ever polls, and the socket keeps listening.
 * (libuv only reads a stream it opened itself, so the fd gets a second handle through uv_*_open: the
 * binding handle stays the owner that closes, and unlinks, the socket.)
 * Workers listen() again on their inherited copy of the fd, which only (re)sets the backlog.
 * (test/ops/no-refused.test.ts fails if the master ever accepts: its connections would hang.)
 * Must not: accept.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { UsherError } from '../errors.js';

/** The libuv server handle as net._createServerHandle returns it. */
export interface ListenableHandle {
  listen(backlog: number): number;
  readStart?(): number;
  readStop?(): number;
}

type OpenHandle = (address: null, port: null, addressType: null, fd: number) => ListenableHandle | number;

/**
 * listen(fd, backlog) with nothing in this process watching the fd; throws naming the socket.
 * Returns the listening handle: keep it referenced, and never close it (the binding handle closes the fd).
 */
export function listenWithoutAccepting(fd: number, backlog: number, label: string): ListenableHandle {
  const h = (net as unknown as { _createServerHandle: OpenHandle })._createServerHandle(null, null, null, fd);
  if (typeof h === 'number') throw new UsherError('USHER_ERR_BIND', `cannot listen on ${label}: ${getSystemErrorName(h)}`);
  const err = h.listen(backlog);
  if (err) throw new UsherError('USHER_ERR_BIND', `cannot listen on ${label}: ${getSystemErrorName(err)}`);
  const started = h.readStart?.() ?? -1;
  const stopped = started === 0 ? h.readStop?.() ?? -1 : -1;
  if (started !== 0 || stopped !== 0) {
    // Never serve with a master that would accept: refuse to start instead.
    throw new UsherError('USHER_ERR_BIND', `cannot listen on ${label} without the master accepting (this Node.js version's libuv behaves differently: readStart=${started}); please report it`);
  }
  return h;
}

/** The kernel caps every backlog at net.core.somaxconn; say so instead of silently getting less. */
export function somaxconn(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  } catch {
    return undefined;
  }
}
