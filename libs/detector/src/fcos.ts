// FCOS on top of the executed graph, as torchvision's FCOS (0.14): one point per location of each
// level (its centre at x·stride, y·stride, its size the stride), targets by centre sampling (radius
// 1.5 strides) within each level's scale range, the smallest matching box winning; sigmoid focal
// loss on the classes, GIoU on the boxes decoded from the distances to their sides (scaled by the
// stride) and binary cross-entropy on centerness, each summed over the batch and divided by its
// number of foreground points.

import * as tf from '@tensorflow/tfjs-core';
import type { LayerGraph } from '@sm-nas/arch/graph';
import type { FeatureLevel } from './boxes.js';
import type { GraphExecutor, GraphOutputs } from './executor.js';
import { denseLevels, denseLossPasses, flattenLevels, nmsPerImage, predictDense } from './dense-head.js';
import type { Detections, DetectorHead, HeadTrainingElements, ImageTargets, LossPass, LossTensors } from './head.js';
import { giouLossSum, RETINA_FOCAL, sigmoidFocalLossSum, type FocalLossConfig } from './losses.js';

export interface FcosTestConfig {
  /** Candidates per level (torchvision topk_candidates). */
  nmsPre: number;
  /** On sqrt(class probability x centerness); torchvision's 0.2 hides most of an early model, so mmdetection's 0.05. */
  scoreThr: number;
  iouThr: number;
  maxPerImg: number;
}

export interface FcosConfig {
  /** A point matches a box whose centre is within this many strides (torchvision center_sampling_radius). */
  centerSamplingRadius: number;
  focal: FocalLossConfig;
  test: FcosTestConfig;
}

export const FCOS_DEFAULTS: FcosConfig = {
  centerSamplingRadius: 1.5,
  focal: RETINA_FOCAL,
  test: { nmsPre: 1000, scoreThr: 0.05, iouThr: 0.6, maxPerImg: 100 },
};

/** Targets of a batch, flattened over (image, point). */
export interface FcosTargets {
  /** (n*P + p) * K + label of each foreground point. */
  clsPositives: Int32Array;
  /** n*P + p of each foreground point. */
  positiveRows: Int32Array;
  /** [F*4] the foreground points' boxes (x1, y1, x2, y2 of the point, stride wide) and gt boxes. */
  positivePoints: Float32Array;
  positiveGts: Float32Array;
  /** [F] sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)) of each foreground point. */
  centerness: Float32Array;
  numPositives: number;
}

export class Fcos implements DetectorHead {
  readonly splitsBatches = true;
  readonly levels: FeatureLevel[];
  /** [P*4] each point as torchvision's anchor: its centre ± stride / 2. */
  readonly points: Float32Array;
  readonly numPoints: number;
  readonly numClasses: number;
  /** Scale range of each point: the largest distance to a side of its box must be in (lower, upper). */
  private readonly lower: Float32Array;
  private readonly upper: Float32Array;
  private readonly width: number;
  private readonly height: number;

  constructor(graph: LayerGraph, readonly config: FcosConfig = FCOS_DEFAULTS) {
    this.levels = denseLevels(graph);
    this.numClasses = graph.numClasses;
    this.width = graph.input.widthPx;
    this.height = graph.input.heightPx;
    this.numPoints = this.levels.reduce((sum, l) => sum + l.height * l.width, 0);
    this.points = new Float32Array(this.numPoints * 4);
    this.lower = new Float32Array(this.numPoints);
    this.upper = new Float32Array(this.numPoints);
    let i = 0;
    this.levels.forEach((l, li) => {
      const stride = 2 ** l.level;
      // torchvision: sizes 4 and 8 strides bound each level; the first has no lower bound, the last no upper.
      const lower = li === 0 ? 0 : 4 * stride;
      const upper = li === this.levels.length - 1 ? Infinity : 8 * stride;
      for (let y = 0; y < l.height; y++) {
        for (let x = 0; x < l.width; x++, i++) {
          this.points.set([x * stride - stride / 2, y * stride - stride / 2, x * stride + stride / 2, y * stride + stride / 2], 4 * i);
          this.lower[i] = lower;
          this.upper[i] = upper;
        }
      }
    });
  }

