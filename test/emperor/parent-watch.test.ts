// A vassal's end of the emperor pipe: the master's `ready` event reaches the emperor through it (so a
// vassal logging to a file is still seen ready), and its closing (the emperor died) stops the vassal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { REPO, tempDir } from '../helpers/usher.js';

test('the emperor pipe carries ready and, when it closes, stops the vassal with SIGTERM', { timeout: 30_000 }, async () => {
  const t = tempDir('usher-pipe-');
  try {
    const script = join(t.dir, 'vassal.mjs');
    const dist = join(REPO, 'dist', 'src');
    // A stand-in master: it watches the pipe as vassal-main does, announces ready as the arbiter does,
    // and stays up until SIGTERM (what watchEmperor sends when the pipe closes).
    writeFileSync(script, `import { watchEmperor } from '${join(dist, 'emperor', 'parent-watch.js')}';
import { publish } from '${join(dist, 'master', 'events.js')}';
import { createLogger } from '${join(dist, 'log.js')}';
const isVassal = watchEmperor(createLogger('master'));
process.on('SIGTERM', () => { process.stdout.write('got SIGTERM env=' + (process.env.USHER_EMPEROR_FD ?? 'cleared') + ' vassal=' + isVassal + '\\n'); process.exit(0); });
setInterval(() => {}, 1000);
publish({ type: 'ready', workers: 1, generation: 1 });
`);
    const child = spawn(process.execPath, [script], { env: { ...process.env, USHER_EMPEROR_FD: '3' }, stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const pipe = child.stdio[3] as Socket;
    const ready = await new Promise<string>((resolve) => pipe.once('data', (d: Buffer) => resolve(d.toString())));
    assert.equal(ready, 'ready\n');
    pipe.destroy(); // what the kernel does to the emperor's end when the emperor dies
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 0);
    assert.match(out, /got SIGTERM env=cleared vassal=true/);
  } finally {
    t.remove();
  }
});
