// COCO bounding-box evaluation following pycocotools' COCOeval (iouType 'bbox', default Params)
// step by step: evaluate() -> evaluateImg() per image, category and area range, accumulate(),
// summarize(). Comments name the pycocotools code each part mirrors.

import { iouXywh } from './iou.js';
import { linspace, NP_SPACING_1, npMean } from './numeric.js';
import type {
  AreaLabel,
  CategoryMetrics,
  CocoAnnotation,
  CocoDataset,
  CocoDetection,
  CocoEvalParams,
  CocoEvalResult,
  CocoSummary,
} from './types.js';

/** Params.iouThrs: np.linspace(.5, 0.95, 10). */
export const IOU_THRESHOLDS: readonly number[] = Object.freeze(linspace(0.5, 0.95, 10));
/** Params.recThrs: np.linspace(.0, 1.00, 101). */
export const RECALL_THRESHOLDS: readonly number[] = Object.freeze(linspace(0, 1, 101));
/** Params.areaRng / areaRngLbl (inclusive bounds; 1e5 ** 2 = 1e10). */
export const AREA_RANGES: CocoEvalParams['areaRanges'] = Object.freeze([
  { label: 'all', range: [0, 1e10] },
  { label: 'small', range: [0, 32 ** 2] },
  { label: 'medium', range: [32 ** 2, 96 ** 2] },
  { label: 'large', range: [96 ** 2, 1e10] },
] as const);
/** Params.maxDets. */
export const MAX_DETS: readonly number[] = Object.freeze([1, 10, 100]);

/** Names of `stats`, in `COCOeval.summarize()` order. */
export const COCO_STAT_NAMES = Object.freeze([
  'ap', 'ap50', 'ap75', 'apSmall', 'apMedium', 'apLarge',
  'ar1', 'ar10', 'ar100', 'arSmall', 'arMedium', 'arLarge',
] as const satisfies readonly (keyof CocoSummary)[]);

const T = IOU_THRESHOLDS.length;
const R = RECALL_THRESHOLDS.length;
const A = AREA_RANGES.length;
const M = MAX_DETS.length;
const MAX_DET = MAX_DETS[M - 1]!;

/** What evaluateImg() keeps for one image and category, for all area ranges at once. */
interface ImageEval {
  /** Detection scores, sorted descending (stable), at most MAX_DET. */
  readonly scores: Float64Array;
  /**
   * [D][A][T], det-major so that accumulate() reads one detection's flags in one place:
   * IGNORED (dtIgnore), TP (dtMatches != 0, not ignored) or FP (unmatched, not ignored).
   */
  readonly flags: Uint8Array;
  /** [A]: ground truths with gtIgnore == 0. */
  readonly numGt: Int32Array;
}

const IGNORED = 0;
const TP = 1;
const FP = 2;
const AT = A * T;

export class CocoEvalInputError extends Error {
  override readonly name = 'CocoEvalInputError';
}

function checkBox(box: unknown, where: string): void {
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new CocoEvalInputError(`${where}.bbox must be [x, y, w, h] with 4 finite numbers`);
  }
}

function checkId(id: unknown, where: string): asserts id is number {
  if (typeof id !== 'number' || !Number.isFinite(id)) throw new CocoEvalInputError(`${where} must be a finite number`);
}

function sortedUnique(ids: Iterable<number>): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/**
 * Indices of `scores` from the highest score down, ties in original order: np.argsort(-scores,
 * kind='mergesort'). Scores are never NaN (checked on input); equal infinities tie.
 */
function argsortDescending(scores: ArrayLike<number>): number[] {
  const idx: number[] = [];
  for (let i = 0; i < scores.length; i++) idx.push(i);
  return idx.sort((i, j) => {
    const a = scores[i]!;
    const b = scores[j]!;
    return a > b ? -1 : a < b ? 1 : i - j;
  });
}

