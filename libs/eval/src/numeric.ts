// The few numpy behaviours COCOeval's numbers depend on, reproduced so that results agree with
// pycocotools to the last bit where the arithmetic allows it.

/** numpy's `np.spacing(1)`: the epsilon COCOeval adds to the precision denominator. */
export const NP_SPACING_1 = 2.220446049250313e-16;

/**
 * `np.linspace(start, stop, num, endpoint=True)` as numpy computes it: `i * step + start`, with the
 * last element set to `stop` exactly.
 */
export function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(i * step + start);
  if (num > 1) out[num - 1] = stop;
  return out;
}

const PW_BLOCKSIZE = 128;

/** numpy's pairwise summation (`DOUBLE_pairwise_sum` in loops_utils.h) over `a[from, from + n)`. */
function pairwiseSum(a: ArrayLike<number>, from: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[from + i]!;
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let r0 = a[from]!, r1 = a[from + 1]!, r2 = a[from + 2]!, r3 = a[from + 3]!;
    let r4 = a[from + 4]!, r5 = a[from + 5]!, r6 = a[from + 6]!, r7 = a[from + 7]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const b = from + i;
      r0 += a[b]!; r1 += a[b + 1]!; r2 += a[b + 2]!; r3 += a[b + 3]!;
      r4 += a[b + 4]!; r5 += a[b + 5]!; r6 += a[b + 6]!; r7 += a[b + 7]!;
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[from + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, from, n2) + pairwiseSum(a, from + n2, n - n2);
}

/** `np.sum` of a 1-D float64 array: the add identity 0 plus numpy's pairwise sum. */
export function npSum(a: ArrayLike<number>): number {
  return 0 + pairwiseSum(a, 0, a.length);
}

/** `np.mean` of a non-empty 1-D float64 array. */
export function npMean(a: ArrayLike<number>): number {
  return npSum(a) / a.length;
}
