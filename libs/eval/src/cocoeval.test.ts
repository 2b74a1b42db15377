// Reference values are computed by hand from pycocotools' COCOeval rules (cocodataset/cocoapi,
// PythonAPI/pycocotools/cocoeval.py: evaluateImg, accumulate, summarize; maskApi.c bbIou); the
// arithmetic is in the comments. Notation per IoU threshold t, detections ranked by score:
//   rc[j] = tp/npig, pr[j] = tp/(tp+fp+eps) (eps = np.spacing(1)), pr made monotone from the right,
//   q[r] = pr[first j with rc[j] >= recThrs[r]] or 0 past the end; AP = mean over t, r (and categories).
// Recall thresholds 0, 0.01, ..., 1: 51 of them are <= 0.5 and 50 are > 0.5 (50 * 0.01 === 0.5).
// pycocotools' "1.0" is 1/(1+eps) = 0.9999999999999998, hence toBeCloseTo(_, 12) for those.
import { describe, expect, it } from 'vitest';
import {
  COCO_STAT_NAMES,
  CocoEvalInputError,
  evaluateBboxes,
  formatSummary,
  IOU_THRESHOLDS,
  precisionCurve,
  RECALL_THRESHOLDS,
} from './cocoeval.js';
import type { CocoAnnotation, CocoDataset, CocoDetection, CocoEvalResult } from './types.js';

type Box = [number, number, number, number];
let nextAnnId = 1;

function gt(image_id: number, category_id: number, bbox: Box, opts: { area?: number; iscrowd?: number } = {}): CocoAnnotation {
  return { id: nextAnnId++, image_id, category_id, bbox, area: opts.area ?? bbox[2] * bbox[3], iscrowd: opts.iscrowd ?? 0 };
}

function dataset(imageIds: number[], annotations: CocoAnnotation[], categoryIds = [1]): CocoDataset {
  return {
    images: imageIds.map((id) => ({ id, width: 640, height: 480 })),
    annotations,
    categories: categoryIds.map((id) => ({ id, name: `c${id}` })),
  };
}

function det(image_id: number, category_id: number, bbox: Box, score: number): CocoDetection {
  return { image_id, category_id, bbox, score };
}

function category(result: CocoEvalResult, id: number) {
  const c = result.perCategory.find((p) => p.categoryId === id);
  if (!c) throw new Error(`no category ${id}`);
  return c;
}

const ONE = 1 - 2.220446049250313e-16; // 1/(1+eps) as a double: 0.9999999999999998
const BIG: Box = [0, 0, 100, 100]; // area 10000: large (> 96² = 9216)

describe('parameters', () => {
  it('are numpy linspace values, with 0.75 exactly at index 5 (summarize looks it up by ==)', () => {
    expect(IOU_THRESHOLDS).toHaveLength(10);
    expect(IOU_THRESHOLDS[0]).toBe(0.5);
    expect(IOU_THRESHOLDS[5]).toBe(0.75);
    // np.linspace(.5, 0.95, 10)[8] prints 0.8999999999999999 in numpy too.
    expect(IOU_THRESHOLDS[8]).toBe(0.8999999999999999);
    expect(RECALL_THRESHOLDS).toHaveLength(101);
    expect(RECALL_THRESHOLDS[7]).toBe(7 * 0.01);
    expect(RECALL_THRESHOLDS[100]).toBe(1);
  });
});

