/**
 * logging/facts: what a worker knows about a finished request, the one input of every access line.
 * Workers fill one reused object per process (no allocation per request); the fixture corpus
 * (test/fixtures/logging/*.json) holds the same record as JSON, so the TypeScript and the Python
 * renderers are tested on identical input.
 * Must not: compute anything (workers fill it, logging/format renders it).
 */

export interface RequestFacts {
  /** REMOTE_ADDR (or X-Forwarded-For with `log-x-forwarded-for`). */
  addr: string;
  /** REMOTE_USER. */
  user: string;
  method: string;
  /** REQUEST_URI as the client sent it. */
  uri: string;
  /** SERVER_PROTOCOL (`HTTP/1.1`). */
  proto: string;
  status: number;
  /** Response body bytes. */
  rsize: number;
  /** Response head bytes (status line, headers, blank line). */
  hsize: number;
  /** Response header count. */
  headers: number;
  /** Request CONTENT_LENGTH (0 when none). */
  cl: number;
  referer: string;
  uagent: string;
  host: string;
  /** Request start, microseconds since the epoch. */
  startUs: number;
  /** Response time, microseconds. */
  durUs: number;
  pid: number;
  /** Worker id (1-based). */
  wid: number;
  /** Thread (Python) or 0 (Node): uWSGI's core. */
  core: number;
  switches: number;
  /** Number of request vars, and the bytes of the uwsgi vars block. */
  vars: number;
  pktsize: number;
  /** Resident and virtual memory of the worker, bytes (refreshed at most once a second). */
  rss: number;
  vsz: number;
  /** Requests this worker has served, this one included. */
  req: number;
  /** The response did not complete (client went away). */
  aborted: boolean;
  /** Request vars by CGI name (HTTP_USER_AGENT, REMOTE_ADDR, ...), for `%(var.NAME)`. */
  env: Readonly<Record<string, string>> | null;
  /** Or a lookup, when the worker has no vars dict (Node's HTTP requests). */
  lookup: ((name: string) => string | undefined) | null;
}

export function emptyFacts(): RequestFacts {
  return {
    addr: '', user: '', method: '', uri: '', proto: '', status: 0, rsize: 0, hsize: 0, headers: 0, cl: 0,
    referer: '', uagent: '', host: '', startUs: 0, durUs: 0, pid: process.pid, wid: 0, core: 0, switches: 1,
    vars: 0, pktsize: 0, rss: 0, vsz: 0, req: 0, aborted: false, env: null, lookup: null,
  };
}

export function varOf(f: RequestFacts, name: string): string | undefined {
  if (f.env !== null) return f.env[name];
  return f.lookup !== null ? f.lookup(name) : undefined;
}
