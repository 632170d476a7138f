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
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
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

/** Bytes per read(2) of /proc/net/tcp{,6}: about one row (150 bytes in tcp, 180 in tcp6), see below. */
const ROW_READ = 256;

/**
 * LISTEN rows of /proc/net/tcp and tcp6: inode -> current accept queue length. With `wanted` (the
 * inodes of our own sockets) it stops reading as soon as it has them all, and tcp6 is not opened
 * when tcp had them. Why: the kernel lists listening sockets first, then walks the whole established
 * hash table (262144 buckets on a small machine, empty or not) for the rest; reading both files to
 * the end cost the master ~2.6 ms of system time per sample. Reading a row or so per read(2) and
 * stopping early leaves that walk out (unless one of ours happens to be the last listening row).
 */
export async function tcpListenQueues(wanted?: ReadonlySet<string>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const buf = Buffer.allocUnsafe(ROW_READ);
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      continue; // no IPv6 on this machine
    }
    try {
      if (readListenRows(fd, buf, out, wanted)) break;
    } catch {
      // a read error mid-file: keep what was read
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/** Rows from an open /proc/net/tcp{,6} into `out`; true once every wanted inode is in it. */
function readListenRows(fd: number, buf: Buffer, out: Map<string, number>, wanted: ReadonlySet<string> | undefined): boolean {
  let pending = '';
  let header = true;
  let found = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) return false;
    pending += buf.toString('latin1', 0, n);
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (header) {
        header = false;
        continue;
      }
      // sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (f[3] !== '0A') return false; // past the listening sockets: the rest are connections
      out.set(f[9]!, parseInt((f[4] ?? '').split(':')[1] ?? '0', 16));
      if (wanted !== undefined && wanted.has(f[9]!) && ++found >= wanted.size) return true;
    }
  }
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

const VM_RSS = /^VmRSS:\s+(\d+) kB/m;
const VM_SIZE = /^VmSize:\s+(\d+) kB/m;
const kb = (re: RegExp, text: string): number => Number(re.exec(text)?.[1] ?? 0) * 1024;

/** RSS and virtual size of a process, in bytes; null when it is gone. */
export async function processMemory(pid: number): Promise<Memory | null> {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: kb(VM_RSS, text), vsz: kb(VM_SIZE, text) };
  } catch {
    return null;
  }
}
