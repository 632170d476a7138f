/**
 * bench/load: drives a server with wrk (Debian's package) and reads its report: requests/s, latency
 * percentiles, non-2xx answers and socket errors. One client thread, fixed connections: on a 2-core
 * machine a second wrk thread steals the server's core. Where wrk is absent, autocannon (npm) does the
 * same job in this process, and the run says so: its figures are lower than wrk's (a JS client costs
 * more CPU per request on the shared cores), so compare ratios, not absolute numbers, across the two.
 */
import { execFile } from 'node:child_process';
import autocannon from 'autocannon';
import { which } from './procs.js';

export interface Load {
  readonly rps: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly errors: number;
  readonly requests: number;
}

export const CLIENT = { threads: 1, connections: 64 } as const;

function ms(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

export function parseWrk(out: string): Load {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const lat = (p: string): number => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`).exec(out);
    return m ? ms(m[1] as string, m[2] as string) : NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  if (!Number.isFinite(rps)) throw new Error(`could not read wrk's report:\n${out.slice(0, 500)}`);
  return { rps, p50ms: lat('50'), p99ms: lat('99'), errors: non2xx + socketErrors, requests };
}

function runWrk(url: string, seconds: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    execFile('wrk', [`-t${CLIENT.threads}`, `-c${CLIENT.connections}`, `-d${seconds}s`, '--latency', url], { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) { reject(new Error(`wrk failed: ${err.message} ${stderr}`)); return; }
      try { resolve(parseWrk(stdout)); } catch (e) { reject(e as Error); }
    });
  });
}

async function runAutocannon(url: string, seconds: number): Promise<Load> {
  const r = await autocannon({ url, connections: CLIENT.connections, duration: seconds, pipelining: 1 });
  return {
    rps: r.requests.average,
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    requests: r.requests.total,
  };
}

export type LoadTool = 'wrk' | 'autocannon';

/** wrk when it is installed, else autocannon. */
export function loadTool(): LoadTool {
  return which('wrk') ? 'wrk' : 'autocannon';
}

export function runLoad(tool: LoadTool, url: string, seconds: number): Promise<Load> {
  return tool === 'wrk' ? runWrk(url, seconds) : runAutocannon(url, seconds);
}