describe('evaluateBboxes, hand-computed', () => {
  it('perfect detections: AP and all-area AR are 1, -1 where an area range has no ground truth', () => {
    const data = dataset([1], [gt(1, 1, BIG), gt(1, 2, [200, 200, 50, 50])], [1, 2]); // large, medium (2500)
    const r = evaluateBboxes(data, [det(1, 1, BIG, 0.9), det(1, 2, [200, 200, 50, 50], 0.8)]);
    // Each category: one TP at every t: rc = [1], pr = [1/(1+eps)], q = pr[0] at all 101 points.
    expect(r.summary.ap).toBeCloseTo(1, 12);
    expect(r.summary.ap50).toBeCloseTo(1, 12);
    expect(r.summary.ap75).toBeCloseTo(1, 12);
    expect(r.summary.apSmall).toBe(-1); // no small ground truth
    expect(r.summary.apMedium).toBeCloseTo(1, 12); // category 2 only; category 1 has no medium gt -> -1, left out
    expect(r.summary.apLarge).toBeCloseTo(1, 12);
    // recall = tp / npig = 1 / 1 exactly
    expect([r.summary.ar1, r.summary.ar10, r.summary.ar100]).toEqual([1, 1, 1]);
    expect([r.summary.arSmall, r.summary.arMedium, r.summary.arLarge]).toEqual([-1, 1, 1]);
    expect(r.stats).toEqual(COCO_STAT_NAMES.map((n) => r.summary[n]));
    expect(r.precision[0]).toBe(ONE); // precision[t=0, r=0, k=0, a=all, m=1]
    expect(category(r, 1).ap).toBeCloseTo(1, 12);
    expect(category(r, 2).numGt).toBe(1);
  });

  it('a duplicate detection is a false positive: AP = 253/303', () => {
    const g2: Box = [200, 0, 100, 100];
    const data = dataset([1], [gt(1, 1, BIG), gt(1, 1, g2)]);
    const r = evaluateBboxes(data, [det(1, 1, BIG, 0.9), det(1, 1, BIG, 0.8), det(1, 1, g2, 0.7)]);
    // Every t (all IoUs are 1 or 0), npig = 2, ranking 0.9 TP, 0.8 FP (gt 1 taken), 0.7 TP:
    //   rc = [0.5, 0.5, 1], pr = [1/(1+eps), 1/(2+eps) = 0.5, 2/(3+eps) = 2/3]
    //   envelope from the right: [1, 2/3, 2/3]
    //   r <= 0.50 (51 points): first rc >= r is j=0 -> 1;  r > 0.50 (50 points): j=2 -> 2/3
    //   AP = (51 * 1 + 50 * 2/3) / 101 = (253/3) / 101 = 253/303 = 0.834983498...
    expect(r.summary.ap).toBeCloseTo(253 / 303, 12);
    expect(r.summary.ap50).toBeCloseTo(253 / 303, 12);
    expect(r.summary.ap75).toBeCloseTo(253 / 303, 12);
    expect(r.summary.ar100).toBe(1);
    // Without the duplicate the same detections score 1.
    expect(evaluateBboxes(data, [det(1, 1, BIG, 0.9), det(1, 1, g2, 0.7)]).summary.ap).toBeCloseTo(1, 12);
    // The curve and its scores: 0.9's precision up to recall 0.5, 0.7's after.
    const curve = precisionCurve(r, 1);
    expect(curve[50]).toBe(ONE);
    expect(curve[51]).toBe(2 / 3);
    // scores[t=0, r, k=0, a=all, m=100] with K=1, A=4, M=3: index r*12 + 2
    expect(r.scores[50 * 12 + 2]).toBe(0.9);
    expect(r.scores[51 * 12 + 2]).toBe(0.7);
  });

  it('detections on a crowd region are ignored, several may match one crowd gt, the crowd gt is never a miss', () => {
    const crowd = gt(1, 1, [200, 0, 200, 200], { iscrowd: 1 }); // area 40000
    const data = dataset([1], [gt(1, 1, BIG), crowd]);
    const dets = [
      det(1, 1, [210, 10, 50, 50], 0.95), // inside the crowd box: IoU = 2500 / area(dt) 2500 = 1
      det(1, 1, [300, 100, 50, 50], 0.92), // also inside: matches the same crowd gt
      det(1, 1, BIG, 0.9), // TP
    ];
    const r = evaluateBboxes(data, dets);
    // npig = 1 (the crowd gt is ignored). Ranking: ignored, ignored, TP:
    //   rc = [0, 0, 1], pr = [0/(0+eps) = 0, 0, 1/(1+eps)] -> envelope [1, 1, 1] -> AP = 1, AR = 1.
    // Had the second detection been a false positive (crowd consumed): rc = [0,0,1], pr = [0,0,1/2] -> AP 0.5;
    // had both been false positives: pr = [0, 0, 1/3] -> AP 1/3.
    expect(r.summary.ap).toBeCloseTo(1, 12);
    expect(r.summary.ar100).toBe(1);
    expect(category(r, 1).numGt).toBe(1);
    // The same boxes without the crowd flag: IoU = 2500 / (2500 + 40000 - 2500) = 0.0625, both are
    // false positives and the former crowd box is a missed object (npig = 2):
    //   rc = [0, 0, 0.5], pr = [0, 0, 1/3] -> envelope 1/3 up to recall 0.5 (51 points), 0 after:
    //   AP = 51 * (1/3) / 101 = 17/101.
    const noCrowd = dataset([1], [data.annotations[0]!, { ...crowd, iscrowd: 0 }]);
    expect(evaluateBboxes(noCrowd, dets).summary.ap).toBeCloseTo(17 / 101, 12);
  });

  it('area ranges use the annotation area for gt, w*h for detections; a small object counts only in AP_small', () => {
    const data = dataset([1], [gt(1, 1, [0, 0, 20, 20]), gt(1, 1, [100, 100, 200, 200])]); // areas 400 (small), 40000 (large)
    const r = evaluateBboxes(data, [
      det(1, 1, [500, 300, 200, 200], 0.9), // false positive, area 40000 (large)
      det(1, 1, [0, 0, 20, 20], 0.8), // finds the small object; the large one is missed
    ]);
    // all: npig 2; FP then TP: rc = [0, 0.5], pr = [0, 1/(2+eps) = 0.5] -> envelope [0.5, 0.5];
    //   r <= 0.5: 0.5 (51 points), r > 0.5: 0 -> AP = 51 * 0.5 / 101 = 25.5/101; AR = 0.5.
    expect(r.summary.ap).toBeCloseTo(25.5 / 101, 12);
    expect(r.summary.ar100).toBe(0.5);
    // small: the large gt is ignored (npig 1); the unmatched FP has area 40000 > 32² -> ignored:
    //   rc = [0, 1], pr = [0, 1/(1+eps)] -> envelope [1, 1] -> AP 1, AR 1.
    expect(r.summary.apSmall).toBeCloseTo(1, 12);
    expect(r.summary.arSmall).toBe(1);
    // medium: no gt -> -1.
    expect(r.summary.apMedium).toBe(-1);
    expect(r.summary.arMedium).toBe(-1);
    // large: npig 1 (the missed object). The FP counts (area in range); the small detection matches
    // the ignored small gt and is ignored: rc = [0, 0], pr = [0, 0] -> AP 0, AR 0.
    expect(r.summary.apLarge).toBe(0);
    expect(r.summary.arLarge).toBe(0);
  });

  it('the gt area range comes from its area field, and a matched detection is not ignored for its own area', () => {
    // Box 40x40 (1600, medium by box) but area field 900 (small, e.g. a segmentation's area).
    const data = dataset([1], [gt(1, 1, [0, 0, 40, 40], { area: 900 })]);
    const r = evaluateBboxes(data, [det(1, 1, [0, 0, 40, 40], 0.9)]);
    // small: gt counts (900 <= 1024); the detection (w*h = 1600, outside small) is matched -> TP -> AP 1.
    expect(r.summary.apSmall).toBeCloseTo(1, 12);
    // medium: gt ignored (900 < 1024), the detection matches it and is ignored; npig 0 -> -1.
    expect(r.summary.apMedium).toBe(-1);
    expect(r.summary.arMedium).toBe(-1);
  });

  it('IoU exactly at a threshold matches (>=), the best-IoU unmatched gt wins', () => {
    // [0,0,100,50] vs [0,0,100,100]: 5000 / (5000 + 10000 - 5000) = 0.5 exactly.
    const half = evaluateBboxes(dataset([1], [gt(1, 1, BIG)]), [det(1, 1, [0, 0, 100, 50], 0.9)]);
    // t = 0.5: TP -> precision 1/(1+eps) at all 101 points; t >= 0.55: FP -> rc = [0], pr = [0] -> 0.
    expect(half.summary.ap50).toBeCloseTo(1, 12);
    expect(half.summary.ap75).toBe(0);
    expect(half.summary.ap).toBeCloseTo(0.1, 12); // (101 * 1 + 9 * 101 * 0) / 1010
    expect(half.summary.ar100).toBe(0.1); // recall [1, 0 x 9] -> 1/10

    // [0,0,100,77]: IoU 7700 / 10000 = 0.77 -> TP for t = 0.50 .. 0.75 (6 thresholds), FP for 0.80 .. 0.95.
    const r77 = evaluateBboxes(dataset([1], [gt(1, 1, BIG)]), [det(1, 1, [0, 0, 100, 77], 0.9)]);
    expect(r77.summary.ap75).toBeCloseTo(1, 12);
    expect(r77.summary.ap).toBeCloseTo(0.6, 12); // 6 * 101 * 1/(1+eps) / 1010
    expect(r77.summary.ar100).toBeCloseTo(0.6, 15); // mean of [1 x 6, 0 x 4]

    // gt1 [0,0,100,100], gt2 [20,0,100,100]; d1 [15,0,100,100] (0.9): IoU(gt1) = 8500/11500 = 0.739,
    // IoU(gt2) = 9500/10500 = 0.905 -> d1 takes gt2 (not the first gt over the threshold); d2 = gt1 (0.8) -> TP.
    //   t = 0.50 .. 0.90 (9 thresholds): two TPs -> 1.
    //   t = 0.95: d1 unmatched (FP), d2 TP: rc = [0, 0.5], pr = [0, 0.5] -> 51 * 0.5 / 101 = 25.5/101.
    //   AP = (9 + 25.5/101) / 10;  AR = (9 * 1 + 0.5) / 10 = 0.95.
    const data = dataset([1], [gt(1, 1, BIG), gt(1, 1, [20, 0, 100, 100])]);
    const r = evaluateBboxes(data, [det(1, 1, [15, 0, 100, 100], 0.9), det(1, 1, BIG, 0.8)]);
    expect(r.summary.ap).toBeCloseTo((9 + 25.5 / 101) / 10, 12);
    expect(r.summary.ar100).toBeCloseTo(0.95, 15);
  });

  it('images without detections, images without gt, images with neither', () => {
    const data = dataset([1, 2, 3, 4], [gt(1, 1, BIG), gt(2, 1, BIG)]);
    const r = evaluateBboxes(data, [
      det(1, 1, BIG, 0.9), // TP on image 1
      det(3, 1, BIG, 0.95), // image 3 has no gt: FP
    ]); // image 2: a missed object; image 4: nothing at all
    // npig 2; ranking FP (0.95), TP (0.9): rc = [0, 0.5], pr = [0, 0.5] -> AP = 51 * 0.5 / 101 = 25.5/101.
    expect(r.summary.ap).toBeCloseTo(25.5 / 101, 12);
    expect(r.summary.ar100).toBe(0.5);
    expect(r.summary.ar1).toBe(0.5); // one detection per image is enough here

    // No detections at all: AP 0, AR 0 where there is gt, -1 elsewhere (pycocotools itself cannot load
    // an empty results list; this is what its rules give).
    const none = evaluateBboxes(data, []);
    expect(none.stats).toEqual([0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1, 0]);
  });

  it('a detection with the wrong category is a false positive of that category only', () => {
    const data = dataset([1, 2], [gt(1, 1, BIG), gt(2, 2, BIG)], [1, 2]);
    const dets = [
      det(1, 2, BIG, 0.9), // category 2 on image 1's category-1 object
      det(1, 1, BIG, 0.8), // right
      det(2, 2, BIG, 0.7), // right
    ];
    const r = evaluateBboxes(data, dets);
    // category 1: one TP -> 1. category 2: FP (0.9) then TP (0.7): rc = [0, 1], pr = [0, 0.5] -> 0.5 at all r.
    // AP = mean over both categories' 10*101 entries = (1 + 0.5) / 2 = 0.75; AR = 1.
    expect(category(r, 1).ap).toBeCloseTo(1, 12);
    expect(category(r, 2).ap).toBe(0.5);
    expect(r.summary.ap).toBeCloseTo(0.75, 12);
    expect(r.summary.ar100).toBe(1);
    // A category the dataset does not have is dropped, whatever its score.
    const extra = evaluateBboxes(data, [...dets, det(1, 99, BIG, 1)]);
    expect(extra.stats).toEqual(r.stats);
    expect(extra.params.categoryIds).toEqual([1, 2]);
  });

  it('a category without ground truth is -1 and left out of the mean', () => {
    const data = dataset([1], [gt(1, 1, BIG)], [1, 2, 3]);
    const r = evaluateBboxes(data, [det(1, 1, BIG, 0.9), det(1, 3, [300, 300, 10, 10], 0.8)]);
    expect(category(r, 2).ap).toBe(-1); // no gt, no detections
    expect(category(r, 3).ap).toBe(-1); // detections but no gt
    expect(category(r, 3).ar100).toBe(-1);
    expect(r.summary.ap).toBeCloseTo(1, 12);
    expect(r.counts).toEqual([10, 101, 3, 4, 3]);
  });

  it('maxDets: a correct detection at rank 11 counts for AR@100 but not AR@10', () => {
    const data = dataset([1], [gt(1, 1, BIG)]);
    const fps = Array.from({ length: 10 }, (_, n) => det(1, 1, [200 + 20 * n, 300, 10, 10], 0.99 - n * 0.01));
    const r = evaluateBboxes(data, [...fps, det(1, 1, BIG, 0.5)]);
    expect(r.summary.ar1).toBe(0);
    expect(r.summary.ar10).toBe(0);
    expect(r.summary.ar100).toBe(1);
    // maxDets 100: 10 FPs then the TP: rc = [0 x 10, 1], pr = [0 x 10, 1/(11+eps) = 1/11]
    //   -> envelope 1/11 everywhere -> AP = 1/11.
    expect(r.summary.ap).toBeCloseTo(1 / 11, 15);

    // Per image only the 100 best-scored detections are kept: a TP at rank 101 is dropped.
    const many = Array.from({ length: 100 }, (_, n) => det(1, 1, [200 + (n % 20) * 20, 200 + Math.floor(n / 20) * 20, 10, 10], 0.99 - n * 0.001));
    const dropped = evaluateBboxes(data, [det(1, 1, BIG, 0.01), ...many]);
    expect(dropped.summary.ar100).toBe(0);
    expect(dropped.summary.ap).toBe(0);
  });

  it('score ties keep file order within an image (mergesort)', () => {
    const data = dataset([1], [gt(1, 1, BIG)]);
    const hit = det(1, 1, BIG, 0.9);
    const miss = det(1, 1, [300, 300, 50, 50], 0.9);
    // [hit, miss]: TP, FP -> rc = [1, 1], pr = [1, 0.5] -> envelope [1, 0.5], every r takes j=0 -> 1.
    expect(evaluateBboxes(data, [hit, miss]).summary.ap).toBeCloseTo(1, 12);
    // [miss, hit]: FP, TP -> rc = [0, 1], pr = [0, 0.5] -> envelope [0.5, 0.5] -> 0.5.
    expect(evaluateBboxes(data, [miss, hit]).summary.ap).toBe(0.5);
  });

  it('score ties across images follow ascending numeric image id, not file order', () => {
    // Images listed as [10, 2]: pycocotools sorts image ids (np.unique), so image 2 comes first; as
    // strings "10" < "2" would put image 10 first.
    const data = dataset([10, 2], [gt(10, 1, BIG)]);
    const r = evaluateBboxes(data, [det(10, 1, BIG, 0.9), det(2, 1, BIG, 0.9)]);
    // image 2's FP first, then image 10's TP: rc = [0, 1], pr = [0, 0.5] -> AP 0.5.
    expect(r.summary.ap).toBe(0.5);
    expect(r.params.imageIds).toEqual([2, 10]);
  });

  it('a detection matched to a regular gt stops there, even if a crowd gt overlaps it as well', () => {
    // Regular gt and crowd gt with the same box; the detection has IoU 1 with both. Ground truth is
    // sorted regular first; once matched to a regular gt, evaluateImg breaks at the first ignored gt,
    // so the detection is a TP (without that rule it would move to the crowd gt, be ignored, and
    // leave the regular gt missed: AP 0).
    const data = dataset([1], [gt(1, 1, BIG, { iscrowd: 1 }), gt(1, 1, BIG)]);
    const r = evaluateBboxes(data, [det(1, 1, BIG, 0.9)]);
    expect(r.summary.ap).toBeCloseTo(1, 12);
    expect(r.summary.ar100).toBe(1);
  });

  it('a non-crowd gt that is ignored by area is consumed by its first match', () => {
    // Large range: the small gt [0,0,20,20] (area 400) is ignored but not a crowd; two identical
    // detections on it: the first matches it (ignored), the second finds it taken, stays unmatched,
    // has area 400 outside the large range, and is ignored too. A third, large gt is found.
    const data = dataset([1], [gt(1, 1, [0, 0, 20, 20]), gt(1, 1, [100, 100, 200, 200])]);
    const r = evaluateBboxes(data, [det(1, 1, [0, 0, 20, 20], 0.9), det(1, 1, [0, 0, 20, 20], 0.8), det(1, 1, [100, 100, 200, 200], 0.7)]);
    expect(r.summary.apLarge).toBeCloseTo(1, 12);
    // all: npig 2, TP, FP (duplicate), TP -> 253/303 as in the duplicate test.
    expect(r.summary.ap).toBeCloseTo(253 / 303, 12);
  });
});

