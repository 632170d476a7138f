/**
 * master/systemd: what systemd asks of a service, without native code.
 *
 * sd_notify (Type=notify): READY=1 once every worker is ready, RELOADING=1 (+MONOTONIC_USEC) on a
 * reload then READY=1 again, STOPPING=1, a one-line STATUS=, and WATCHDOG=1 every half
 * $WATCHDOG_USEC while the master's event loop runs. $NOTIFY_SOCKET is a unix datagram socket, which
 * Node cannot open, so each message is sent by Debian's `systemd-notify` (in the systemd package:
 * wherever $NOTIFY_SOCKET is set, it is there), one at a time and in order. It waits (BARRIER) until
 * systemd has read the message, so a message is never lost to the sender having exited, and it says
 * MAINPID=<master>. The sender is a child process, so the unit needs NotifyAccess=all (the unit
 * `usher deploy systemd` writes has it).
 *
 * Socket activation: sockets systemd passes (LISTEN_FDS from fd 3, LISTEN_PID = this process,
 * LISTEN_FDNAMES) are used in place of binding the configured address they match; LISTEN_* meant for
 * another process are ignored with a warning. The variables are removed so no child sees them.
 * Must not: supervise, or bind anything itself.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from '../log.js';
import { subscribe, type MasterEvent } from './events.js';
import type { PassedSocket } from './sockets.js';

// ---------- sd_notify ----------

export interface Notifier {
  send(fields: Record<string, string | number>): void;
  close(): void;
}

/** A notifier for $NOTIFY_SOCKET, or undefined when usher is not run by systemd as Type=notify. */
export function systemdNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env): Notifier | undefined {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return undefined;
  delete env.NOTIFY_SOCKET; // children must not talk to systemd as if they were the service
  const queue: string[][] = [];
  let busy = false;
  let warned = false;
  const next = (): void => {
    const args = queue.shift();
    if (args === undefined) { busy = false; return; }
    busy = true;
    const p = spawn('systemd-notify', [`--pid=${process.pid}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: socket } });
    let err = '';
    p.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    p.once('error', (e) => {
      if (!warned) log.warn('cannot notify systemd: `systemd-notify` could not be run (install systemd, or drop Type=notify)', { error: e.message });
      warned = true;
      next();
    });
    p.once('exit', (code) => {
      if (code !== 0 && !warned) { log.warn('systemd-notify failed', { code, error: err.trim().split('\n')[0] }); warned = true; }
      next();
    });
  };
  return {
    send(fields) {
      queue.push(Object.entries(fields).map(([k, v]) => `${k}=${v}`));
      if (!busy) next();
    },
    close() { /* messages already queued still go out */ },
  };
}

/** CLOCK_MONOTONIC in microseconds, as RELOADING=1 wants it (libuv's hrtime is CLOCK_MONOTONIC). */
function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}

/** Translate master events into sd_notify messages; returns a function that stops it all. */
export function notifySystemd(n: Notifier, summary: () => string, log: Logger, env: NodeJS.ProcessEnv = process.env): () => void {
  const unsubscribe = subscribe((e: MasterEvent) => {
    switch (e.type) {
      case 'ready': n.send({ READY: 1, STATUS: summary() }); break;
      case 'reload-started': n.send({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec(), STATUS: `reloading: starting generation ${e.generation}` }); break;
      case 'reload-finished': n.send({ READY: 1, STATUS: e.ok ? summary() : `reload failed; generation ${e.generation - 1} keeps serving` }); break;
      case 'stopping': n.send({ STOPPING: 1, STATUS: `stopping (${e.reason})` }); break;
      default: break;
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
  if (usec > 0 && forUs) {
    const every = Math.max(1, Math.floor(usec / 2000));
    timer = setInterval(() => n.send({ WATCHDOG: 1 }), every);
    timer.unref();
    log.info('systemd watchdog on', { every_ms: every });
  }
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  return () => { unsubscribe(); if (timer) clearInterval(timer); };
}

// ---------- socket activation ----------

const SD_LISTEN_FDS_START = 3;

function unixPathOf(fd: number): string | undefined {
  const link = readlinkSync(`/proc/self/fd/${fd}`);
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (inode === undefined) return undefined;
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[6] === inode) return f[7];
  }
  return undefined;
}

type Handle = { getsockname?(out: { address?: string; port?: number }): number };

function describe(fd: number, name: string | undefined): PassedSocket {
  const create = (net as unknown as { _createServerHandle(a: null, p: null, t: null, fd: number): Handle | number })._createServerHandle;
  const h = create(null, null, null, fd);
  if (typeof h !== 'number' && h.getsockname !== undefined) {
    const out: { address?: string; port?: number } = {};
    h.getsockname(out);
    return { fd, name, path: undefined, port: out.port, host: out.address };
  }
  return { fd, name, path: unixPathOf(fd), port: undefined, host: undefined };
}

/** Sockets systemd passed to this process (none when LISTEN_PID names another one). */
export function passedSockets(log: Logger, env: NodeJS.ProcessEnv = process.env): PassedSocket[] {
  const count = Number(env.LISTEN_FDS ?? 0);
  const pid = env.LISTEN_PID;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  for (const k of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) delete env[k];
  if (!(count > 0)) return [];
  if (pid !== undefined && Number(pid) !== process.pid) {
    log.warn('ignoring LISTEN_FDS: LISTEN_PID names another process (the variables were meant for it, not for usher); binding the configured sockets instead', { LISTEN_PID: pid, pid: process.pid });
    return [];
  }
  const out: PassedSocket[] = [];
  for (let i = 0; i < count; i++) out.push(describe(SD_LISTEN_FDS_START + i, names[i] || undefined));
  return out;
}
