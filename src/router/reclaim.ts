/**
 * router/reclaim: keeps the memory of bodies passing through the router bounded. Every chunk a socket
 * reads is a fresh 64 KiB buffer outside V8's heap; a chunk dies as soon as it is written on, but V8
 * only collects young objects when its young heap fills, and a body's chunks leave almost nothing
 * there, so the dead buffers piled up to V8's external-memory limit (measured: +33 to +40 MiB of router
 * RSS per 100 MB upload, while uWSGI grows ~1 MiB). A young-generation collection (~0.2 ms measured)
 * after every RECLAIM_BYTES of body data frees them: ~20 ms per 100 MB, and the router then grows by
 * 5-7 MiB per 100 MB upload (4 MiB between collections measured 7-10 MiB).
 * Must not: run a full collection, or run on the per-request path of small requests.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Body bytes (either direction) between two young-generation collections. */
export const RECLAIM_BYTES = 1 * 1024 * 1024;

type Gc = (opts?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

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
