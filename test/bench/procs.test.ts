// bench/procs: the benchmark's CPU time and memory are those of the server's whole process tree: a
// grandchild's CPU seconds and anonymous memory count, read from /proc (stat, smaps_rollup).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clkTck, cpuMicros, processTree, startProcess, treeCpu, treePss } from '../../bench/procs.js';

/** A shell whose child (python) first burns CPU, then holds 64 MiB of touched anonymous memory. */
const GRANDCHILD = `
import time, sys
t = time.process_time()
while time.process_time() - t < 0.3: pass
block = bytearray(64 * 1024 * 1024)
for i in range(0, len(block), 4096): block[i] = 1
print("ready", flush=True)
time.sleep(60)
`;

async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('CPU time and PSS are summed over the whole process tree, anonymous apart from file-backed', async () => {
  // sh stays the parent (the trailing `wait`), so python is a child of the measured root, not the root
  const r = startProcess('/bin/sh', ['-c', `/usr/bin/python3 -c '${GRANDCHILD}' & wait`], {});
  try {
    const before = new Map<number, number>();
    await until(() => r.output().includes('ready'), 'the grandchild to burn CPU and fill its memory');
    const tree = processTree(r.pid);
    assert.ok(tree.length >= 2, `the tree holds the shell and python: ${tree.join(',')}`);
    const spent = cpuMicros(before, treeCpu(r.pid));
    assert.ok(spent >= 250_000, `the grandchild's 0.3 s of CPU is counted: ${spent} µs`);
    assert.ok(clkTck() > 0);
    const pss = treePss(r.pid);
    assert.ok(pss !== undefined, 'smaps_rollup is readable');
    assert.ok(pss.anonBytes >= 60 * 1024 * 1024, `the grandchild's 64 MiB is anonymous: ${pss.anonBytes}`);
    assert.ok(pss.fileBytes > 0 && pss.fileBytes < pss.anonBytes, `python's code is file-backed, and apart: ${pss.fileBytes}`);
  } finally {
    await r.stop();
  }
});

test('a CPU snapshot counts a process that started after it from zero, and one that ran before only for the interval', async () => {
  const before = new Map<number, number>([[4_194_999, 5]]);
  const after = new Map<number, number>([[4_194_999, 5 + clkTck()], [4_195_000, clkTck() / 2]]);
  assert.equal(cpuMicros(before, after), 1_500_000);
});
