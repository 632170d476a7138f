/**
 * `npm run bench [-- --quick] [-- --only CASE] [-- --update-readme] [-- --autocannon]`: usher and the servers users would
 * pick instead, on the same apps, in one run. Every server of a case is started at once; then each
 * round measures them one after the other (alternating, so drift of the machine hits all alike), and
 * the median round is reported. Processes started here are stopped here, by process group, even on Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { CASES, PROCESSES, REPO, THREADS, missing, type CaseDef, type Started } from './servers.js';
import { cpuMicros, freePort, startProcess, treeCpu, treePss, treeRss, waitForHttp, type Running } from './procs.js';
import { CLIENT, loadTool, runLoad, type Load, type LoadTool } from './load.js';
import { renderMarkdown, renderSvg, renderTable, updateReadme, withRatios, type Row } from './report.js';
import { measureStartup, renderStartup, type StartupRow } from './startup.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 2 : 10;
const WARMUP = quick ? 1 : 2;
/** Alternated starts per server in the start-up section (`--only startup` runs only it). */
const STARTS = quick ? 2 : 7;
/** A case's rounds and seconds per measurement: the run's, or its own for a paired A/B (not in --quick). */
const planOf = (c: CaseDef): { rounds: number; seconds: number } => (quick || c.paired === undefined ? { rounds: ROUNDS, seconds: SECONDS } : c.paired);

const running = new Set<Started>();
let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
  process.stderr.write('\nbench: interrupted; stopping the servers it started\n');
  void Promise.all([...running].map((s) => s.stop())).then(() => process.exit(130));
});

/** A tool's version from whatever it prints (nginx -v and python --version may use stderr). */
function version(cmd: string, argv: string[], re: RegExp): string {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error !== undefined) return 'absent';
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return re.exec(out)?.[1] ?? (out.trim().split('\n')[0] || '?');
}

/** The probe's answer times over every round: how many, the median, the slowest, the failures; the idle control's alike. */
function probeFigures(ms: number[], control: number[]): Row['probe'] {
  if (ms.length === 0) return undefined;
  const ok = ms.filter(Number.isFinite);
  const ctl = control.filter(Number.isFinite);
  return {
    count: ms.length, failed: ms.length - ok.length, p50ms: ok.length > 0 ? median(ok) : NaN, maxMs: ok.length > 0 ? Math.max(...ok) : NaN,
    within50: ok.filter((x) => x <= 50).length,
    control: ctl.length > 0 ? { p50ms: median(ctl), maxMs: Math.max(...ctl), count: ctl.length, within50: ctl.filter((x) => x <= 50).length } : undefined,
  };
}

