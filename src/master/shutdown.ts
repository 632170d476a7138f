/**
 * master/shutdown: how the master stops. SIGTERM drains first when `drain-time` is set (the children
 * answer their readiness path 503 while still serving), then stops gracefully (SIGTERM to every child,
 * SIGKILL to those still there after reload-mercy); a second SIGTERM while draining skips the rest of the
 * drain, a second one while stopping kills; SIGQUIT kills at once. The master's run ends (with its exit
 * code) when the last child is gone.
 * Must not: spawn or respawn children, or decide that usher must stop (the arbiter's).
 */
import type { Logger } from '../log.js';
import { flushSync } from '../log.js';
import { publish } from './events.js';
import type { ChildTable } from './children.js';

/** What the shutdown needs of the arbiter. */
export interface ShutdownHost {
  readonly children: ChildTable;
  readonly log: Logger;
  readonly drainMs: number;
  readonly reloadMercyMs: number;
  /** The arbiter is stopping already. */
  isStopping(): boolean;
  /** The arbiter enters its stopping state (no more heartbeat checks, no respawns). */
  enterStopping(): void;
}

export class Shutdown {
  private exitCode = 0;
  private resolveDone: ((code: number) => void) | undefined;
  private forceTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;

  constructor(private readonly host: ShutdownHost) {}

  /** Resolves with the process exit code once the master is done. */
  done(): Promise<number> {
    return new Promise<number>((resolve) => { this.resolveDone = resolve; });
  }

  /** SIGTERM or SIGINT. */
  term(sig: string): void {
    const { log, children } = this.host;
    if (this.drainTimer !== undefined) {
      log.warn(`second ${sig} while draining: stopping gracefully now`);
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
      this.begin(sig, false);
      return;
    }
    if (this.host.drainMs > 0 && !this.host.isStopping()) {
      // Draining first: load balancers see the readiness path fail and move traffic away while it is
      // still served; then the usual graceful stop.
      log.info('draining: the readiness path answers 503; stopping after drain-time', { reason: sig, drain_s: this.host.drainMs / 1000 });
      publish({ type: 'stopping', reason: `${sig} (draining)`, graceful: true });
      for (const c of children.all()) if (c.proc.connected) c.proc.send({ type: 'drain' });
      this.drainTimer = setTimeout(() => { this.drainTimer = undefined; this.begin(sig, false); }, this.host.drainMs);
      return;
    }
    if (this.host.isStopping()) {
      log.warn(`second ${sig}: stopping now`);
      this.killAll();
      return;
    }
    this.begin(sig, false);
  }

  /** SIGQUIT. */
  quit(): void {
    if (!this.host.isStopping()) this.begin('SIGQUIT', true);
    this.killAll();
  }

  /** usher cannot go on (a child could not start, an app does not load): stop at once, exit code 1. */
  fail(reason: string): void {
    this.exitCode = 1;
    this.begin(reason, true);
  }

  /** Stop every child: SIGTERM (graceful) or SIGKILL (brutal); SIGKILL whoever outlives reload-mercy. */
  begin(reason: string, brutal: boolean): void {
    const { log, children, reloadMercyMs } = this.host;
    if (this.host.isStopping()) return;
    this.host.enterStopping();
    log.info(brutal ? 'stopping' : 'stopping gracefully', { reason, children: children.size, mercy_s: reloadMercyMs / 1000 });
    publish({ type: 'stopping', reason, graceful: !brutal });
    if (children.size === 0) {
      this.finish();
      return;
    }
    for (const c of children.all()) {
      c.state = 'stopping';
      if (c.killTimer) clearTimeout(c.killTimer);
      c.proc.kill(brutal ? 'SIGKILL' : 'SIGTERM');
    }
    this.forceTimer = setTimeout(() => {
      log.warn('children did not stop within reload-mercy; killing them', { left: children.size, mercy_s: reloadMercyMs / 1000 });
      this.killAll();
    }, reloadMercyMs);
  }

  /** The last child is gone (or there was none): the master's run ends. */
  finish(): void {
    if (this.forceTimer) clearTimeout(this.forceTimer);
    this.host.children.close();
    publish({ type: 'stopped', code: this.exitCode });
    flushSync();
    this.resolveDone?.(this.exitCode);
  }

  private killAll(): void {
    for (const c of this.host.children.all()) c.proc.kill('SIGKILL');
  }
}
