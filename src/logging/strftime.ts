/**
 * logging/strftime: the strftime forms uWSGI's `log-date` and `%(ftime)` accept, compiled once into a
 * list of parts, rendered in local time (the TZ environment variable) with the C locale's names, the
 * way glibc's strftime does. The Python runner has the same table (python/usher_wsgi/strftime.py), so a
 * format renders the same in both; test/fixtures/logging holds them to it.
 * Must not: allocate per call beyond the output string, or depend on the process's locale.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const p2 = (n: number): string => (n < 10 ? '0' + n : String(n));
const s2 = (n: number): string => (n < 10 ? ' ' + n : String(n));
const p3 = (n: number): string => (n < 10 ? '00' + n : n < 100 ? '0' + n : String(n));

function tz(d: Date): string {
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return (off < 0 ? '-' : '+') + p2(Math.floor(a / 60)) + p2(a % 60);
}

function dayOfYear(d: Date): number {
  return Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86_400_000) + 1;
}

type Part = string | ((d: Date) => string);

/** The conversions usher renders; anything else is kept as written (and reported by `unknown`). */
const CONVERSIONS: Readonly<Record<string, (d: Date) => string>> = {
  a: (d) => DAYS[d.getDay()] as string,
  A: (d) => DAYS_LONG[d.getDay()] as string,
  b: (d) => MONTHS[d.getMonth()] as string,
  h: (d) => MONTHS[d.getMonth()] as string,
  B: (d) => MONTHS_LONG[d.getMonth()] as string,
  d: (d) => p2(d.getDate()),
  e: (d) => s2(d.getDate()),
  H: (d) => p2(d.getHours()),
  I: (d) => p2(d.getHours() % 12 || 12),
  j: (d) => p3(dayOfYear(d)),
  m: (d) => p2(d.getMonth() + 1),
  M: (d) => p2(d.getMinutes()),
  p: (d) => (d.getHours() < 12 ? 'AM' : 'PM'),
  S: (d) => p2(d.getSeconds()),
  y: (d) => p2(d.getFullYear() % 100),
  Y: (d) => String(d.getFullYear()),
  z: tz,
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  u: (d) => String(d.getDay() || 7),
  w: (d) => String(d.getDay()),
  F: (d) => `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}`,
  T: (d) => `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`,
  R: (d) => `${p2(d.getHours())}:${p2(d.getMinutes())}`,
  D: (d) => `${p2(d.getMonth() + 1)}/${p2(d.getDate())}/${p2(d.getFullYear() % 100)}`,
  c: (d) => `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${s2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`,
  n: () => '\n',
  t: () => '\t',
  '%': () => '%',
};

export const STRFTIME_CONVERSIONS = Object.keys(CONVERSIONS).join('');

export interface CompiledStrftime {
  (d: Date): string;
  /** Conversions usher does not render (kept literally): worth a startup warning. */
  readonly unknown: readonly string[];
}

export function compileStrftime(fmt: string): CompiledStrftime {
  const parts: Part[] = [];
  const unknown: string[] = [];
  let lit = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i] as string;
    if (c !== '%' || i + 1 >= fmt.length) { lit += c; continue; }
    const k = fmt[++i] as string;
    const conv = CONVERSIONS[k];
    if (conv === undefined) { unknown.push('%' + k); lit += '%' + k; continue; }
    if (k === '%') { lit += '%'; continue; }
    if (lit !== '') { parts.push(lit); lit = ''; }
    parts.push(conv);
  }
  if (lit !== '') parts.push(lit);
  const render = (d: Date): string => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(d);
    return out;
  };
  return Object.assign(render, { unknown });
}

/** C's ctime() without its newline: `Wed Dec  2 03:14:00 2026` (24 characters), local time. */
export function ctime(d: Date): string {
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${s2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** uWSGI's `%(ltime)`: `02/Dec/2026:03:14:00 +0000`, local time. */
export function ltime(d: Date): string {
  return `${p2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${tz(d)}`;
}
