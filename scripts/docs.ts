/**
 * `npm run docs`: regenerates the README's option table and error table from their one source of
 * truth (config/options, errors). test/config/errors.test.ts fails when the README drifts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderOptionsMarkdown } from '../src/config/index.js';
import { ERROR_DOCS } from '../src/errors.js';

export function renderErrorsMarkdown(): string {
  const rows = ['| code | meaning, and what to do |', '| --- | --- |'];
  for (const [code, doc] of Object.entries(ERROR_DOCS)) rows.push(`| \`${code}\` | ${doc.replace(/\|/g, '\\|')} |`);
  return rows.join('\n') + '\n';
}

function replaceBlock(text: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${start} ... ${end} block`);
  return `${text.slice(0, a + start.length)}\n${body}${text.slice(b)}`;
}

const readme = fileURLToPath(new URL('../../README.md', import.meta.url));
let text = readFileSync(readme, 'utf8');
text = replaceBlock(text, 'options', renderOptionsMarkdown());
text = replaceBlock(text, 'errors', renderErrorsMarkdown());
writeFileSync(readme, text);
process.stdout.write('README.md: option and error tables regenerated\n');
