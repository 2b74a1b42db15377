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
  /** [A][T][D]: 1 where the detection matched a ground truth (dtMatches != 0). */
  readonly matched: Uint8Array;
  /** [A][T][D]: dtIgnore. */
  readonly ignored: Uint8Array;
  /** [A]: ground truths with gtIgnore == 0. */
  readonly numGt: Int32Array;
}

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

/** Indices of `keys` sorted ascending, ties in original order (np.argsort kind='mergesort'). */
function stableArgsort(n: number, less: (i: number, j: number) => boolean): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  return idx.sort((i, j) => (less(i, j) ? -1 : less(j, i) ? 1 : i - j));
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

  // evaluate(): evalImgs[k][i] (all area ranges inside), null where evaluateImg returns None.
  const evalImgs: (ImageEval | null)[] = new Array<ImageEval | null>(K * I).fill(null);
  const keys = new Set([...gtsOf.keys(), ...dtsOf.keys()]);
  for (const key of keys) evalImgs[key] = evaluateImg(gtsOf.get(key) ?? [], dtsOf.get(key) ?? []);

  const { precision, recall, scores } = accumulate(evalImgs, K, I);
  const numGtAll = new Int32Array(K);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < I; i++) numGtAll[k]! += evalImgs[k * I + i]?.numGt[0] ?? 0;
  }

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

/** COCOeval.computeIoU + evaluateImg for one (image, category), every area range. */
function evaluateImg(gts: readonly CocoAnnotation[], dtsInFileOrder: readonly CocoDetection[]): ImageEval {
  // Detections: highest score first (mergesort, so ties keep file order), at most maxDets[-1].
  const order = stableArgsort(dtsInFileOrder.length, (i, j) => dtsInFileOrder[i]!.score > dtsInFileOrder[j]!.score);
  const dts = order.slice(0, MAX_DET).map((n) => dtsInFileOrder[n]!);
  const D = dts.length;
  const G = gts.length;
  const crowd = gts.map((g) => Boolean(g.iscrowd));

  // ious[d * G + g] with g in file order (maskUtils.iou(d, g, iscrowd)).
  const ious = new Float64Array(D * G);
  for (let d = 0; d < D; d++) {
    const db = dts[d]!.bbox;
    for (let g = 0; g < G; g++) {
      const gb = gts[g]!.bbox;
      ious[d * G + g] = iouXywh(db[0]!, db[1]!, db[2]!, db[3]!, gb[0]!, gb[1]!, gb[2]!, gb[3]!, crowd[g]!);
    }
  }
  // loadRes sets a detection's area to w*h.
  const dtArea = dts.map((det) => det.bbox[2]! * det.bbox[3]!);

  const scores = Float64Array.from(dts, (det) => det.score);
  const matched = new Uint8Array(A * T * D);
  const ignored = new Uint8Array(A * T * D);
  const numGt = new Int32Array(A);
  const gtIgnoreInFileOrder = new Uint8Array(G);
  const gtMatched = new Uint8Array(G);

  for (let a = 0; a < A; a++) {
    const [lo, hi] = AREA_RANGES[a]!.range;
    for (let g = 0; g < G; g++) {
      const area = gts[g]!.area;
      gtIgnoreInFileOrder[g] = crowd[g] || area < lo || area > hi ? 1 : 0;
      if (!gtIgnoreInFileOrder[g]) numGt[a]!++;
    }
    // gt sorted with ignored last (mergesort on the 0/1 flag: stable).
    const gtOrder: number[] = [];
    for (let g = 0; g < G; g++) if (!gtIgnoreInFileOrder[g]) gtOrder.push(g);
    for (let g = 0; g < G; g++) if (gtIgnoreInFileOrder[g]) gtOrder.push(g);

    for (let t = 0; t < T; t++) {
      const base = (a * T + t) * D;
      gtMatched.fill(0);
      if (G > 0) {
        for (let d = 0; d < D; d++) {
          // information about best match so far (m = -1 -> unmatched)
          let iou = Math.min(IOU_THRESHOLDS[t]!, 1 - 1e-10);
          let m = -1;
          for (let gi = 0; gi < G; gi++) {
            const g = gtOrder[gi]!;
            // already matched and not a crowd: skip
            if (gtMatched[g] && !crowd[g]) continue;
            // matched to a regular gt and now on ignored ones: stop
            if (m > -1 && !gtIgnoreInFileOrder[m] && gtIgnoreInFileOrder[g]) break;
            const v = ious[d * G + g]!;
            if (v < iou) continue;
            iou = v;
            m = g;
          }
          if (m === -1) continue;
          ignored[base + d] = gtIgnoreInFileOrder[m]!;
          matched[base + d] = 1;
          gtMatched[m] = 1;
        }
      }
      // unmatched detections outside the area range are ignored
      for (let d = 0; d < D; d++) {
        if (!matched[base + d] && (dtArea[d]! < lo || dtArea[d]! > hi)) ignored[base + d] = 1;
      }
    }
  }
  return { scores, matched, ignored, numGt };
}

