/**
 * The Python runner's copy of the master <-> child contract is generated from src/ipc.ts: this fails
 * while the committed python/usher_wsgi/contract.py differs from what the generator renders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONTRACT_PY, renderPythonContract } from '../../scripts/gen-contract.js';

test('python/usher_wsgi/contract.py is what scripts/gen-contract.ts renders from src/ipc.ts (run `npm run build` if not)', () => {
  assert.equal(readFileSync(CONTRACT_PY, 'utf8'), renderPythonContract());
});
