// The resolved configuration is built from the options table alone (src/config/resolve.ts): every
// implemented option with a field shows up in it with its default, and nothing else does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { OPTIONS } from '../../src/config/options.js';

test('every implemented option with a field is in the resolved config, with its default; nothing else is', () => {
  const { loaded } = loadConfig(['--http', ':0', '--app', 'x.js'], {}, '/');
  assert.ok(loaded);
  const config = loaded.config as unknown as Record<string, unknown>;
  const fields = OPTIONS.filter((d) => d.status === 'implemented' && d.field !== undefined);
  for (const d of fields) {
    assert.ok(Object.hasOwn(config, d.field!), `${d.name} -> ${String(d.field)} is in the config`);
    if (d.name === 'http' || d.name === 'app') continue;
    const want = d.type === 'list' ? [] : d.default;
    assert.deepEqual(config[d.field!], want, `${d.name} defaults to ${JSON.stringify(want)}`);
  }
  const known = new Set<string>([...fields.map((d) => String(d.field)), 'sources', 'iniFile']);
  assert.deepEqual(Object.keys(config).filter((k) => !known.has(k)), []);
  assert.ok(Object.isFrozen(config));
});

test('each option name and alias is in the table once, so an implemented option cannot also say "not yet"', () => {
  const names = OPTIONS.flatMap((d) => [d.name, ...(d.aliases ?? [])]);
  const seen = new Set<string>();
  const twice = names.filter((n) => (seen.has(n) ? true : (seen.add(n), false)));
  assert.deepEqual(twice, []);
});
