/**
 * master/fifo: uWSGI's `master-fifo`, a named pipe the master reads one-letter commands from
 * (`echo r > /run/usher/master.fifo`). Each fifo is (re)created at start (a stale fifo from a dead
 * instance is replaced; a regular file in the way, or a missing folder, stops usher with a message
 * naming the option) and removed on exit. The first fifo is read; `0`-`9` switch to the Nth one.
 * It is opened read-write and non-blocking, so writers coming and going never end the stream.
 * Must not: act on a command itself (MasterControl does), or block the master.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, constants, lstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname, resolve } from 'node:path';
import type { UsherConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';

/** What the fifo's commands do; master/index wires it to the arbiter. */
export interface MasterControl {
  reload(reason: string): void;
  chainReload(reason: string): void;
  /** Start one more worker (up to `processes`), or retire the highest one (down to 1). */
  addWorker(): void;
  removeWorker(): void;
  stop(): void;
  stopNow(): void;
  reopenLogs(): void;
  setRequestLogging(enabled: boolean): void;
  requestLogging(): boolean;
}

function at(c: UsherConfig): { file?: string; line?: number; option: string } {
  return { file: c.sources['master-fifo']?.file, line: c.sources['master-fifo']?.line, option: 'master-fifo' };
}

/** Checks every fifo path before anything is created. */
export function checkFifos(c: UsherConfig): string[] {
  return c.masterFifo.map((p) => {
    const path = resolve(p);
    const folder = dirname(path);
    let dir = false;
    try { dir = statSync(folder).isDirectory(); } catch { /* reported below */ }
    if (!dir) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `master-fifo = ${p}: the folder ${folder} does not exist; create it (systemd: RuntimeDirectory=) or fix the path`, at(c));
    let st;
    try { st = lstatSync(path); } catch { return path; }
    if (!st.isFIFO()) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `master-fifo = ${p}: a file that is not a fifo is in the way; move it or choose another path`, at(c));
    return path;
  });
}

export class MasterFifo {
  private reader: net.Socket | undefined;
  private active = 0;

  private constructor(private readonly paths: readonly string[], private readonly control: MasterControl, private readonly log: Logger) {}

  /** Create the fifos (0600, owned by `owner` when given: the master reads them after dropping root). */
  static create(paths: readonly string[], control: MasterControl, log: Logger, owner?: { uid: number; gid: number }): MasterFifo {
    for (const path of paths) {
      try { unlinkSync(path); } catch { /* none yet */ }
      const r = spawnSync('mkfifo', ['-m', '600', path], { encoding: 'utf8' });
      if (r.status !== 0) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `master-fifo = ${path}: cannot create the fifo: ${r.error?.message ?? r.stderr.trim()}`, { option: 'master-fifo' });
      if (owner !== undefined) chownSync(path, owner.uid, owner.gid);
    }
    return new MasterFifo(paths, control, log);
  }

  /** Start reading the active fifo. */
  open(): void {
    const path = this.paths[this.active] as string;
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    const reader = new net.Socket({ fd, readable: true, writable: false });
    reader.on('data', (chunk: Buffer) => { for (const byte of chunk) this.command(String.fromCharCode(byte)); });
    reader.on('error', (err) => this.log.warn('master-fifo read error', { path, error: err.message }));
    reader.unref();
    this.reader = reader;
    this.log.info('reading master-fifo', { path });
  }

  private command(cmd: string): void {
    const c = this.control;
    switch (cmd) {
      case 'r': case 'w': c.reload(`master-fifo ${cmd}`); break;
      // usher's reload is always graceful: R (uWSGI's brutal reload) does the graceful one, and says so.
      case 'R': this.log.info('master-fifo R: doing a graceful reload (usher has no brutal reload)'); c.reload('master-fifo R'); break;
      case 'c': c.chainReload('master-fifo c'); break;
      case '+': c.addWorker(); break;
      case '-': c.removeWorker(); break;
      case 'q': c.stop(); break;
      case 'Q': c.stopNow(); break;
      case 'l': c.reopenLogs(); break;
      case 'L': c.setRequestLogging(!c.requestLogging()); break;
      case '\n': case '\r': case ' ': break;
      default:
        if (cmd >= '0' && cmd <= '9') this.switchTo(Number(cmd));
        else this.log.warn('master-fifo: unknown or unsupported command', { command: JSON.stringify(cmd), known: 'r R w c + - q Q l L 0-9' });
    }
  }

  private switchTo(n: number): void {
    if (n >= this.paths.length) {
      this.log.warn('master-fifo: no such fifo', { index: n, fifos: this.paths.length });
      return;
    }
    const previous = this.active;
    this.reader?.destroy();
    this.active = n;
    try {
      this.open();
    } catch (err) {
      this.log.warn('master-fifo: cannot open that fifo; staying on the current one', { path: this.paths[n], error: (err as Error).message });
      this.active = previous;
      this.open();
    }
  }

  /** Stop reading and remove the fifos. */
  close(): void {
    this.reader?.destroy();
    this.reader = undefined;
    for (const p of this.paths) try { unlinkSync(p); } catch { /* gone, or the folder is not ours */ }
  }
}
