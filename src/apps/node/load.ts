/**
 * apps/node/load: turns `app = path/to/module` into one node:http request listener.
 * Accepted exports (default export, else CommonJS module.exports, else a named `app`/`handler`/`fetch`):
 * - a `(req, res)` listener: Express, Koa's `app.callback()`, plain node:http (function of 2+ params);
 * - a fetch-style `(Request) => Response` function (0 or 1 param), or an object with a `fetch`
 *   method (Hono and friends), adapted by fetch-adapter;
 * - an http.Server: its 'request' listener is used (so `export default http.createServer(fn)` works).
 * `.ts`/`.mts`/`.cts` entry files load through tsx's loader, registered only when needed.
 * Must not: listen on anything (workers own sockets), or swallow the app's own load error.
 */
import http from 'node:http';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppLoadError } from '../../errors.js';
import { fetchToListener, type FetchHandler, type OnException } from './fetch-adapter.js';

export type AppKind = 'listener' | 'fetch' | 'server';

export interface LoadedApp {
  readonly kind: AppKind;
  readonly listener: http.RequestListener;
}

const TS_EXT = new Set(['.ts', '.mts', '.cts', '.tsx']);

type Candidate = unknown;

function asApp(value: Candidate, onException?: OnException): LoadedApp | undefined {
  if (value instanceof http.Server) {
    const [first] = value.listeners('request');
    if (typeof first === 'function') return { kind: 'server', listener: first as http.RequestListener };
    return undefined;
  }
  if (typeof value === 'function') {
    if (value.length >= 2) return { kind: 'listener', listener: value as http.RequestListener };
    return { kind: 'fetch', listener: fetchToListener(value as FetchHandler, onException) };
  }
  if (typeof value === 'object' && value !== null && typeof (value as { fetch?: unknown }).fetch === 'function') {
    const obj = value as { fetch: FetchHandler };
    return { kind: 'fetch', listener: fetchToListener((r) => obj.fetch(r), onException) };
  }
  return undefined;
}

export interface LoadOptions {
  /** A fetch-style handler threw or rejected (default: log it and answer 500). */
  readonly onException?: OnException;
}

export async function loadNodeApp(file: string, opts: LoadOptions = {}): Promise<LoadedApp> {
  if (!existsSync(file)) {
    throw new AppLoadError(`app file not found: ${file}; check \`app\` (relative paths resolve against \`chdir\`)`);
  }
  if (TS_EXT.has(extname(file))) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new AppLoadError(`app ${file} failed to load: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  // ESM default, CJS module.exports (also surfaced as default), then conventional names.
  let def = mod.default;
  if (typeof def === 'object' && def !== null && 'default' in def && asApp(def, opts.onException) === undefined) {
    def = (def as { default: unknown }).default; // a CJS module that set exports.default (tsc output)
  }
  for (const candidate of [def, mod.app, mod.handler, mod.fetch]) {
    const app = asApp(candidate, opts.onException);
    if (app) return app;
  }
  const exported = Object.keys(mod).join(', ') || 'nothing';
  throw new AppLoadError(
    `app ${file} exports no usable handler (found: ${exported}); export default a (req, res) listener, ` +
      'a (request) => Response function, or an object with a fetch(request) method',
  );
}
