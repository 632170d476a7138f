/**
 * bench/report: the results as a terminal table, a Markdown table, JSON and an SVG bar chart (drawn
 * here, no external service), and the README block between <!-- bench:start --> and <!-- bench:end -->.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface Row {
  readonly caseId: string;
  readonly caseTitle: string;
  readonly server: string;
  readonly label: string;
  readonly reference: boolean;
  readonly rps?: number;
  readonly p50ms?: number;
  readonly p99ms?: number;
  readonly errors?: number;
  /** CPU time of the server's process tree per completed request (median of the rounds), in µs. */
  readonly cpuUsPerReq?: number;
  /** The same for the Nginx front in front of it, when there is one. */
  readonly frontCpuUsPerReq?: number;
  /** Proportional set size of the server's tree after the rounds: anonymous (+ shmem), file-backed. */
  readonly pssAnonBytes?: number;
  readonly pssFileBytes?: number;
  readonly rssBytes?: number;
  readonly ratio?: number;
  /** Why the row has no numbers (skipped or failed). */
  readonly note?: string;
  readonly rounds?: readonly number[];
  readonly cpuRounds?: readonly number[];
  /** A side address fetched during the load (the stats server): answers, failures, median and slowest time. */
  readonly probe?: {
    readonly count: number; readonly failed: number; readonly p50ms: number; readonly maxMs: number;
    /** How many answered within 50 ms (issue #14's bound under full load). */
    readonly within50?: number;
    /** An idle server on the same machine, fetched at the same moments: the floor to read these against. */
    readonly control?: { readonly p50ms: number; readonly maxMs: number; readonly count?: number; readonly within50?: number };
  };
  /** A paired case: this row's req/s and CPU per request over the reference's, round by round. */
  readonly pairs?: { readonly rps: readonly number[]; readonly cpu: readonly number[] };
}

const fmt = (n: number | undefined, d = 0): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
const mib = (b: number | undefined, d = 0): string => (b === undefined ? '–' : (b / 1048576).toFixed(d));

/** The columns after case and server, in the order every rendering shows them. */
const COLUMNS: readonly { head: string; cell(r: Row): string }[] = [
  { head: 'req/s', cell: (r) => fmt(r.rps) },
  { head: 'ratio', cell: (r) => (r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '–') },
  { head: 'p50 ms', cell: (r) => fmt(r.p50ms, 2) },
  { head: 'p99 ms', cell: (r) => fmt(r.p99ms, 2) },
  { head: 'errors', cell: (r) => fmt(r.errors) },
  { head: 'CPU µs/req', cell: (r) => fmt(r.cpuUsPerReq, 1) },
  { head: 'front CPU µs/req', cell: (r) => fmt(r.frontCpuUsPerReq, 1) },
  { head: 'PSS anon MiB', cell: (r) => mib(r.pssAnonBytes, 1) },
  { head: 'PSS file MiB', cell: (r) => mib(r.pssFileBytes, 1) },
  { head: 'RSS MiB', cell: (r) => mib(r.rssBytes) },
];

export function withRatios(rows: Row[]): Row[] {
  return rows.map((r) => {
    const ref = rows.find((x) => x.caseId === r.caseId && x.reference && x.rps !== undefined);
    return r.rps !== undefined && ref?.rps ? { ...r, ratio: r.rps / ref.rps } : r;
  });
}

export function renderTable(rows: readonly Row[]): string {
  const head = ['case', 'server', ...COLUMNS.map((c) => c.head)];
  const body = rows.map((r) => [r.caseId, r.label + (r.reference ? ' (ref)' : ''), ...COLUMNS.map((c) => c.cell(r))].concat(r.note ? [r.note] : []));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < head.length ? c.padEnd(widths[i] ?? 0) : c)).join('  ');
  const notes = rows.flatMap((r) => rowNotes(r, rows));
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ...(notes.length > 0 ? ['', ...notes] : [])].join('\n') + '\n';
}

export function renderMarkdown(rows: readonly Row[], settings: string): string {
  const lines = [settings, '', `| case | server | ${COLUMNS.map((c) => c.head).join(' | ')} |`, `| --- | --- |${' ---: |'.repeat(COLUMNS.length)}`];
  for (const r of rows) {
    const cells = COLUMNS.map((c, i) => (i === 0 && r.note ? r.note : c.cell(r)));
    lines.push(`| ${r.caseTitle} | ${r.label}${r.reference ? ' *(reference)*' : ''} | ${cells.join(' | ')} |`);
  }
  const notes = rows.filter((r) => r.probe !== undefined || r.pairs !== undefined);
  if (notes.length > 0) lines.push('');
  for (const r of notes) lines.push(...rowNotes(r, rows));
  return lines.join('\n') + '\n';
}

