/**
 * test/helpers/guestbook-flow: what a person does on a guestbook page (Node or Django): load the form,
 * take the CSRF token and cookie, post an entry, follow the redirect, see the entry (escaped).
 */
import assert from 'node:assert/strict';

function cookieOf(res: Response): string {
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}

export async function addEntryFlow(base: string, opts: { tokenField: string; cookieHeader?: Record<string, string> } = { tokenField: 'csrf' }): Promise<void> {
  const form = await fetch(`${base}/`, { headers: opts.cookieHeader });
  assert.equal(form.status, 200);
  const html = await form.text();
  const token = new RegExp(`name="${opts.tokenField}" value="([^"]+)"`).exec(html)?.[1];
  assert.ok(token, 'the form carries a CSRF token');
  const cookie = cookieOf(form);
  assert.ok(cookie.length > 0, 'and sets its cookie');
  const marker = `hola <b>${Math.random().toString(36).slice(2)}</b>`;
  const post = await fetch(`${base}/`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', referer: `${base}/`, origin: base },
    body: new URLSearchParams({ [opts.tokenField]: token, name: 'Ana', message: marker }),
  });
  assert.ok([302, 303].includes(post.status), `redirect after POST (got ${post.status})`);
  const after = await fetch(new URL(post.headers.get('location') ?? '/', `${base}/`), { headers: { cookie } });
  const page = await after.text();
  const escaped = marker.replace(/</g, '&lt;').replace(/>/g, '&gt;');
  assert.ok(page.includes(escaped), 'the new entry is listed, escaped');
  assert.ok(!page.includes(marker), 'and never raw');
  const forged = await fetch(`${base}/`, {
    method: 'POST', redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', referer: `${base}/`, origin: base },
    body: new URLSearchParams({ [opts.tokenField]: 'forged', name: 'Eve', message: 'forged' }),
  });
  assert.equal(forged.status, 403, 'a forged token is refused');
}