describe('inputs', () => {
  it('rejects a detection on an image the dataset does not have (pycocotools loadRes asserts)', () => {
    expect(() => evaluateBboxes(dataset([1], []), [det(7, 1, BIG, 0.5)])).toThrow(CocoEvalInputError);
  });

  it('rejects malformed boxes and scores, naming the field', () => {
    expect(() => evaluateBboxes(dataset([1], []), [{ image_id: 1, category_id: 1, bbox: [0, 0, 1], score: 1 }])).toThrow(/detections\[0\]\.bbox/);
    expect(() => evaluateBboxes(dataset([1], []), [det(1, 1, BIG, Number.NaN)])).toThrow(/detections\[0\]\.score/);
  });

  it('ignores the area given on a detection and ground truth outside the image and category lists', () => {
    const data = dataset([1], [gt(1, 1, BIG), gt(5, 1, BIG), gt(1, 9, BIG)]);
    const withArea = { ...det(1, 1, BIG, 0.9), area: 1 } as CocoDetection;
    const r = evaluateBboxes(data, [withArea]);
    expect(r.summary.apLarge).toBeCloseTo(1, 12);
    expect(r.summary.ar100).toBe(1);
  });
});

describe('formatSummary', () => {
  it('prints the lines of COCOeval.summarize()', () => {
    const lines = formatSummary([1, 0.5, 0.25, -1, 0, 0.1234, 0, 0, 0, 0, 0, 0]).split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000');
    expect(lines[3]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000');
    expect(lines[5]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.123');
    expect(lines[6]).toBe(' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.000');
    expect(lines[1]).toBe(' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.500');
  });
});
