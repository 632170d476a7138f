/**
 * master/sockets: binds every socket the config names, in the master, before any worker starts, and
 * makes it listen at once without ever accepting (master/listen), so connections queue in the kernel
 * until a worker accepts; each worker inherits the fd, and the bound fd outlives every worker
 * generation, which is what makes startup, reloads and respawns refuse nothing.
 * Must not: accept connections, or know which app runs behind a socket.
 */
import net from 'node:net';
import { chmodSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { dirname, resolve } from 'node:path';
import { UsherError } from '../errors.js';
import { listenWithoutAccepting, type ListenableHandle } from './listen.js';

/** What a worker speaks on a socket. `router` sockets are `http =`: the HTTP router accepts there. */
export type SocketKind = 'http' | 'uwsgi' | 'router';

export interface Address {
  readonly host: string | undefined;
  readonly port: number;
  readonly path: string | undefined;
}

export interface BoundSocket {
  readonly kind: SocketKind;
  /** As written in the config (for logs). */
  readonly spec: string;
  readonly fd: number;
  /** For unix sockets: the absolute path (vacuum removes it). */
  readonly path: string | undefined;
  /** For TCP: the port actually bound (differs from the config only for port 0). */
  readonly port: number | undefined;
  readonly host: string | undefined;
  /** Passed by systemd (socket activation): systemd owns it; usher neither chmods nor removes it. */
  readonly activated: boolean;
  /** The libuv handle of a socket usher bound: what the master can send over a child's IPC channel. */
  readonly handle?: object;
  close(): void;
}

/** Internal libuv handle as returned by net._createServerHandle (bound, not listening). */
interface ServerHandle {
  readonly fd: number;
  close(): void;
  getsockname?(out: { address?: string; port?: number }): number;
}

type CreateServerHandle = (address: string | null, port: number, addressType: number, fd?: number) => ServerHandle | number;

/**
 * uWSGI's address forms: `/path.sock` (or any string with a slash and no colon-port), `host:port`,
 * `:port` (all interfaces), `[::1]:port`.
 */
export function parseAddress(spec: string): Address {
  const s = spec.trim();
  const m = /^(?:\[([^\]]+)\]|([^:/]*)):(\d+)$/.exec(s);
  if (m) {
    const port = Number(m[3]);
    if (port > 65535) throw new UsherError('USHER_ERR_BIND', `port out of range in "${spec}" (0-65535)`);
    const host = m[1] ?? (m[2] === '' ? undefined : m[2]);
    return { host, port, path: undefined };
  }
  if (s === '') throw new UsherError('USHER_ERR_BIND', 'empty socket address');
  return { host: undefined, port: -1, path: resolve(s) };
}

/** sun_path holds 108 bytes with the terminating NUL; the kernel would silently cut a longer path. */
export const MAX_UNIX_PATH_BYTES = 107;

function optionName(kind: SocketKind): string {
  return kind === 'router' ? 'http' : kind === 'http' ? 'http-socket' : 'socket';
}

/**
 * Checks a unix socket path before anything is bound, so a bad one stops usher with nothing created:
 * too long for sun_path, or in a folder that does not exist (libuv reports that as EACCES).
 */
export function checkUnixPath(kind: SocketKind, spec: string): void {
  const addr = parseAddress(spec);
  if (addr.path === undefined) return;
  const bytes = Buffer.byteLength(addr.path);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    throw new UsherError('USHER_ERR_BIND', `${optionName(kind)} ${spec}: the unix socket path is ${bytes} bytes, the kernel takes at most ${MAX_UNIX_PATH_BYTES} (a longer one would be silently cut); use a shorter path, e.g. under /run`);
  }
  const folder = dirname(addr.path);
  let isDir = false;
  try {
    isDir = statSync(folder).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsherError('USHER_ERR_BIND', `${optionName(kind)} ${spec}: the folder ${folder} does not exist; create it (systemd: RuntimeDirectory=) or fix the path`);
    throw new UsherError('USHER_ERR_BIND', `${optionName(kind)} ${spec}: cannot reach the folder ${folder}: ${code ?? (err as Error).message}`);
  }
  if (!isDir) throw new UsherError('USHER_ERR_BIND', `${optionName(kind)} ${spec}: ${folder} is not a folder; fix the path`);
}

/** A socket file left by a crashed server is removed; one a live server answers on is an error. */
async function clearStaleUnixSocket(path: string): Promise<void> {
  let isSocket = false;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) {
    throw new UsherError('USHER_ERR_BIND', `cannot bind ${path}: a file that is not a socket is in the way; move it or choose another path`);
  }
  const live = await new Promise<boolean>((done) => {
    const c = net.connect(path);
    c.once('connect', () => { c.destroy(); done(true); });
    c.once('error', () => done(false));
  });
  if (live) {
    throw new UsherError('USHER_ERR_BIND', `cannot bind ${path}: another server is listening on it (is usher already running?)`);
  }
  unlinkSync(path);
}

