// Host-side pieces the two-stage detectors share: a seeded random sampler (mmdetection's
// RandomSampler), greedy NMS, and box helpers on flat [x1, y1, x2, y2, ...] arrays.

import type { Rng } from '@sm-nas/random';
import { iou } from './boxes.js';

/**
 * mmdetection RandomSampler over assigner output (-1 ignore, 0 negative, i + 1 positive): at most
 * num * posFraction positives, negatives fill the rest of `num`.
 */
export function sampleAssigned(assigned: Int32Array, num: number, posFraction: number, rng: Rng): { pos: number[]; neg: number[] } {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < assigned.length; i++) {
    if (assigned[i]! > 0) pos.push(i);
    else if (assigned[i] === 0) neg.push(i);
  }
  const p = rng.choose(pos, Math.floor(num * posFraction));
  const n = rng.choose(neg, num - p.length);
  return { pos: p, neg: n };
}

/** Greedy NMS: indices of `order` (best first) kept, at most `max`, dropping IoU > `iouThr`. */
export function nms(boxes: ArrayLike<number>, order: readonly number[], iouThr: number, max: number): number[] {
  const keep: number[] = [];
  for (const i of order) {
    if (keep.length >= max) break;
    let ok = true;
    for (const j of keep) {
      if (iou(boxes, i, boxes, j) > iouThr) {
        ok = false;
        break;
      }
    }
    if (ok) keep.push(i);
  }
  return keep;
}

/** Indices 0..n-1 sorted by descending score. */
export function argsortDesc(scores: ArrayLike<number>, n = scores.length): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  return idx.sort((a, b) => scores[b]! - scores[a]!);
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
