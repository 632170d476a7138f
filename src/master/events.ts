/**
 * master/events: the master's lifecycle events on one `node:diagnostics_channel`, so sd_notify, the
 * stats server, metrics and the log subscribe instead of being called from the arbiter.
 * Publishing costs nothing when nobody listens (diagnostics_channel checks for subscribers).
 * Must not: act on events (subscribers do), or carry request data.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { ChildCounters } from '../ipc.js';

export type ChildRole = 'worker' | 'router';

/** Why a child ended, by name (master/exits.ts maps exit codes and signals to these). */
export type DeathReason = 'exited' | 'crashed' | 'killed' | 'harakiri' | 'max-requests' | 'lifetime' | 'rss' | 'recycled' | 'app-load'
  | 'boot' | 'contract' | 'unresponsive' | 'retired' | 'stopped';

export type MasterEvent =
  | { readonly type: 'starting'; readonly pid: number }
  | { readonly type: 'ready'; readonly workers: number; readonly generation: number }
  | { readonly type: 'spawned'; readonly role: ChildRole; readonly id: number; readonly pid: number; readonly generation: number }
  | { readonly type: 'child-ready'; readonly role: ChildRole; readonly id: number; readonly pid: number; readonly generation: number }
  | { readonly type: 'heartbeat'; readonly role: ChildRole; readonly id: number; readonly pid: number; readonly counters: ChildCounters }
  | { readonly type: 'died'; readonly role: ChildRole; readonly id: number; readonly pid: number; readonly reason: DeathReason;
      readonly code: number | null; readonly signal: string | null; readonly respawn: boolean }
  | { readonly type: 'reload-started'; readonly generation: number }
  | { readonly type: 'reload-finished'; readonly generation: number; readonly ok: boolean }
  | { readonly type: 'stopping'; readonly reason: string; readonly graceful: boolean }
  | { readonly type: 'stopped'; readonly code: number };

const channel = diagnostics_channel.channel('usher:master');

export function publish(event: MasterEvent): void {
  if (channel.hasSubscribers) channel.publish(event);
}

/** Subscribe to every master event; returns the unsubscribe function. */
export function subscribe(onEvent: (event: MasterEvent) => void): () => void {
  const handler = (message: unknown): void => onEvent(message as MasterEvent);
  channel.subscribe(handler);
  return () => { channel.unsubscribe(handler); };
}
