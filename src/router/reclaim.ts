/**
 * router/reclaim: keeps the memory of bodies passing through the router bounded. Every chunk a socket
 * reads is a fresh 64 KiB buffer outside V8's heap; a chunk dies as soon as it is written on, but V8
 * only collects young objects when its young heap fills, and a body's chunks leave almost nothing
 * there, so the dead buffers piled up to V8's external-memory limit (measured: +33 to +40 MiB of router
 * RSS per 100 MB upload, while uWSGI grows ~1 MiB). A young-generation collection (~0.2 ms measured)
 * after every RECLAIM_BYTES of body data frees them: ~20 ms per 100 MB, and the router then grows by
 * 5-7 MiB per 100 MB upload (4 MiB between collections measured 7-10 MiB).
 *
 * Under load V8 grows the router's young generation to its largest (two semi-spaces of 16 MiB by
 * default, 8 MiB as master/spawn starts the router: the requests in flight survive every scavenge, and V8 grows the space once that many bytes have survived)
 * and keeps it while the process stays quiet (measured: 47 MiB anonymous PSS for the router after a
 * 10 s load, still 45-49 MiB 10 to 40 s later, against 10 MiB before the load). V8 shrinks it on a
 * collection that finds the allocation rate of the last 5 s low but not zero, so once traffic stops: a
 * young collection at the first quiet check (it closes the busy period's allocation off), then one full
 * collection QUIET_WINDOW_MS later (its window holds only the quiet trickle of timers), which shrinks
 * the young generation and returns its pages. A full collection alone right after the load sees the
 * load's tail in its window and shrinks nothing (measured).
 * Must not: run a full collection on the request path, or more than once per quiet spell.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Body bytes (either direction) between two young-generation collections. */
export const RECLAIM_BYTES = 1 * 1024 * 1024;

/**
 * V8's gc(): with no argument a full collection in every V8 that Node ships; with `{ type: 'minor' }` a
 * young one. Node 20's V8 reads any argument as "young", `{ type: 'major' }` included (measured, and
 * held by test/router/reclaim.test.ts), so a full collection is asked for with no argument.
 */
type Gc = (opts?: { type: 'minor' }) => void;

function exposeGc(): Gc | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as Gc) : undefined;
  } catch {
    return undefined; // without it memory is still bounded, by V8's own limit
  }
}

const gc = exposeGc();
let since = 0;

/** Count body bytes that just passed through; collect the young generation every RECLAIM_BYTES. */
export function passed(bytes: number): void {
  since += bytes;
  if (since < RECLAIM_BYTES) return;
  since = 0;
  gc?.({ type: 'minor' });
}

/** V8's allocation-rate window (kThroughputTimeFrameMs, 5 s) and a margin: quiet time between the two collections. */
export const QUIET_WINDOW_MS = 6000;

/**
 * Every checkMs, compare `requests()` with the last look: at the first look where it stood still after
 * it moved, a young collection; QUIET_WINDOW_MS later, if it still stands, one full collection.
 * Returns the (unref'd) timer.
 */
export function reclaimWhenIdle(requests: () => number, checkMs = 1000): NodeJS.Timeout {
  let last = requests();
  let moved = false;
  let quietSince: number | undefined;
  const timer = setInterval(() => {
    const n = requests();
    if (n !== last) {
      last = n;
      moved = true;
      quietSince = undefined;
    } else if (moved && quietSince === undefined) {
      quietSince = Date.now();
      gc?.({ type: 'minor' });
    } else if (moved && quietSince !== undefined && Date.now() - quietSince >= QUIET_WINDOW_MS) {
      moved = false;
      quietSince = undefined;
      gc?.();
    }
  }, checkMs);
  timer.unref();
  return timer;
}