  /** torchvision FCOSHead's matching: the gt box (index) of each point, or -1 for background. */
  match(boxes: ArrayLike<number>): Int32Array {
    const m = boxes.length / 4;
    const out = new Int32Array(this.numPoints).fill(-1);
    const radius = this.config.centerSamplingRadius;
    for (let i = 0; i < this.numPoints; i++) {
      const x1 = this.points[4 * i]!;
      const size = this.points[4 * i + 2]! - x1;
      const cx = x1 + size / 2;
      const cy = this.points[4 * i + 1]! + size / 2;
      let best = -1;
      let bestArea = Infinity;
      for (let g = 0; g < m; g++) {
        const gx1 = boxes[4 * g]!;
        const gy1 = boxes[4 * g + 1]!;
        const gx2 = boxes[4 * g + 2]!;
        const gy2 = boxes[4 * g + 3]!;
        if (Math.max(Math.abs(cx - (gx1 + gx2) / 2), Math.abs(cy - (gy1 + gy2) / 2)) >= radius * size) continue;
        const l = cx - gx1;
        const t = cy - gy1;
        const r = gx2 - cx;
        const b = gy2 - cy;
        if (Math.min(l, t, r, b) <= 0) continue;
        const reach = Math.max(l, t, r, b);
        if (!(reach > this.lower[i]! && reach < this.upper[i]!)) continue;
        const area = (gx2 - gx1) * (gy2 - gy1);
        if (area < bestArea) {
          best = g;
          bestArea = area;
        }
      }
      out[i] = best;
    }
    return out;
  }

  targets(batch: readonly ImageTargets[]): FcosTargets {
    const p = this.numPoints;
    const k = this.numClasses;
    const cls: number[] = [];
    const rows: number[] = [];
    const points: number[] = [];
    const gts: number[] = [];
    const centerness: number[] = [];
    batch.forEach((t, n) => {
      if (t.boxes.length !== 4 * t.labels.length) throw new RangeError(`targets: image ${n} has ${t.boxes.length / 4} boxes and ${t.labels.length} labels`);
      const matched = this.match(t.boxes);
      for (let i = 0; i < p; i++) {
        const g = matched[i]!;
        if (g < 0) continue;
        const label = t.labels[g]!;
        if (!(label >= 0 && label < k)) throw new RangeError(`targets: label ${label} outside 0..${k - 1}`);
        cls.push((n * p + i) * k + label);
        rows.push(n * p + i);
        const box = t.boxes.subarray(4 * g, 4 * g + 4);
        const pt = this.points.subarray(4 * i, 4 * i + 4);
        points.push(...pt);
        gts.push(...box);
        const cx = (pt[0]! + pt[2]!) / 2;
        const cy = (pt[1]! + pt[3]!) / 2;
        const [l, t2, r, b] = [cx - box[0]!, cy - box[1]!, box[2]! - cx, box[3]! - cy];
        centerness.push(Math.sqrt((Math.min(l, r) / Math.max(l, r)) * (Math.min(t2, b) / Math.max(t2, b))));
      }
    });
    return {
      clsPositives: Int32Array.from(cls), positiveRows: Int32Array.from(rows),
      positivePoints: Float32Array.from(points), positiveGts: Float32Array.from(gts),
      centerness: Float32Array.from(centerness), numPositives: rows.length,
    };
  }

  /**
   * Float32 elements one image adds to a training step beyond the graph's: the focal loss's
   * per-(point, class) tensors and their gradients (~24 per logit, as RetinaNet's), and a few per
   * point for the box and centerness branches.
   */
  trainingElements(): HeadTrainingElements {
    return { forward: 0, gradient: 0, loss: this.numPoints * (24 * this.numClasses + 4 * 4 + 4) };
  }

  lossPasses(executor: GraphExecutor, targets: readonly ImageTargets[], chunks: readonly number[]): LossPass[] {
    return denseLossPasses(targets, chunks, (b) => this.targets(b), (images, t, normalizer) => this.loss(executor.forward(images, true), t, normalizer));
  }

  async evalLoss(executor: GraphExecutor, images: tf.Tensor4D, targets: readonly ImageTargets[]): Promise<LossTensors> {
    const t = this.targets(targets);
    return tf.tidy(() => this.loss(executor.forward(images, true), t));
  }

  predict(executor: GraphExecutor, images: tf.Tensor4D): Promise<Detections[]> {
    return predictDense(executor, images, (outputs) => this.detect(outputs));
  }

