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
  readonly rssBytes?: number;
  readonly ratio?: number;
  /** Why the row has no numbers (skipped or failed). */
  readonly note?: string;
  readonly rounds?: readonly number[];
}

const fmt = (n: number | undefined, d = 0): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
const mib = (b: number | undefined): string => (b === undefined ? '–' : (b / 1048576).toFixed(0));

export function withRatios(rows: Row[]): Row[] {
  return rows.map((r) => {
    const ref = rows.find((x) => x.caseId === r.caseId && x.reference && x.rps !== undefined);
    return r.rps !== undefined && ref?.rps ? { ...r, ratio: r.rps / ref.rps } : r;
  });
}

export function renderTable(rows: readonly Row[]): string {
  const head = ['case', 'server', 'req/s', 'ratio', 'p50 ms', 'p99 ms', 'errors', 'RSS MiB'];
  const body = rows.map((r) => [r.caseId, r.label + (r.reference ? ' (ref)' : ''), fmt(r.rps), r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '–',
    fmt(r.p50ms, 2), fmt(r.p99ms, 2), fmt(r.errors), mib(r.rssBytes)].concat(r.note ? [r.note] : []));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < head.length ? c.padEnd(widths[i] ?? 0) : c)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n') + '\n';
}

export function renderMarkdown(rows: readonly Row[], settings: string): string {
  const lines = [settings, '', '| case | server | req/s | ratio | p50 ms | p99 ms | errors | RSS MiB |', '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of rows) {
    lines.push(`| ${r.caseTitle} | ${r.label}${r.reference ? ' *(reference)*' : ''} | ${r.note ? r.note : fmt(r.rps)} | ${r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '–'} | ${fmt(r.p50ms, 2)} | ${fmt(r.p99ms, 2)} | ${fmt(r.errors)} | ${mib(r.rssBytes)} |`);
  }
  return lines.join('\n') + '\n';
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
        parts.push(`<text x="${labelW + w + 6}" y="${y + 13}">${Math.round(r.rps).toLocaleString('en-US')} req/s${r.ratio !== undefined && !r.reference ? ` (${r.ratio.toFixed(2)}×)` : ''}</text>`);
      } else {
        parts.push(`<text x="${labelW}" y="${y + 13}" fill="#6b7280">${esc(r.note ?? 'no result')}</text>`);
      }
      y += barH + gap;
    }
    y += 14;
  }
  const height = y + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="960" height="${height}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="10" y="22" font-size="16" font-weight="bold">usher vs the servers users would pick instead (requests/s, higher is better)</text>
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
