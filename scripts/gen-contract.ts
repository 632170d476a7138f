/**
 * scripts/gen-contract: writes python/usher_wsgi/contract.py, the Python runner's copy of the
 * master <-> child contract, from src/ipc.ts (the one source). `npm run build` runs it; the test
 * test/contract/contract-drift.test.ts fails when the committed file differs from what this renders.
 * Must not: hold any contract value itself.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONTRACT } from '../src/ipc.js';

export const CONTRACT_PY = fileURLToPath(new URL('../../python/usher_wsgi/contract.py', import.meta.url));

function py(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `(${v.map(py).join(', ')}${v.length === 1 ? ',' : ''})`;
  throw new Error(`cannot render ${typeof v}`);
}

function upperSnake(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

export function renderPythonContract(): string {
  const lines = [
    '"""The master <-> child contract, generated from src/ipc.ts by scripts/gen-contract.ts: do not edit.',
    '',
    'Run `npm run build` after changing src/ipc.ts; test/contract/contract-drift.test.ts fails while this',
    'file is stale.',
    '"""',
    '',
    `CONTRACT_VERSION = ${CONTRACT.version}`,
    '',
    '# Reserved exit codes (the master reacts to each by table).',
    ...Object.entries(CONTRACT.exit).map(([k, v]) => `EXIT_${k} = ${v}`),
    '',
    '# Timing shared with the master, in seconds.',
    ...Object.entries(CONTRACT.timing).map(([k, v]) => `${k.replace(/_MS$/, '_S')} = ${v / 1000}`),
    '',
    '# Keys every spec must carry; a missing one is a boot error naming it.',
    `WORKER_SPEC_KEYS = ${py(CONTRACT.workerSpecKeys)}`,
    `ROUTER_SPEC_KEYS = ${py(CONTRACT.routerSpecKeys)}`,
    '',
    '# Live counters sent with every heartbeat and with `exiting`.',
    `COUNTER_KEYS = ${py(CONTRACT.counterKeys)}`,
    '# Upper bounds (microseconds) of the response-time histogram (`rtHist` has one more, for slower requests).',
    `RT_BUCKETS_US = ${py(CONTRACT.rtBucketsUs)}`,
    '# Status classes counted in `codes` (1xx to 5xx).',
    `STATUS_CLASSES = ${CONTRACT.statusClasses}`,
    '',
    '# Message types each way.',
    `CHILD_MESSAGES = ${py(CONTRACT.childMessages)}`,
    `MASTER_MESSAGES = ${py(CONTRACT.masterMessages)}`,
    '',
    '# Environment variables carrying the specs.',
    ...Object.entries(CONTRACT.specEnv).map(([k, v]) => `${upperSnake(k)}_SPEC_ENV = ${py(v)}`),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(CONTRACT_PY, renderPythonContract());
  process.stdout.write(`wrote ${CONTRACT_PY}\n`);
}
