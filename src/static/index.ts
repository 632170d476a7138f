/**
 * static: files served by usher itself (static-map, static-map2, check-static and friends), before
 * the app sees the request. spec (options -> StaticSpec), uri (safe path decoding), mime, rules
 * (HTTP semantics), resolve (request -> decision), serve (decision -> node:http response).
 * The Python worker's twin is python/usher_wsgi/static.py.
 */
export { buildStaticSpec, type StaticSpec, type StaticMapping, type ExpiresRule } from './spec.js';
export { StaticResolver, type StaticDecision, type StaticRequest } from './resolve.js';
export { serveStatic, createStaticHandler, staticFirst, type StaticHandler } from './serve.js';
export { loadMimeTable, BUILTIN_MIME, DEFAULT_MIMEFILE } from './mime.js';