const ERRNO_HINT: Record<string, string> = {
  EADDRINUSE: 'the address is in use by another process; stop it or choose another port',
  EACCES: 'permission denied; ports below 1024 need root, and socket folders must be writable',
  ENOENT: 'the folder does not exist; create it (systemd: RuntimeDirectory=) or fix the path',
  EADDRNOTAVAIL: 'no interface has that address on this machine',
};


export async function bindSocket(kind: SocketKind, spec: string, chmodSocket: number | undefined, backlog: number): Promise<BoundSocket> {
  checkUnixPath(kind, spec);
  const addr = parseAddress(spec);
  const create = (net as unknown as { _createServerHandle: CreateServerHandle })._createServerHandle;
  if (addr.path !== undefined) await clearStaleUnixSocket(addr.path);
  const hostForBind = addr.host ?? '::';
  const addressType = addr.path !== undefined ? -1 : net.isIPv6(hostForBind) ? 6 : 4;
  let handle = create(addr.path ?? hostForBind, addr.path !== undefined ? -1 : addr.port, addressType);
  if (typeof handle === 'number' && addr.host === undefined && addr.path === undefined) {
    // `:port` on a machine without IPv6: fall back to all IPv4 interfaces, as uWSGI binds 0.0.0.0.
    handle = create('0.0.0.0', addr.port, 4);
  }
  if (typeof handle === 'number') {
    const name = getSystemErrorName(handle);
    const hint = ERRNO_HINT[name] ?? 'check the address';
    throw new UsherError('USHER_ERR_BIND', `cannot bind ${optionName(kind)} ${spec}: ${name}: ${hint}`);
  }
  const h = handle;
  let port: number | undefined;
  let host: string | undefined;
  if (addr.path === undefined) {
    const out: { address?: string; port?: number } = {};
    h.getsockname?.(out);
    port = out.port;
    host = out.address;
    // libuv defers EADDRINUSE from bind() to listen(), which only the workers call: an address in
    // use shows here as a socket left unbound (no port), and must be refused now, not silently
    // auto-bound to a random port by the workers' listen().
    if (!port || (addr.port > 0 && port !== addr.port)) {
      h.close();
      throw new UsherError('USHER_ERR_BIND', `cannot bind ${optionName(kind)} ${spec}: EADDRINUSE: ${ERRNO_HINT.EADDRINUSE}`);
    }
  }
  let listener: ListenableHandle;
  try {
    listener = listenWithoutAccepting(h.fd, backlog, `${optionName(kind)} ${spec}`);
  } catch (err) {
    h.close();
    throw err;
  }
  if (addr.path !== undefined && chmodSocket !== undefined) chmodSync(addr.path, chmodSocket);
  let closed = false;
  return {
    kind,
    spec,
    fd: h.fd,
    path: addr.path,
    port,
    host,
    activated: false,
    handle: h,
    close(): void {
      void listener; // referenced for as long as the socket lives
      if (closed) return;
      closed = true;
      h.close();
    },
  };
}

export function describeSocket(s: BoundSocket): string {
  if (s.path !== undefined) return s.path;
  const host = s.host === undefined || s.host === '::' || s.host === '0.0.0.0' ? '' : s.host.includes(':') ? `[${s.host}]` : s.host;
  return `${host}:${s.port}`;
}

/** A socket systemd passed, as described by master/systemd. */
export interface PassedSocket {
  readonly fd: number;
  readonly name: string | undefined;
  readonly path: string | undefined;
  readonly port: number | undefined;
  readonly host: string | undefined;
}

function sameHost(a: string | undefined, b: string | undefined): boolean {
  const norm = (h: string | undefined): string => (h === undefined || h === '::' || h === '0.0.0.0' ? '*' : h.replace(/^::ffff:/, '').replace(/^localhost$/, '127.0.0.1'));
  return norm(a) === norm(b);
}

/** The passed socket that is this configured address, if systemd passed it. */
export function findPassed(spec: string, passed: readonly PassedSocket[]): PassedSocket | undefined {
  const addr = parseAddress(spec);
  if (addr.path !== undefined) return passed.find((p) => p.path === addr.path);
  return passed.find((p) => p.port === addr.port && sameHost(p.host, addr.host));
}

/** Use a socket systemd passed instead of binding one. */
export function adoptSocket(kind: SocketKind, spec: string, p: PassedSocket): BoundSocket {
  return { kind, spec, fd: p.fd, path: p.path, port: p.port, host: p.host, activated: true, close(): void { /* systemd's */ } };
}
