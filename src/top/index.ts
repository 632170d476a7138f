/**
 * top: `usher top [ADDR]`, a live terminal view of a stats address (usher's or uWSGI's), like
 * uwsgitop. Redraws once a second on the alternate screen; `q` or Ctrl-C quits and restores the
 * terminal; when the server is down or restarting it shows "waiting for ADDR" and keeps trying.
 * `--once` prints one screen (two reads a second apart, for req/s) and exits: for scripts and docs.
 * Must not: write to the server (each read is a fresh connection that only reads).
 */
import { fetchStats } from './client.js';
import { renderScreen, toDoc, type Previous } from './render.js';

export const TOP_USAGE = `usage: usher top [ADDR] [--once] [--interval SECONDS]
  ADDR      the stats address: host:port, a unix socket path, or http://host:port/ (default 127.0.0.1:9191)
  --once    print one screen and exit (1 if the address does not answer)
keys: q or Ctrl-C quit
`;

interface TopArgs { addr: string; once: boolean; intervalMs: number }

function parseArgs(argv: readonly string[]): TopArgs | string {
  const out: TopArgs = { addr: '127.0.0.1:9191', once: false, intervalMs: 1000 };
  let seenAddr = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--once') out.once = true;
    else if (a === '--interval') {
      const v = Number(argv[++i]);
      if (!(v >= 0.1 && v <= 3600)) return '--interval takes seconds, from 0.1 to 3600';
      out.intervalMs = v * 1000;
    } else if (a === '-h' || a === '--help') return '';
    else if (a.startsWith('-')) return `unknown flag ${a}`;
    else if (seenAddr) return `one address only (got ${out.addr} and ${a})`;
    else { out.addr = a; seenAddr = true; }
  }
  return out;
}

const CSI = '\x1b[';

async function once(args: TopArgs, write: (s: string) => void): Promise<number> {
  try {
    const first = toDoc(await fetchStats(args.addr));
    const at = Date.now();
    await new Promise((r) => setTimeout(r, args.intervalMs));
    const doc = toDoc(await fetchStats(args.addr));
    write(renderScreen(args.addr, doc, Date.now(), { at, doc: first }, 200).join('\n') + '\n');
    return 0;
  } catch (err) {
    write(`usher top: ${args.addr} does not answer: ${(err as Error).message}\n`);
    return 1;
  }
}

function live(args: TopArgs): Promise<number> {
  const out = process.stdout;
  const stdin = process.stdin;
  let prev: Previous | undefined;
  let lastScreen: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return new Promise((resolve) => {
    const draw = (lines: string[]): void => {
      lastScreen = lines;
      const rows = out.rows ?? 24;
      out.write(`${CSI}H${lines.slice(0, rows).map((l, i) => (i === 0 ? `${CSI}1m${l}${CSI}0m` : i === 3 ? `${CSI}7m${l}${CSI}0m` : l) + `${CSI}K`).join('\r\n')}${CSI}J`);
    };
    const quit = (): void => {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      out.write(`${CSI}?25h${CSI}?1049l`);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      resolve(0);
    };
    const tick = async (): Promise<void> => {
      try {
        const doc = toDoc(await fetchStats(args.addr));
        const now = Date.now();
        if (!stopped) draw(renderScreen(args.addr, doc, now, prev, out.columns ?? 120));
        prev = { at: now, doc };
      } catch (err) {
        prev = undefined;
        if (!stopped) draw([`usher top - waiting for ${args.addr} (${(err as Error).message}); q quits`]);
      }
      if (!stopped) timer = setTimeout(() => { void tick(); }, args.intervalMs);
    };
    out.write(`${CSI}?1049h${CSI}?25l${CSI}2J`);
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', (d: Buffer) => {
      const s = d.toString();
      if (s.includes('q') || s.includes('Q') || s.includes('\x03')) quit();
    });
    process.on('SIGINT', quit);
    process.on('SIGTERM', quit);
    out.on('resize', () => draw(lastScreen));
    void tick();
  });
}

export async function runTop(argv: readonly string[], write: (s: string) => void): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    write((args ? `usher top: ${args}\n` : '') + TOP_USAGE);
    return args ? 2 : 0;
  }
  if (args.once || !process.stdout.isTTY) return once(args, write);
  return live(args);
}
