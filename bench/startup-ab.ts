/**
 * `node dist/bench/startup-ab.js [-r RUNS] NAME_A ROOT_A NAME_B ROOT_B`: the start-up section's measure
 * (bench/startup.ts: the Django guestbook on a uwsgi socket, 4 processes × 2 threads; each start counts
 * until usher said all workers are up and a request sent from the moment the socket exists was answered)
 * for two usher checkouts, started alternately RUNS times (default 7; who goes first alternates too),
 * without NODE_EXTRA_CA_CERTS (as under systemd). Medians of a few hundred ms move by ±20 ms from run to
 * run on a small machine; alternated pairs show a change of a few per cent that separate runs hide.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './report.js';
import { PY } from './servers.js';
import { READY, startRounds, startupSetup, type StartupServer } from './startup.js';

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
  const tmp = mkdtempSync(join(tmpdir(), 'usher-startup-ab-'));
  try {
    const { ini, sock, env } = startupSetup(tmp);
    const noCa = { ...env, NODE_EXTRA_CA_CERTS: undefined };
    const side = (name: string, root: string): StartupServer =>
      ({ id: name, label: name, cmd: process.execPath, argv: [join(root, 'bin', 'usher.js'), '--ini', ini, '--python', PY], env: noCa, ready: READY.usher });
    const rows = await startRounds([side(argv[0]!, argv[1]!), side(argv[2]!, argv[3]!)], runs, sock, true);
    for (const r of rows) {
      if (r.ms.length === 0) { process.stdout.write(`${r.label}: did not start\n`); continue; }
      process.stdout.write(`${r.label}: median ${median(r.ms)} ms, min ${Math.min(...r.ms)} ms (${r.ms.length} starts: ${r.ms.join(' ')}; all workers up ${median(r.readyMs)}, first answer ${median(r.firstMs)})\n`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`startup-ab: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
