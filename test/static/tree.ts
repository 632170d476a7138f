// Builds test/fixtures/static/tree.json in a temp dir (files with fixed mtimes, symlinks, a FIFO) and
// loads the shared corpus files, with `{tmp}` in their specs replaced by that dir.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO, tempDir } from '../helpers/usher.js';
import type { StaticSpec } from '../../src/static/index.js';

export const FIXTURES = join(REPO, 'test', 'fixtures', 'static');

interface Tree {
  files: { path: string; content: string; mtime: number }[];
  symlinks: { path: string; to: string }[];
  fifos: string[];
  canary: string;
}

export interface CorpusCase {
  name: string;
  spec?: string;
  request: { method: string; target: string; headers?: Record<string, string> };
  expect: Record<string, unknown>;
}

export interface Corpus {
  now: number;
  specs: Record<string, StaticSpec>;
  cases: CorpusCase[];
}

export function buildTree(): { dir: string; canary: string; remove: () => void } {
  const t = JSON.parse(readFileSync(join(FIXTURES, 'tree.json'), 'utf8')) as Tree;
  const tmp = tempDir('usher-static-');
  for (const f of t.files) {
    const p = join(tmp.dir, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content);
    utimesSync(p, f.mtime, f.mtime);
  }
  for (const s of t.symlinks) symlinkSync(s.to, join(tmp.dir, s.path));
  for (const f of t.fifos) execFileSync('mkfifo', [join(tmp.dir, f)]);
  return { dir: tmp.dir, canary: join(tmp.dir, t.canary), remove: tmp.remove };
}

/** A corpus file with `{tmp}` in its specs replaced by the tree's dir. */
export function loadCorpus(file: string, dir: string): Corpus {
  const text = readFileSync(join(FIXTURES, file), 'utf8');
  const c = JSON.parse(text) as Corpus & { specs: Record<string, unknown> };
  const specs = JSON.parse(JSON.stringify(c.specs).replaceAll('{tmp}', dir)) as Record<string, StaticSpec>;
  return { ...c, specs };
}