/**
 * Evaluate detections against a COCO dataset the way pycocotools does
 * (`COCOeval(gt, gt.loadRes(dts), 'bbox')`, then evaluate/accumulate/summarize).
 *
 * Images and categories are those of the dataset. Detections of a category the dataset does not
 * have are dropped (as `getAnnIds(catIds=...)` drops them); a detection on an image the dataset
 * does not have is an error (pycocotools' loadRes asserts the same).
 */
export function evaluateBboxes(dataset: CocoDataset, detections: readonly CocoDetection[]): CocoEvalResult {
  dataset.images.forEach((img, n) => checkId(img.id, `images[${n}].id`));
  dataset.categories.forEach((cat, n) => checkId(cat.id, `categories[${n}].id`));
  const imageIds = sortedUnique(dataset.images.map((img) => img.id));
  const categoryIds = sortedUnique(dataset.categories.map((cat) => cat.id));
  const I = imageIds.length;
  const K = categoryIds.length;
  const imageIndex = new Map(imageIds.map((id, i) => [id, i]));
  const categoryIndex = new Map(categoryIds.map((id, k) => [id, k]));
  const categoryName = new Map<number, string>();
  for (const cat of dataset.categories) if (!categoryName.has(cat.id)) categoryName.set(cat.id, cat.name);

  // _prepare(): group by (category, image), keeping file order within a group.
  const gtsOf = new Map<number, CocoAnnotation[]>();
  dataset.annotations.forEach((ann, n) => {
    const i = imageIndex.get(ann.image_id);
    const k = categoryIndex.get(ann.category_id);
    if (i === undefined || k === undefined) return; // getAnnIds(imgIds, catIds) leaves it out
    checkBox(ann.bbox, `annotations[${n}]`);
    if (typeof ann.area !== 'number' || Number.isNaN(ann.area)) {
      throw new CocoEvalInputError(`annotations[${n}].area must be a number`);
    }
    const key = k * I + i;
    const list = gtsOf.get(key);
    if (list) list.push(ann);
    else gtsOf.set(key, [ann]);
  });
  const dtsOf = new Map<number, CocoDetection[]>();
  detections.forEach((det, n) => {
    const i = imageIndex.get(det.image_id);
    if (i === undefined) {
      throw new CocoEvalInputError(`detections[${n}].image_id ${String(det.image_id)} is not an image of the dataset`);
    }
    checkBox(det.bbox, `detections[${n}]`);
    if (typeof det.score !== 'number' || Number.isNaN(det.score)) {
      throw new CocoEvalInputError(`detections[${n}].score must be a number`);
    }
    const k = categoryIndex.get(det.category_id);
    if (k === undefined) return;
    const key = k * I + i;
    const list = dtsOf.get(key);
    if (list) list.push(det);
    else dtsOf.set(key, [det]);
  });

  // evaluate(): evalImgs per category in image-id order (key k * I + i sorts that way), leaving out
  // the (image, category) pairs with neither gt nor detections, where evaluateImg returns None.
  const keys = [...new Set([...gtsOf.keys(), ...dtsOf.keys()])].sort((a, b) => a - b);
  const evalImgs: ImageEval[][] = Array.from({ length: K }, () => []);
  for (const key of keys) {
    evalImgs[Math.floor(key / I)]!.push(evaluateImg(gtsOf.get(key) ?? [], dtsOf.get(key) ?? []));
  }

  const { precision, recall, scores } = accumulate(evalImgs);
  const numGtAll = evalImgs.map((E) => E.reduce((n, e) => n + e.numGt[0]!, 0));

  const params: CocoEvalParams = {
    iouThresholds: IOU_THRESHOLDS,
    recallThresholds: RECALL_THRESHOLDS,
    areaRanges: AREA_RANGES,
    maxDets: MAX_DETS,
    imageIds,
    categoryIds,
  };
  const arrays = { precision, recall, K };
  const summary = summarizeDets(arrays);
  const perCategory: CategoryMetrics[] = categoryIds.map((id, k) => ({
    categoryId: id,
    name: categoryName.get(id) ?? '',
    ap: meanPrecision(arrays, null, 0, M - 1, k),
    ap50: meanPrecision(arrays, 0, 0, M - 1, k),
    ap75: meanPrecision(arrays, 5, 0, M - 1, k),
    ar100: meanRecall(arrays, 0, M - 1, k),
    numGt: numGtAll[k]!,
  }));
  return {
    stats: COCO_STAT_NAMES.map((name) => summary[name]),
    summary,
    perCategory,
    params,
    counts: [T, R, K, A, M],
    precision,
    recall,
    scores,
  };
}

