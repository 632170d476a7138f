/**
 * test/helpers/corpus: the uwsgi fixture corpus in test/fixtures/uwsgi: each <name>.bin (bytes as a
 * peer sent them: header, vars, body) with a <name>.json saying what it must decode to, or which error
 * it must raise. Shared by the replay test and the live capture test. No side effects on import.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CgiRequest } from '../../src/protocol/index.js';
import type { UsherErrorCode } from '../../src/errors.js';

/** The repository root, whether this runs from test/ (tsx) or dist/test/ (tsc). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
  return dir;
}

export const FIXTURES = join(repoRoot(), 'test', 'fixtures', 'uwsgi');

export interface Fixture {
  /** Who produced the bytes (a front and its version, or "synthetic"). */
  readonly source: string;
  readonly why: string;
  /** The HTTP request sent to the front (live captures). */
  readonly request?: string;
  readonly bufferSize: number;
  readonly maxVars?: number;
  readonly modifier1?: number;
  readonly modifier2?: number;
  /** The body that follows the vars, latin1. */
  readonly body?: string;
  readonly expect?: CgiRequest;
  /** `at: 'cgi'` when the packet parses but cgiToRequest refuses it. */
  readonly error?: { readonly code: UsherErrorCode; readonly status: number; readonly at?: 'cgi' };
}

export function loadCorpus(dir = FIXTURES): { name: string; bytes: Buffer; fixture: Fixture }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -'.json'.length);
      return { name, bytes: readFileSync(join(dir, `${name}.bin`)), fixture: JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture };
    });
}

/** As it reads back from JSON: fields that are undefined are absent. */
export function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Ports change with every run of a front; everything else must match. */
export function maskVolatile(f: Fixture): Fixture {
  if (f.expect === undefined) return plain(f);
  return plain({ ...f, expect: { ...f.expect, remotePort: f.expect.remotePort === undefined ? undefined : 0, serverPort: f.expect.serverPort === undefined ? undefined : 0 } });
}

/** A small seeded PRNG (mulberry32), so a failing random chunking can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
