// Summary statistics of timed iterations, and Spearman's rank correlation (the predictor's and the
// benchmark's measure of agreement).

export interface TimingSummary {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  /** Sample standard deviation (n - 1). */
  stddev: number;
  /** stddev / mean. */
  cv: number;
  n: number;
}

/** numpy.percentile's default (linear interpolation between closest ranks) on sorted values. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * (q / 100);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(times: readonly number[]): TimingSummary {
  const n = times.length;
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((s, t) => s + t, 0) / n;
  const variance = n > 1 ? times.reduce((s, t) => s + (t - mean) ** 2, 0) / (n - 1) : 0;
  const stddev = Math.sqrt(variance);
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), mean, stddev, cv: mean > 0 ? stddev / mean : 0, n };
}

/** Ranks with ties sharing their average rank (1-based), as scipy.stats.rankdata. */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k]![1]] = rank;
    i = j + 1;
  }
  return out;
}

/** Spearman's rho: Pearson correlation of the ranks (scipy.stats.spearmanr). NaN for n < 2. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`spearman: ${a.length} vs ${b.length} values`);
  if (a.length < 2) return NaN;
  return pearson(ranks(a), ranks(b));
}

/**
 * Kendall's tau-b (scipy.stats.kendalltau's default): (concordant - discordant) pairs over
 * sqrt((n0 - ties in a)(n0 - ties in b)), n0 = n(n-1)/2. NaN for n < 2 or a constant side.
 */
export function kendall(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`kendall: ${a.length} vs ${b.length} values`);
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const s = Math.sign(a[j]! - a[i]!) * Math.sign(b[j]! - b[i]!);
      if (a[i] === a[j]) tiesA++;
      if (b[i] === b[j]) tiesB++;
      if (s > 0) concordant++;
      else if (s < 0) discordant++;
    }
  }
  const n0 = (a.length * (a.length - 1)) / 2;
  const denominator = Math.sqrt((n0 - tiesA) * (n0 - tiesB));
  return denominator > 0 ? (concordant - discordant) / denominator : NaN;
}

export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}