/** `min(t, 1 - 1e-10)`: evaluateImg's starting IoU for each threshold. */
const IOU_START = IOU_THRESHOLDS.map((t) => Math.min(t, 1 - 1e-10));
const AREA_LO = AREA_RANGES.map((r) => r.range[0]);
const AREA_HI = AREA_RANGES.map((r) => r.range[1]);
const NO_FLAGS = new Uint8Array(0);
const NO_GT = new Int32Array(A); // shared, never written

/** COCOeval.computeIoU + evaluateImg for one (image, category), every area range. */
function evaluateImg(gts: readonly CocoAnnotation[], dtsInFileOrder: readonly CocoDetection[]): ImageEval {
  const G = gts.length;
  const numGt = G === 0 ? NO_GT : new Int32Array(A);
  // gt ignore flags per area range: crowd, or `area` outside the range.
  const gtIgnore = new Uint8Array(A * G);
  const crowd = new Uint8Array(G);
  for (let g = 0; g < G; g++) {
    const gt = gts[g]!;
    crowd[g] = gt.iscrowd ? 1 : 0;
    for (let a = 0; a < A; a++) {
      const ignore = crowd[g] || gt.area < AREA_LO[a]! || gt.area > AREA_HI[a]! ? 1 : 0;
      gtIgnore[a * G + g] = ignore;
      if (!ignore) numGt[a]!++;
    }
  }

  // Detections: highest score first (mergesort, so ties keep file order), at most maxDets[-1].
  let dts = dtsInFileOrder;
  if (dts.length > 1) {
    dts = argsortDescending(dts.map((det) => det.score))
      .slice(0, MAX_DET)
      .map((n) => dtsInFileOrder[n]!);
  }
  const D = dts.length;
  if (D === 0) return { scores: new Float64Array(0), flags: NO_FLAGS, numGt };
  const scores = new Float64Array(D);
  // loadRes sets a detection's area to w*h.
  const dtArea = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    scores[d] = dts[d]!.score;
    dtArea[d] = dts[d]!.bbox[2]! * dts[d]!.bbox[3]!;
  }

  // Unmatched detections outside the area range are ignored, the others are false positives;
  // start from that and overwrite the matched ones below.
  const flags = new Uint8Array(D * AT);
  for (let d = 0; d < D; d++) {
    const area = dtArea[d]!;
    for (let a = 0; a < A; a++) {
      const f = area < AREA_LO[a]! || area > AREA_HI[a]! ? IGNORED : FP;
      for (let at = d * AT + a * T, end = at + T; at < end; at++) flags[at] = f;
    }
  }
  if (G === 0) return { scores, flags, numGt };

  // ious[d * G + g] with g in file order (maskUtils.iou(d, g, iscrowd)).
  const ious = new Float64Array(D * G);
  for (let d = 0; d < D; d++) {
    const db = dts[d]!.bbox;
    for (let g = 0; g < G; g++) {
      const gb = gts[g]!.bbox;
      ious[d * G + g] = iouXywh(db[0]!, db[1]!, db[2]!, db[3]!, gb[0]!, gb[1]!, gb[2]!, gb[3]!, crowd[g] === 1);
    }
  }

  const gtOrder = new Int32Array(G);
  const gtMatched = new Uint8Array(G);
  for (let a = 0; a < A; a++) {
    const ig = a * G;
    // gt sorted with ignored last (mergesort on the 0/1 flag: stable).
    let n = 0;
    for (let g = 0; g < G; g++) if (!gtIgnore[ig + g]) gtOrder[n++] = g;
    for (let g = 0; g < G; g++) if (gtIgnore[ig + g]) gtOrder[n++] = g;

    for (let t = 0; t < T; t++) {
      gtMatched.fill(0);
      for (let d = 0; d < D; d++) {
        // information about best match so far (m = -1 -> unmatched)
        let iou = IOU_START[t]!;
        let m = -1;
        for (let gi = 0; gi < G; gi++) {
          const g = gtOrder[gi]!;
          // already matched and not a crowd: skip
          if (gtMatched[g] && !crowd[g]) continue;
          // matched to a regular gt and now on ignored ones: stop
          if (m > -1 && !gtIgnore[ig + m] && gtIgnore[ig + g]) break;
          const v = ious[d * G + g]!;
          if (v < iou) continue;
          iou = v;
          m = g;
        }
        if (m === -1) continue;
        // a match to an ignored gt ignores the detection
        flags[d * AT + a * T + t] = gtIgnore[ig + m] ? IGNORED : TP;
        gtMatched[m] = 1;
      }
    }
  }
  return { scores, flags, numGt };
}