/** COCOeval.accumulate with the default parameters. */
function accumulate(evalImgs: readonly (ImageEval | null)[], K: number, I: number) {
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const scores = new Float64Array(T * R * K * A * M).fill(-1);
  const pIndex = (t: number, r: number, k: number, a: number, m: number) => (((t * R + r) * K + k) * A + a) * M + m;

  for (let k = 0; k < K; k++) {
    // E: the non-None evalImgs of this category, in image-id order.
    const E: ImageEval[] = [];
    for (let i = 0; i < I; i++) {
      const e = evalImgs[k * I + i];
      if (e) E.push(e);
    }
    if (E.length === 0) continue;

    for (let m = 0; m < M; m++) {
      const maxDet = MAX_DETS[m]!;
      // Concatenate each image's first maxDet detections, then sort by score (mergesort).
      let N = 0;
      for (const e of E) N += Math.min(e.scores.length, maxDet);
      const srcImage = new Int32Array(N);
      const srcDet = new Int32Array(N);
      const cat = new Float64Array(N);
      let n = 0;
      E.forEach((e, ei) => {
        const nd = Math.min(e.scores.length, maxDet);
        for (let d = 0; d < nd; d++, n++) {
          srcImage[n] = ei;
          srcDet[n] = d;
          cat[n] = e.scores[d]!;
        }
      });
      const order = stableArgsort(N, (x, y) => cat[x]! > cat[y]!);
      const dtScoresSorted = Float64Array.from(order, (x) => cat[x]!);

      const rc = new Float64Array(N);
      const pr = new Float64Array(N);
      for (let a = 0; a < A; a++) {
        let npig = 0;
        for (const e of E) npig += e.numGt[a]!;
        if (npig === 0) continue;

        for (let t = 0; t < T; t++) {
          let tp = 0;
          let fp = 0;
          for (let j = 0; j < N; j++) {
            const x = order[j]!;
            const e = E[srcImage[x]!]!;
            const at = (a * T + t) * e.scores.length + srcDet[x]!;
            if (!e.ignored[at]) {
              if (e.matched[at]) tp++;
              else fp++;
            }
            rc[j] = tp / npig;
            pr[j] = tp / (fp + tp + NP_SPACING_1);
          }
          recall[((t * K + k) * A + a) * M + m] = N > 0 ? rc[N - 1]! : 0;
          // precision envelope, monotone from the right
          for (let j = N - 1; j > 0; j--) if (pr[j]! > pr[j - 1]!) pr[j - 1] = pr[j]!;
          // inds = np.searchsorted(rc, recThrs, side='left'); q[ri] = pr[inds[ri]] until out of range
          let j = 0;
          for (let r = 0; r < R; r++) {
            const thr = RECALL_THRESHOLDS[r]!;
            while (j < N && rc[j]! < thr) j++;
            const at = pIndex(t, r, k, a, m);
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

interface Arrays {
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  readonly K: number;
}

/** `np.mean(s[s > -1])` over precision[t, :, k, a, m] (all t when iouIndex is null, all k when k is null), or -1. */
function meanPrecision({ precision, K }: Arrays, iouIndex: number | null, a: number, m: number, k: number | null = null): number {
  const values: number[] = [];
  const ts = iouIndex === null ? [...Array(T).keys()] : [iouIndex];
  const ks = k === null ? [...Array(K).keys()] : [k];
  for (const t of ts) {
    for (let r = 0; r < R; r++) {
      for (const kk of ks) {
        const v = precision[(((t * R + r) * K + kk) * A + a) * M + m]!;
        if (v > -1) values.push(v);
      }
    }
  }
  return values.length === 0 ? -1 : npMean(values);
}

/** `np.mean(s[s > -1])` over recall[:, k, a, m] (all k when k is null), or -1. */
function meanRecall({ recall, K }: Arrays, a: number, m: number, k: number | null = null): number {
  const values: number[] = [];
  const ks = k === null ? [...Array(K).keys()] : [k];
  for (let t = 0; t < T; t++) {
    for (const kk of ks) {
      const v = recall[((t * K + kk) * A + a) * M + m]!;
      if (v > -1) values.push(v);
    }
  }
  return values.length === 0 ? -1 : npMean(values);
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
