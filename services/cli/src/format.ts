// Terminal output: aligned tables and human-scaled numbers.

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // Text columns align left, numeric ones right.
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[\d.,\s-]*[kMGT]?$/.test(r[i] ?? '')));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** 4089184256 -> "4.089 G" (a uint64 count from the wire as well: a bigint) */
export function si(value: number | bigint, digits = 3): string {
  const n = Number(value);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, unit] of units) if (Math.abs(n) >= scale) return `${(n / scale).toFixed(digits)} ${unit}`;
  return String(value);
}

/** 25557032 -> "25,557,032" (exact for a bigint) */
export function grouped(n: number | bigint | string): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