/** COCOeval.accumulate with the default parameters; `evalImgs[k]` is E of category k. */
function accumulate(evalImgs: readonly (readonly ImageEval[])[]) {
  const K = evalImgs.length;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const scores = new Float64Array(T * R * K * A * M).fill(-1);

  for (let k = 0; k < K; k++) {
    // E: the non-None evalImgs of this category, in image-id order.
    const E = evalImgs[k]!;
    if (E.length === 0) continue;
    const npigs = new Int32Array(A);
    for (const e of E) for (let a = 0; a < A; a++) npigs[a]! += e.numGt[a]!;
    if (npigs.every((n) => n === 0)) continue; // no gt in any area range: all -1

    // Concatenate the images' detections (each already sorted, at most MAX_DET) in image order and
    // sort by score (mergesort). For a smaller maxDet, pycocotools sorts the concatenation of each
    // image's first maxDet detections; a stable sort of a subsequence keeps its relative order, so
    // that is this order filtered to per-image rank < maxDet.
    let total = 0;
    for (const e of E) total += e.scores.length;
    const srcImage = new Int32Array(total);
    const srcDet = new Int32Array(total);
    const cat = new Float64Array(total);
    let n = 0;
    for (let ei = 0; ei < E.length; ei++) {
      const s = E[ei]!.scores;
      for (let d = 0; d < s.length; d++, n++) {
        srcImage[n] = ei;
        srcDet[n] = d;
        cat[n] = s[d]!;
      }
    }
    const fullOrder = argsortDescending(cat);

    // Largest maxDet first: when no image has more than a smaller maxDet detections of this
    // category, that setting sees the same ranking and gets the same numbers.
    let previous: { m: number; N: number } | null = null;
    for (let m = M - 1; m >= 0; m--) {
      const maxDet = MAX_DETS[m]!;
      const order = maxDet >= MAX_DET ? fullOrder : fullOrder.filter((x) => srcDet[x]! < maxDet);
      const N = order.length;
      if (previous && previous.N === N) {
        copySetting(precision, recall, scores, K, k, previous.m, m);
        continue;
      }
      previous = { m, N };
      const dtScoresSorted = new Float64Array(N);
      // flags in ranked order, [N][A * T]
      const ranked = new Uint8Array(N * AT);
      for (let j = 0; j < N; j++) {
        const x = order[j]!;
        dtScoresSorted[j] = cat[x]!;
        const src = E[srcImage[x]!]!.flags;
        const base = srcDet[x]! * AT;
        for (let at = 0; at < AT; at++) ranked[j * AT + at] = src[base + at]!;
      }

      const rc = new Float64Array(N);
      const pr = new Float64Array(N);
      for (let a = 0; a < A; a++) {
        const npig = npigs[a]!;
        if (npig === 0) continue;

        for (let t = 0; t < T; t++) {
          const col = a * T + t;
          // tp_sum, fp_sum -> rc = tp / npig, pr = tp / (fp + tp + eps); unchanged across ignored detections
          let tp = 0;
          let fp = 0;
          let rcj = 0;
          let prj = 0;
          for (let j = 0; j < N; j++) {
            const f = ranked[j * AT + col]!;
            if (f !== IGNORED) {
              if (f === TP) tp++;
              else fp++;
              rcj = tp / npig;
              prj = tp / (fp + tp + NP_SPACING_1);
            }
            rc[j] = rcj;
            pr[j] = prj;
          }
          recall[((t * K + k) * A + a) * M + m] = N > 0 ? rc[N - 1]! : 0;
          // precision envelope, monotone from the right
          for (let j = N - 1; j > 0; j--) if (pr[j]! > pr[j - 1]!) pr[j - 1] = pr[j]!;
          // inds = np.searchsorted(rc, recThrs, side='left'); q[ri] = pr[inds[ri]] until out of range
          let j = 0;
          for (let r = 0; r < R; r++) {
            const thr = RECALL_THRESHOLDS[r]!;
            while (j < N && rc[j]! < thr) j++;
            const at = (((t * R + r) * K + k) * A + a) * M + m;
            if (j < N) {
              precision[at] = pr[j]!;
              scores[at] = dtScoresSorted[j]!;
            } else {
              precision[at] = 0;
              scores[at] = 0;
            }
          }
        }
      }
    }
  }
  return { precision, recall, scores };
}

