/** guestbook/views: HTML rendering; every user-supplied string goes through escapeHtml. */
import type { Entry } from './db.js';
import { LIMITS } from './db.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<main>
${body}
</main>
<footer>Served by usher, pid ${process.pid}</footer>
</body>
</html>
`;
}

export function page(entries: readonly Entry[], token: string, form: { name?: string; message?: string; errors?: Record<string, string> } = {}): string {
  const errors = form.errors ?? {};
  const err = (field: string): string => (errors[field] ? `<p class="error">${escapeHtml(errors[field] as string)}</p>` : '');
  const list = entries.length === 0
    ? '<p class="empty">No entries yet. Be the first!</p>'
    : `<ol class="entries">${entries.map((e) => `
  <li><p class="message">${escapeHtml(e.message)}</p><p class="meta">— ${escapeHtml(e.name)}, <time datetime="${escapeHtml(e.created)}">${escapeHtml(e.created.replace('T', ' ').replace('Z', ' UTC'))}</time></p></li>`).join('')}
</ol>`;
  return layout('Guestbook', `<h1>Guestbook</h1>
<form method="post" action="/">
  <input type="hidden" name="csrf" value="${escapeHtml(token)}">
  <label>Name <input name="name" maxlength="${LIMITS.name}" value="${escapeHtml(form.name ?? '')}" required></label>
  ${err('name')}
  <label>Message <textarea name="message" maxlength="${LIMITS.message}" rows="4" required>${escapeHtml(form.message ?? '')}</textarea></label>
  ${err('message')}
  <button type="submit">Sign the guestbook</button>
</form>
${list}`);
}

export function errorPage(status: number, title: string, detail: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p><p><a href="/">Back to the guestbook</a></p>`);
}
