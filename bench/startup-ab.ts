/**
 * `node dist/bench/startup-ab.js [-r RUNS] NAME_A ROOT_A NAME_B ROOT_B`: the start-up section's measure
 * (bench/startup.ts: the Django guestbook on a uwsgi socket, 4 processes × 2 threads; each start counts
 * until usher said all workers are up and a request sent from the moment the socket exists was answered)
 * for two usher checkouts, started alternately RUNS times (default 7), without NODE_EXTRA_CA_CERTS (as
 * under systemd). Medians of a few hundred ms move by ±20 ms from run to run on a small machine;
 * alternated pairs show a change of a few per cent that separate runs hide.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './report.js';
import { PY } from './servers.js';
import { READY, startOnce, startupSetup } from './startup.js';

function usage(): never {
  process.stderr.write('usage: node dist/bench/startup-ab.js [-r RUNS] NAME_A ROOT_A NAME_B ROOT_B\n');
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  let runs = 7;
  if (argv[0] === '-r') {
    runs = Number(argv[1]);
    argv = argv.slice(2);
  }
  if (argv.length !== 4 || !(runs > 0)) usage();
  const sides = [{ name: argv[0]!, root: argv[1]! }, { name: argv[2]!, root: argv[3]! }];
  const tmp = mkdtempSync(join(tmpdir(), 'usher-startup-ab-'));
  try {
    const { ini, sock, env } = startupSetup(tmp);
    const noCa = { ...env, NODE_EXTRA_CA_CERTS: undefined };
    const got = sides.map(() => [] as number[]);
    for (let i = 1; i <= runs; i++) {
      // Alternate which side goes first, so neither always follows the other's stop.
      const order = i % 2 === 1 ? [0, 1] : [1, 0];
      for (const k of order) {
        const s = sides[k]!;
        const r = await startOnce(process.execPath, [join(s.root, 'bin', 'usher.js'), '--ini', ini, '--python', PY], noCa, READY.usher, sock);
        const ms = Math.round(Math.max(r.readyMs, r.firstMs));
        got[k]!.push(ms);
        process.stdout.write(`${i}/${runs} ${s.name}: ${ms} ms (all workers up ${Math.round(r.readyMs)}, first answer ${Math.round(r.firstMs)})\n`);
      }
    }
    for (const [k, s] of sides.entries()) process.stdout.write(`${s.name}: median ${median(got[k]!)} ms, min ${Math.min(...got[k]!)} ms (${runs} starts)\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`startup-ab: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