/** Copy category k's results for maxDets index `from` to index `to`. */
function copySetting(precision: Float64Array, recall: Float64Array, scores: Float64Array, K: number, k: number, from: number, to: number): void {
  for (let t = 0; t < T; t++) {
    for (let a = 0; a < A; a++) {
      const rAt = ((t * K + k) * A + a) * M;
      recall[rAt + to] = recall[rAt + from]!;
      for (let r = 0; r < R; r++) {
        const at = (((t * R + r) * K + k) * A + a) * M;
        precision[at + to] = precision[at + from]!;
        scores[at + to] = scores[at + from]!;
      }
    }
  }
}

interface Arrays {
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  readonly K: number;
}

/** `np.mean(s[s > -1])` over precision[t, :, k, a, m] (all t when iouIndex is null, all k when k is null), or -1. */
function meanPrecision({ precision, K }: Arrays, iouIndex: number | null, a: number, m: number, k: number | null = null): number {
  const [t0, t1] = iouIndex === null ? [0, T] : [iouIndex, iouIndex + 1];
  const [k0, k1] = k === null ? [0, K] : [k, k + 1];
  const values = new Float64Array((t1 - t0) * R * (k1 - k0));
  let n = 0;
  for (let t = t0; t < t1; t++) {
    for (let r = 0; r < R; r++) {
      for (let kk = k0; kk < k1; kk++) {
        const v = precision[(((t * R + r) * K + kk) * A + a) * M + m]!;
        if (v > -1) values[n++] = v;
      }
    }
  }
  return n === 0 ? -1 : npMean(values.subarray(0, n));
}

