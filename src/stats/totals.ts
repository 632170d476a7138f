/**
 * stats/totals: a slot's counters summed over every process that held it (requests, bytes, status
 * classes, the response-time histogram), and the percentiles read from such a histogram.
 * Must not: hold state (stats/collector keeps the slots).
 */
import { RT_BUCKETS_US, STATUS_CLASSES, type ChildCounters } from '../ipc.js';

export interface Totals {
  requests: number; exceptions: number; tx: number; rtUs: number; harakiri: number;
  /** By status class [1xx … 5xx], and by response-time bucket (RT_BUCKETS_US, then slower; not cumulative). */
  readonly codes: number[]; readonly rtHist: number[];
}

export function zeroTotals(): Totals {
  return {
    requests: 0, exceptions: 0, tx: 0, rtUs: 0, harakiri: 0,
    codes: new Array<number>(STATUS_CLASSES).fill(0), rtHist: new Array<number>(RT_BUCKETS_US.length + 1).fill(0),
  };
}

/** What a process's counters and a slot's totals have in common: what adds up. */
type Counts = Pick<ChildCounters, 'requests' | 'exceptions' | 'tx' | 'rtUs' | 'harakiri' | 'codes' | 'rtHist'>;

/** Add one process's counters (or another slot's totals) to a slot's totals. */
export function addTo(t: Totals, c: Counts): void {
  t.requests += c.requests;
  t.exceptions += c.exceptions;
  t.tx += c.tx;
  t.rtUs += c.rtUs;
  t.harakiri += c.harakiri;
  for (let i = 0; i < t.codes.length; i++) t.codes[i]! += c.codes[i] ?? 0;
  for (let i = 0; i < t.rtHist.length; i++) t.rtHist[i]! += c.rtHist[i] ?? 0;
}

/**
 * The q-quantile (ms) of requests counted by bucket (RT_BUCKETS_US, then slower), interpolated
 * linearly inside its bucket as Prometheus' histogram_quantile() does; a quantile in the open last
 * bucket is its lower bound (10 s). 0 when there are no requests.
 */
export function quantileMs(hist: readonly number[], q: number): number {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i]!;
    if (below + n >= rank && n > 0) {
      if (i >= RT_BUCKETS_US.length) return RT_BUCKETS_US[RT_BUCKETS_US.length - 1]! / 1000;
      const lo = i === 0 ? 0 : RT_BUCKETS_US[i - 1]!;
      return (lo + (RT_BUCKETS_US[i]! - lo) * ((rank - below) / n)) / 1000;
    }
    below += n;
  }
  return RT_BUCKETS_US[RT_BUCKETS_US.length - 1]! / 1000;
}
