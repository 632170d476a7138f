/**
 * master/exits: what a child's exit means, by table (gunicorn's reap_workers, made explicit). The
 * arbiter asks `classifyExit` and acts on the verdict: respawn now, respawn with back-off, stop usher,
 * or nothing (the child was being retired anyway). Reserved exit codes come from the contract.
 * Must not: act (the arbiter does), or log.
 */
import { EXIT, type ExitReason } from '../ipc.js';
import type { DeathReason } from './events.js';

export type Respawn = 'now' | 'backoff' | 'stop-usher' | 'none';

export interface ExitVerdict {
  readonly reason: DeathReason;
  readonly respawn: Respawn;
  readonly level: 'info' | 'warn' | 'error';
  /** The log message, without fields. */
  readonly message: string;
}

export interface ExitContext {
  /** The master asked it to stop (reload, recycle replacement, usher stopping). */
  readonly retiring: boolean;
  /** It had not reported ready yet. */
  readonly starting: boolean;
  /** The master killed it for missing heartbeats. */
  readonly unresponsive: boolean;
  /** usher (or a reload) is coming up and needs this child: failing before ready means it cannot. */
  readonly mustStart: boolean;
  /** The reason it gave in an `exiting` message before leaving, if any. */
  readonly announced: ExitReason | undefined;
}

const RECYCLED: Readonly<Record<ExitReason, DeathReason>> = {
  'max-requests': 'max-requests', harakiri: 'harakiri', lifetime: 'lifetime', rss: 'rss', stop: 'stopped',
};

export function classifyExit(code: number | null, signal: string | null, ctx: ExitContext): ExitVerdict {
  if (ctx.unresponsive) return { reason: 'unresponsive', respawn: 'now', level: 'error', message: 'killed: no heartbeat within heartbeat-timeout; respawning' };
  if (code === EXIT.APP_LOAD && ctx.starting) return { reason: 'app-load', respawn: 'stop-usher', level: 'error', message: 'the app could not be loaded' };
  if (code === EXIT.BOOT && ctx.starting) return { reason: 'boot', respawn: 'stop-usher', level: 'error', message: 'could not start (see the error above)' };
  if (code === EXIT.CONTRACT && ctx.starting) return { reason: 'contract', respawn: 'stop-usher', level: 'error', message: 'speaks another contract version than the master (mixed usher installs)' };
  if (ctx.starting && ctx.mustStart && !ctx.retiring) {
    return { reason: 'boot', respawn: 'stop-usher', level: 'error', message: `could not start: it ${signal !== null ? `was killed by ${signal}` : `exited with ${code}`} before it was ready` };
  }
  if (code === EXIT.HARAKIRI) return { reason: 'harakiri', respawn: ctx.retiring ? 'none' : 'now', level: 'warn', message: 'harakiri: a request outlived `harakiri`; respawning' };
  if (ctx.announced !== undefined && (code === EXIT.RECYCLE || code === EXIT.OK)) {
    const reason = RECYCLED[ctx.announced];
    // A recycled child was replaced when it announced its exit (never two down at once), so nothing to respawn here.
    return { reason, respawn: 'none', level: 'info', message: `recycled (${reason})` };
  }
  if (code === EXIT.RECYCLE) return { reason: 'recycled', respawn: ctx.retiring ? 'none' : 'now', level: 'info', message: 'recycled; respawning' };
  if (ctx.retiring) return { reason: 'retired', respawn: 'none', level: 'info', message: 'retired' };
  if (code === EXIT.OK && signal === null) return { reason: 'exited', respawn: 'backoff', level: 'warn', message: 'died; respawning' };
  if (signal !== null) return { reason: 'killed', respawn: 'backoff', level: 'warn', message: 'died; respawning' };
  return { reason: 'crashed', respawn: 'backoff', level: 'warn', message: 'died; respawning' };
}