/** `np.mean(s[s > -1])` over recall[:, k, a, m] (all k when k is null), or -1. */
function meanRecall({ recall, K }: Arrays, a: number, m: number, k: number | null = null): number {
  const [k0, k1] = k === null ? [0, K] : [k, k + 1];
  const values = new Float64Array(T * (k1 - k0));
  let n = 0;
  for (let t = 0; t < T; t++) {
    for (let kk = k0; kk < k1; kk++) {
      const v = recall[((t * K + kk) * A + a) * M + m]!;
      if (v > -1) values[n++] = v;
    }
  }
  return n === 0 ? -1 : npMean(values.subarray(0, n));
}

/** COCOeval.summarize()._summarizeDets. */
function summarizeDets(arrays: Arrays): CocoSummary {
  const area = (label: AreaLabel) => AREA_RANGES.findIndex((r) => r.label === label);
  const m100 = M - 1;
  return {
    ap: meanPrecision(arrays, null, area('all'), m100),
    ap50: meanPrecision(arrays, 0, area('all'), m100),
    ap75: meanPrecision(arrays, 5, area('all'), m100),
    apSmall: meanPrecision(arrays, null, area('small'), m100),
    apMedium: meanPrecision(arrays, null, area('medium'), m100),
    apLarge: meanPrecision(arrays, null, area('large'), m100),
    ar1: meanRecall(arrays, area('all'), 0),
    ar10: meanRecall(arrays, area('all'), 1),
    ar100: meanRecall(arrays, area('all'), m100),
    arSmall: meanRecall(arrays, area('small'), m100),
    arMedium: meanRecall(arrays, area('medium'), m100),
    arLarge: meanRecall(arrays, area('large'), m100),
  };
}

/**
 * One category's interpolated precision at the 101 recall points (`precision[t, :, k, a, m]`);
 * all -1 when the category has no ground truth in that area range.
 */
export function precisionCurve(
  result: CocoEvalResult,
  categoryId: number,
  { iouThreshold = 0.5, area = 'all', maxDets = 100 }: { iouThreshold?: number; area?: AreaLabel; maxDets?: number } = {},
): Float64Array {
  const [, , K] = result.counts;
  const k = result.params.categoryIds.indexOf(categoryId);
  const t = IOU_THRESHOLDS.findIndex((v) => Math.abs(v - iouThreshold) < 1e-9);
  const a = AREA_RANGES.findIndex((r) => r.label === area);
  const m = MAX_DETS.indexOf(maxDets);
  if (k < 0) throw new RangeError(`category ${categoryId} is not in the dataset`);
  if (t < 0) throw new RangeError(`iouThreshold must be one of ${IOU_THRESHOLDS.join(', ')}`);
  if (a < 0) throw new RangeError(`area must be one of all, small, medium, large`);
  if (m < 0) throw new RangeError(`maxDets must be one of ${MAX_DETS.join(', ')}`);
  return Float64Array.from({ length: R }, (_, r) => result.precision[(((t * R + r) * K + k) * A + a) * M + m]!);
}

/** The lines `COCOeval.summarize()` prints, from `stats`. */
export function formatSummary(stats: readonly number[]): string {
  const rows: [ap: boolean, iou: string, area: string, maxDets: number][] = [
    [true, '0.50:0.95', 'all', 100], [true, '0.50', 'all', 100], [true, '0.75', 'all', 100],
    [true, '0.50:0.95', 'small', 100], [true, '0.50:0.95', 'medium', 100], [true, '0.50:0.95', 'large', 100],
    [false, '0.50:0.95', 'all', 1], [false, '0.50:0.95', 'all', 10], [false, '0.50:0.95', 'all', 100],
    [false, '0.50:0.95', 'small', 100], [false, '0.50:0.95', 'medium', 100], [false, '0.50:0.95', 'large', 100],
  ];
  return rows
    .map(([ap, iou, area, maxDets], n) => {
      const title = (ap ? 'Average Precision' : 'Average Recall').padEnd(18);
      const type = ap ? '(AP)' : '(AR)';
      const value = (stats[n] ?? -1).toFixed(3);
      return ` ${title} ${type} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${value}`;
    })
    .join('\n');
}
