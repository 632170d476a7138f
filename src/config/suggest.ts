/**
 * config/suggest: "did you mean" for mistyped option names (`vaccum` -> `vacuum`), by optimal string
 * alignment distance (Levenshtein plus adjacent swaps, the commonest typo).
 * Must not: know which names exist (the caller passes them).
 */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The nearest name within a sensible distance, preferring earlier names on ties. */
export function nearest(name: string, names: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const dd = distance(name, n);
    if (dd < bestD) { best = n; bestD = dd; }
  }
  return bestD <= limit ? best : undefined;
}
