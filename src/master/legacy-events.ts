/**
 * master/legacy-events: a bridge for an arbiter that does not publish master events yet. It derives
 * 'reload-started', 'reload-finished' and 'stopping' from the arbiter's own log lines, so sd_notify
 * works either way. An arbiter that publishes them itself (it has `enqueue()`) gets no bridge, and
 * this file can go once every arbiter does.
 * Must not: change what is logged.
 */
import type { LogFields, Logger } from '../log.js';
import { publish } from './events.js';

function derive(msg: string, f: LogFields | undefined): void {
  const generation = typeof f?.generation === 'number' ? f.generation : 0;
  if (msg.startsWith('reloading:')) publish({ type: 'reload-started', generation });
  else if (msg === 'reload complete') publish({ type: 'reload-finished', generation, ok: true });
  else if (msg.startsWith('reload failed')) publish({ type: 'reload-finished', generation, ok: false });
  else if (msg === 'stopping' || msg === 'stopping gracefully') publish({ type: 'stopping', reason: String(f?.reason ?? ''), graceful: msg !== 'stopping' });
}

/** A logger that also publishes the events an older arbiter only logs. */
export function bridgeEvents(log: Logger): Logger {
  const wrap = (emit: (m: string, f?: LogFields) => void) => (m: string, f?: LogFields): void => { emit(m, f); derive(m, f); };
  return { ...log, info: wrap(log.info), warn: wrap(log.warn), error: wrap(log.error) };
}
