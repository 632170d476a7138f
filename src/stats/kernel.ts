/**
 * stats/kernel: figures only the kernel knows, read without touching the sockets or the children.
 *  - Listen queue depth of a bound socket (connections accepted by the kernel, not yet by a worker).
 *    TCP: /proc/net/tcp{,6}, the LISTEN row with the socket's inode: rx_queue is the current accept
 *    queue (its limit is not there: the caller knows the backlog it asked for). Unix sockets: /proc/net/unix has no queue, so we
 *    ask `ss -xlnH` (iproute2, sock_diag netlink: Recv-Q is the queue, Send-Q the backlog), matched
 *    by inode as well. uWSGI reads TCP the same way (tcp_info) and unix queues only with a patched
 *    kernel; usher reports both.
 *  - Memory of a child: VmRSS and VmSize from /proc/PID/status, in bytes (uWSGI's rss and vsz).
 * The once-a-second reads of /proc are synchronous: /proc never waits on a disk, and each async
 * readFile is four trips through libuv's thread pool (open, fstat, read, close), whose thread wake-ups
 * cost the master ~10 ms of CPU a second with stats on.
 * Must not: write anything, or fail a stats request when /proc or ss is unavailable (null instead).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';

export interface QueueDepth {
  readonly queue: number;
  readonly max: number;
}

/** The inode of an open socket fd of this process (`socket:[12345]`), or undefined. */
export async function socketInode(fd: number): Promise<string | undefined> {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/self/fd/${fd}`));
    return m?.[1];
  } catch {
    return undefined;
  }
}

/** LISTEN rows of /proc/net/tcp and tcp6: inode -> current accept queue length. */
export async function tcpListenQueues(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 on this machine
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
      if (f.length < 10 || f[3] !== '0A') continue;
      out.set(f[9]!, parseInt((f[4] ?? '').split(':')[1] ?? '0', 16));
    }
  }
  return out;
}

let ssMissing = false;

/** Listening unix sockets from `ss -xlnH`: inode -> depth; null when ss cannot run. */
export function unixListenQueues(): Promise<Map<string, QueueDepth> | null> {
  if (ssMissing) return Promise.resolve(null);
  return new Promise((done) => {
    execFile('ss', ['-xlnH'], { timeout: 2000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') ssMissing = true;
        done(null);
        return;
      }
      const out = new Map<string, QueueDepth>();
      for (const line of stdout.split('\n')) {
        // u_str LISTEN Recv-Q Send-Q <path> <inode> * 0   (the path may hold spaces: count from the end)
        const f = line.trim().split(/\s+/);
        if (f.length < 8 || f[1] !== 'LISTEN') continue;
        out.set(f[f.length - 3]!, { queue: Number(f[2]), max: Number(f[3]) });
      }
      done(out);
    });
  });
}

/** The kernel caps every listen backlog at net.core.somaxconn. */
export async function somaxconn(): Promise<number> {
  try {
    return Number((await readFile('/proc/sys/net/core/somaxconn', 'utf8')).trim()) || 4096;
  } catch {
    return 4096;
  }
}

export interface Memory {
  readonly rss: number;
  readonly vsz: number;
}

/** RSS and virtual size of a process, in bytes; null when it is gone. */
export async function processMemory(pid: number): Promise<Memory | null> {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), vsz: kb('VmSize') };
  } catch {
    return null;
  }
}