const pct = (x: number): string => `${x >= 1 ? '+' : '−'}${Math.abs((x - 1) * 100).toFixed(1)} %`;

/** The lines under the table for a paired row (its per-round ratios) and a probed one (stats answer times). */
function rowNotes(r: Row, rows: readonly Row[]): string[] {
  const out: string[] = [];
  if (r.pairs !== undefined) {
    const ref = rows.find((x) => x.caseId === r.caseId && x.reference);
    const range = (xs: readonly number[]): string => `${pct(Math.min(...xs))} to ${pct(Math.max(...xs))}`;
    out.push(`${r.label} against ${ref?.label ?? 'the reference'}, ${r.pairs.rps.length} alternated rounds, each compared with the adjacent one: ` +
      `req/s ${pct(median(r.pairs.rps))} (median of the rounds; ${range(r.pairs.rps)}), CPU per request ${pct(median(r.pairs.cpu))} (${range(r.pairs.cpu)}).`);
  }
  const p = r.probe;
  if (p !== undefined) {
    const within = (n: number | undefined, of: number | undefined): string => (n !== undefined && of !== undefined ? `, ${n} of ${of} within 50 ms` : '');
    const c = p.control;
    const ctl = c !== undefined ? ` An idle server on the same machine, fetched at the same moments, answered in ${fmt(c.p50ms, 1)} ms (median), ${fmt(c.maxMs, 1)} ms at the slowest${within(c.within50, c.count)}: the machine's own floor under this load.` : '';
    out.push(`${r.label}: its stats address (\`/metrics\`), fetched every 250 ms during the load, answered ${p.count - p.failed} of ${p.count} times, in ${fmt(p.p50ms, 1)} ms (median), ${fmt(p.maxMs, 1)} ms at the slowest${within(p.within50, p.count - p.failed)}.${ctl}`);
  }
  return out;
}

/** The median (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderSvg(rows: readonly Row[], subtitle: string): string {
  const cases = [...new Set(rows.map((r) => r.caseId))];
  const barH = 18;
  const gap = 4;
  const labelW = 330;
  const chartW = 440;
  let y = 50;
  const parts: string[] = [];
  for (const c of cases) {
    const rs = rows.filter((r) => r.caseId === c);
    const max = Math.max(1, ...rs.map((r) => r.rps ?? 0));
    parts.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(rs[0]?.caseTitle ?? c)}</text>`);
    y += 20;
    for (const r of rs) {
      const w = r.rps ? Math.max(1, (r.rps / max) * chartW) : 0;
      const usher = r.server.includes('usher');
      const color = r.reference ? '#9ca3af' : usher ? '#2563eb' : '#f59e0b';
      parts.push(`<text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(r.label)}</text>`);
      if (r.rps) {
        parts.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}" rx="2"/>`);
        const cpu = r.cpuUsPerReq !== undefined ? ` · ${r.cpuUsPerReq.toFixed(1)} µs CPU/req` : '';
        const pss = r.pssAnonBytes !== undefined ? ` · ${mib((r.pssAnonBytes ?? 0) + (r.pssFileBytes ?? 0))} MiB PSS` : '';
        parts.push(`<text x="${labelW + w + 6}" y="${y + 13}">${Math.round(r.rps).toLocaleString('en-US')} req/s${r.ratio !== undefined && !r.reference ? ` (${r.ratio.toFixed(2)}×)` : ''}${cpu}${pss}</text>`);
      } else {
        parts.push(`<text x="${labelW}" y="${y + 13}" fill="#6b7280">${esc(r.note ?? 'no result')}</text>`);
      }
      y += barH + gap;
    }
    y += 14;
  }
  const height = y + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="1120" height="${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="10" y="22" font-size="16" font-weight="bold">usher vs the servers users would pick instead (requests/s, higher is better; then CPU per request and PSS of the server)</text>
<text x="10" y="40" fill="#6b7280">${esc(subtitle)} · blue: usher · amber: others · grey: reference (ratio 1.00×)</text>
${parts.join('\n')}
</svg>
`;
}

/** Replace the README's bench block; returns false when the markers are missing. */
export function updateReadme(readmePath: string, block: string): boolean {
  const text = readFileSync(readmePath, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return false;
  writeFileSync(readmePath, `${text.slice(0, a + start.length)}\n${block}\n${text.slice(b)}`);
  return true;
}