  /** torchvision FCOSHead.compute_loss; every part divided by the foreground count (at least 1) or `normalizer`. */
  loss(outputs: GraphOutputs, targets: FcosTargets, normalizer = Math.max(targets.numPositives, 1)): LossTensors {
    const logits = flattenLevels(outputs, 'head.cls', this.levels, this.numClasses);
    const distances = flattenLevels(outputs, 'head.reg', this.levels, 4);
    const ctrLogits = flattenLevels(outputs, 'head.centerness', this.levels, 1);
    const everyPoint = tf.ones([logits.shape[0]]) as tf.Tensor1D;
    const cls = tf.div(sigmoidFocalLossSum(logits, everyPoint, tf.tensor1d(targets.clsPositives, 'int32'), this.config.focal), normalizer) as tf.Scalar;
    let box: tf.Scalar;
    let centerness: tf.Scalar;
    const f = targets.numPositives;
    if (f === 0) {
      // Nothing to regress: zero losses that keep both branches in the gradient.
      box = tf.mul(tf.sum(distances), 0) as tf.Scalar;
      centerness = tf.mul(tf.sum(ctrLogits), 0) as tf.Scalar;
    } else {
      const rows = tf.tensor1d(targets.positiveRows, 'int32');
      const points = tf.tensor2d(targets.positivePoints, [f, 4]);
      const boxes = decodeDistances(points, tf.gather(distances, rows) as tf.Tensor2D);
      box = tf.div(giouLossSum(boxes, tf.tensor2d(targets.positiveGts, [f, 4])), normalizer) as tf.Scalar;
      const x = tf.reshape(tf.gather(ctrLogits, rows), [f]);
      // Binary cross-entropy with logits: softplus(x) - x * target.
      const bce = tf.sub(tf.softplus(x), tf.mul(x, tf.tensor1d(targets.centerness)));
      centerness = tf.div(tf.sum(bce), normalizer) as tf.Scalar;
    }
    return { total: tf.addN([cls, box, centerness]) as tf.Scalar, components: { cls, box, centerness } };
  }

  /**
   * torchvision FCOS postprocess: per level the top `nmsPre` (point, class) scores
   * sqrt(sigmoid(class) x sigmoid(centerness)) above `scoreThr`, their boxes decoded and clipped
   * to the input, then class-wise NMS keeping `maxPerImg`.
   */
  async detect(outputs: GraphOutputs): Promise<Detections[]> {
    const { test } = this.config;
    const clsOut = outputs.get('head.cls')!;
    const regOut = outputs.get('head.reg')!;
    const ctrOut = outputs.get('head.centerness')!;
    const n = clsOut.get(this.levels[0]!.level)!.shape[0];
    const k = this.numClasses;
    const perImage = Array.from({ length: n }, () => ({ boxes: [] as number[], scores: [] as number[], labels: [] as number[] }));
    let pointBase = 0;
    for (const level of this.levels) {
      const count = level.height * level.width;
      const top = Math.min(test.nmsPre, count * k);
      const { values, indices } = tf.tidy(() => {
        const probs = tf.sigmoid(tf.reshape(clsOut.get(level.level)!, [n, count, k]));
        const ctr = tf.sigmoid(tf.reshape(ctrOut.get(level.level)!, [n, count, 1]));
        return tf.topk(tf.reshape(tf.sqrt(tf.mul(probs, ctr)), [n, count * k]), top, true);
      });
      const [scores, idx, dist] = await Promise.all([values.data(), indices.data(), regOut.get(level.level)!.data()]);
      values.dispose();
      indices.dispose();
      for (let b = 0; b < n; b++) {
        const out = perImage[b]!;
        for (let j = 0; j < top; j++) {
          const s = scores[b * top + j]!;
          if (!(s > test.scoreThr)) break; // sorted
          const flat = idx[b * top + j]!;
          const p = Math.floor(flat / k);
          const pt = 4 * (pointBase + p);
          const size = this.points[pt + 2]! - this.points[pt]!;
          const cx = this.points[pt]! + size / 2;
          const cy = this.points[pt + 1]! + size / 2;
          const d = 4 * (b * count + p);
          out.boxes.push(
            clip(cx - dist[d]! * size, this.width), clip(cy - dist[d + 1]! * size, this.height),
            clip(cx + dist[d + 2]! * size, this.width), clip(cy + dist[d + 3]! * size, this.height),
          );
          out.scores.push(s);
          out.labels.push(flat % k);
        }
      }
      pointBase += count;
    }
    return nmsPerImage(perImage, test);
  }
}

const clip = (v: number, max: number): number => Math.min(Math.max(v, 0), max);

/** torchvision BoxLinearCoder(normalize_by_size=True).decode: distances [P, 4] in point sizes from the points' centres. */
export function decodeDistances(points: tf.Tensor2D, distances: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = tf.split(points, 4, 1);
    const size = tf.sub(x2!, x1!);
    const cx = tf.add(x1!, tf.mul(size, 0.5));
    const cy = tf.add(y1!, tf.mul(tf.sub(y2!, y1!), 0.5));
    const [l, t, r, b] = tf.split(tf.mul(distances, size), 4, 1);
    return tf.concat([tf.sub(cx, l!), tf.sub(cy, t!), tf.add(cx, r!), tf.add(cy, b!)], 1) as tf.Tensor2D;
  });
}
