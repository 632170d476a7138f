/**
 * guestbook/csrf: double-submit token. The form carries a random token that must equal the one in an
 * HttpOnly, SameSite=Lax cookie; another site can make a browser send the cookie but cannot read it
 * to put it in the form. Compared in constant time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE = 'gb_csrf';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function tokensMatch(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function cookieHeader(token: string): string {
  return `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax`;
}