/** Each round's ratio to the reference's measurement of the same round (adjacent in time), or undefined. */
function pairRatios(loads: readonly Measured[], ref: readonly Measured[] | undefined): Row['pairs'] {
  if (ref === undefined || ref.length !== loads.length || loads.length === 0) return undefined;
  return { rps: loads.map((x, i) => x.rps / ref[i]!.rps), cpu: loads.map((x, i) => x.cpuUs / ref[i]!.cpuUs) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Measured extends Load {
  /** CPU µs per completed request: the server's process tree, then an Nginx front's apart. */
  readonly cpuUs: number;
  readonly frontUs?: number;
  /** How long the server's probe address took to answer, each time it was fetched during the load (ms). */
  readonly probeMs?: readonly number[];
  /** How long the idle control server took, fetched at the same moments. */
  readonly controlMs?: readonly number[];
}

/** How long one GET of `url` took, in ms (a failure is Infinity). */
async function timeGet(url: string): Promise<number> {
  const t0 = performance.now();
  const ok = await fetch(url).then(async (r) => { await r.arrayBuffer(); return r.ok; }).catch(() => false);
  return ok ? performance.now() - t0 : Infinity;
}

/**
 * Fetch `url`, and the idle control server at the same moment, every PROBE_EVERY_MS until `done` says
 * stop. The control is a plain Node server in its own session that nothing loads: on 2 cores saturated
 * by wrk and the server under test, anything waits for a CPU now and then, and its times are that floor.
 */
const PROBE_EVERY_MS = 250;
async function probe(url: string, control: string, done: () => boolean): Promise<{ probeMs: number[]; controlMs: number[] }> {
  const probeMs: number[] = [];
  const controlMs: number[] = [];
  while (!done()) {
    const [a, b] = await Promise.all([timeGet(url), timeGet(control)]);
    probeMs.push(a);
    controlMs.push(b);
    await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
  }
  return { probeMs, controlMs };
}

/** The idle control server (bench/apps/idle.mjs), started at the first probe, stopped at the end. */
let control: { run: Running; url: string } | undefined;
async function controlUrl(): Promise<string> {
  if (control === undefined) {
    const port = await freePort();
    const run = startProcess(process.execPath, [join(REPO, 'bench', 'apps', 'idle.mjs')], { env: { PORT: String(port) } });
    control = { run, url: `http://127.0.0.1:${port}/` };
    await waitForHttp(control.url, 10_000, () => run.proc.exitCode === null);
  }
  return control.url;
}

/**
 * One fixed-length load run, with the CPU time (utime + stime from /proc) the server's process tree and
 * its front spent during it, per completed request: on a shared 2-core machine requests/s move with
 * whatever else runs, CPU per request much less.
 */
async function measure(tool: LoadTool, s: Started, url: string, seconds: number): Promise<Measured> {
  const ctl = s.probe !== undefined ? await controlUrl() : '';
  const before = treeCpu(s.rootPid);
  const frontBefore = s.frontPid !== undefined ? treeCpu(s.frontPid) : undefined;
  let loading = true;
  const probing = s.probe !== undefined ? probe(s.probe, ctl, () => !loading) : undefined;
  const load = await runLoad(tool, url, seconds).finally(() => { loading = false; });
  const probed = await probing;
  const spent = cpuMicros(before, treeCpu(s.rootPid));
  const front = frontBefore !== undefined ? cpuMicros(frontBefore, treeCpu(s.frontPid as number)) : undefined;
  const n = Math.max(1, load.requests);
  return { ...load, cpuUs: spent / n, frontUs: front !== undefined ? front / n : undefined, ...probed };
}

async function main(): Promise<void> {
  const forced = args.includes('--autocannon');
  const tool = forced ? 'autocannon' : loadTool();
  if (tool !== 'wrk' && !forced) {
    process.stderr.write('bench: wrk is not installed: falling back to autocannon (npm), whose figures run lower than wrk\'s; `apt-get install wrk` for the figures the README shows\n');
  }
  const cases = CASES.filter((c) => only === undefined || c.id === only);
  const withStartup = only === undefined || only === 'startup';
  if (cases.length === 0 && !withStartup) {
    process.stderr.write(`bench: no case named ${only}; cases: ${CASES.map((c) => c.id).join(', ')}, startup\n`);
    process.exit(2);
  }
  const measurements = cases.reduce((n, c) => n + c.servers.length * planOf(c).rounds, 0);
  let leftSeconds = cases.reduce((n, c) => n + c.servers.length * planOf(c).rounds * (planOf(c).seconds + 1), 0);
  const estimate = leftSeconds + cases.reduce((n, c) => n + c.servers.length, 0) * (WARMUP + 2);
  const settings = `${tool === 'wrk' ? `wrk -t${CLIENT.threads}` : 'autocannon'} -c${CLIENT.connections}, ${SECONDS}s per measurement, median of ${ROUNDS} round(s) alternating servers, ${WARMUP}s warm-up; ` +
    `${PROCESSES} processes × ${THREADS} threads everywhere; ${os.cpus().length} cores shared by client and servers (one client thread: a second one steals a server core); each server and each Nginx front in its own session, as systemd units are (the kernel's autogroup scheduling shares the CPU per session); servers marked "logs requests" (usher, uWSGI) write their default access line for every request, as they do out of the box (to /dev/null), the others log no requests by default`;
  process.stderr.write(`bench: ${cases.length} case(s), ${measurements} measurements, about ${Math.ceil(estimate / 60)} min\nbench: ${settings}\n`);
  const started = Date.now();
  let done = 0;
  const rows: Row[] = [];
  let startup: StartupRow[] = [];
  const tmp = mkdtempSync(join(os.tmpdir(), 'usher-bench-'));
  chmodSync(tmp, 0o755); // Nginx's www-data workers reach the sockets in it
  try {
    for (const c of cases) {
      if (interrupted) break;
      process.stderr.write(`\n[${c.id}] ${c.title}\n`);
      try { c.setup?.(tmp); } catch (e) { process.stderr.write(`[${c.id}] setup failed: ${(e as Error).message}\n`); }
      const live: { def: (typeof c.servers)[number]; s: Started; url: string; loads: Measured[] }[] = [];
      for (const def of c.servers) {
        const why = def.requires.map(missing).find((m) => m !== undefined);
        const base = { caseId: c.id, caseTitle: c.title, server: def.id, label: def.label, reference: def.reference === true };
        if (why !== undefined) {
          process.stderr.write(`[${c.id}] ${def.label}: skipped: ${why}\n`);
          rows.push({ ...base, note: `skipped: ${why}` });
          continue;
        }
        try {
          const s = await def.start(await freePort(), tmp);
          running.add(s);
          const url = new URL(c.path, s.url).href;
          await runLoad(tool, url, WARMUP);
          live.push({ def, s, url, loads: [] });
          process.stderr.write(`[${c.id}] ${def.label}: up and warmed (${url})\n`);
        } catch (e) {
          process.stderr.write(`[${c.id}] ${def.label}: failed to start: ${(e as Error).message}\n`);
          rows.push({ ...base, note: `failed to start: ${(e as Error).message.slice(0, 120)}` });
        }
      }
      const { rounds, seconds } = planOf(c);
      for (let round = 1; round <= rounds && !interrupted; round++) {
        for (const l of live) {
          const left = Math.max(0, Math.round((leftSeconds / 60) * 10) / 10);
          process.stderr.write(`[${c.id}] round ${round}/${rounds} ${l.def.label} (${seconds}s; ~${left} min left)\n`);
          leftSeconds -= seconds + 1;
          try {
            l.loads.push(await measure(tool, l.s, l.url, seconds));
          } catch (e) {
            process.stderr.write(`[${c.id}] ${l.def.label}: ${(e as Error).message}\n`);
          }
          done++;
        }
      }
      const refLoads = c.paired !== undefined ? live.find((l) => l.def.reference === true)?.loads : undefined;
      for (const l of live) {
        const rss = treeRss(l.s.rootPid);
        const pss = treePss(l.s.rootPid);
        await l.s.stop();
        running.delete(l.s);
        const base = { caseId: c.id, caseTitle: c.title, server: l.def.id, label: l.def.label, reference: l.def.reference === true };
        if (l.loads.length === 0) { rows.push({ ...base, note: 'no measurement succeeded' }); continue; }
        const mid = l.loads.find((x) => x.rps === median(l.loads.map((y) => y.rps))) as Measured;
        const fronts = l.loads.map((x) => x.frontUs).filter((x): x is number => x !== undefined);
        rows.push({
          ...base, rps: mid.rps, p50ms: mid.p50ms, p99ms: mid.p99ms, errors: l.loads.reduce((a, x) => a + x.errors, 0),
          cpuUsPerReq: median(l.loads.map((x) => x.cpuUs)), frontCpuUsPerReq: fronts.length > 0 ? median(fronts) : undefined,
          pssAnonBytes: pss?.anonBytes, pssFileBytes: pss?.fileBytes, rssBytes: rss,
          rounds: l.loads.map((x) => Math.round(x.rps)), cpuRounds: l.loads.map((x) => Math.round(x.cpuUs * 10) / 10),
          probe: probeFigures(l.loads.flatMap((x) => x.probeMs ?? []), l.loads.flatMap((x) => x.controlMs ?? [])),
          pairs: l.def.reference === true ? undefined : pairRatios(l.loads, refLoads),
        });
      }
    }
    if (withStartup && !interrupted) {
      process.stderr.write(`\n[startup] Django guestbook, usher and uWSGI started alternately ${STARTS} times\n`);
      startup = await measureStartup(tmp, STARTS);
    }
  } finally {
    await Promise.all([...running].map((s) => s.stop()));
    await control?.run.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  const startupMd = startup.length > 0 ? `\n${renderStartup(startup, STARTS)}` : '';
  const result = withRatios(rows);
  process.stdout.write(`\n${settings}\n\n${renderTable(result)}${startupMd}`);
  const machine = {
    date: new Date().toISOString(), cores: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version, python: version('/usr/bin/python3', ['--version'], /Python (\S+)/), uwsgi: version('uwsgi', ['--version'], /^(\S+)/),
    gunicorn: version('gunicorn', ['--version'], /\(version ([\d.]+)\)/), nginx: version('nginx', ['-v'], /nginx\/(\S+)/), wrk: version('wrk', ['-v'], /wrk (\S+)/),
  };
  const outDir = join(REPO, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  // One case (--only) or a quick run never replaces the full table's files (nor the README's table).
  const name = quick ? 'quick' : only !== undefined ? `only-${only}` : 'latest';
  const subtitle = `${machine.date.slice(0, 10)}, ${machine.cores} cores, ${settings.split(';')[0]}`;
  const md = renderMarkdown(result, `Measured ${machine.date.slice(0, 16).replace('T', ' ')} UTC on ${machine.cores} cores (${machine.cpu}), node ${machine.node}, Python ${machine.python}, uWSGI ${machine.uwsgi}, gunicorn ${machine.gunicorn}, nginx ${machine.nginx}.\n${settings}.`) + startupMd;
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify({ machine, settings, quick, rows: result, startup }, null, 2) + '\n');
  writeFileSync(join(outDir, `${name}.md`), md);
  writeFileSync(join(outDir, `${name}.svg`), renderSvg(result, subtitle));
  process.stderr.write(`\nbench: done in ${Math.round((Date.now() - started) / 1000)}s; wrote bench/results/${name}.{json,md,svg}\n`);
  if (args.includes('--update-readme') && name !== 'latest') {
    process.stderr.write('bench: README.md left as it is: its table is a full run\'s (run without --only and --quick to update it)\n');
  } else if (args.includes('--update-readme')) {
    const ok = updateReadme(join(REPO, 'README.md'), `${md}\n![usher vs peers](bench/results/${name}.svg)\n`);
    process.stderr.write(ok ? 'bench: README.md updated\n' : 'bench: README.md has no <!-- bench:start --> / <!-- bench:end --> markers; left as it is\n');
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  void Promise.all([...running].map((s) => s.stop())).then(() => process.exit(1));
});
