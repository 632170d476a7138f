/**
 * The package root: public types for app authors and embedders. Apps need nothing from usher to run
 * under it (a plain (req, res) listener or fetch handler works); these are for typing them.
 */
export type { FetchHandler } from './apps/node/fetch-adapter.js';
export type { UsherConfig } from './config/types.js';
export { UsherError, ConfigError, UwsgiProtocolError, AppLoadError, ERROR_DOCS, type UsherErrorCode } from './errors.js';
