// RetinaNet on top of the executed graph: anchors for the head's levels, targets (MaxIoUAssigner +
// DeltaXYWHBBoxCoder), focal + box losses, and mmdetection's test-time decoding.

import * as tf from '@tensorflow/tfjs-core';
import type { LayerGraph } from '@sm-nas/arch/graph';
import {
  assignAnchors, decodeBox, encodeBox, gridAnchors, iou,
  RETINA_ANCHOR_CONFIG, RETINA_ASSIGNER, RETINA_BOX_CODER,
  type AnchorConfig, type AssignerConfig, type BoxCoderConfig, type FeatureLevel,
} from './boxes.js';
import type { GraphExecutor, GraphOutputs } from './executor.js';
import { denseLevels, denseLossPasses, flattenLevels, nmsPerImage, predictDense } from './dense-head.js';
import type { Detections, DetectorHead, HeadTrainingElements, ImageTargets, LossPass, LossTensors } from './head.js';
import { decodeBoxes, giouLossSum, RETINA_FOCAL, sigmoidFocalLossSum, smoothL1Sum, type FocalLossConfig } from './losses.js';

export type BoxLossKind = 'smooth_l1' | 'giou';

export interface RetinaNetTestConfig {
  /** Candidates per level (mmdetection nms_pre). */
  nmsPre: number;
  scoreThr: number;
  iouThr: number;
  maxPerImg: number;
}

export interface RetinaNetConfig {
  anchors: AnchorConfig;
  assigner: AssignerConfig;
  coder: BoxCoderConfig;
  focal: FocalLossConfig;
  boxLoss: BoxLossKind;
  /** Smooth-L1 beta on the deltas (1/9, Detectron's RetinaNet). */
  smoothL1Beta: number;
  boxLossWeight: number;
  test: RetinaNetTestConfig;
}

export const RETINANET_DEFAULTS: RetinaNetConfig = {
  anchors: RETINA_ANCHOR_CONFIG,
  assigner: RETINA_ASSIGNER,
  coder: RETINA_BOX_CODER,
  focal: RETINA_FOCAL,
  boxLoss: 'smooth_l1',
  smoothL1Beta: 1 / 9,
  boxLossWeight: 1,
  test: { nmsPre: 1000, scoreThr: 0.05, iouThr: 0.5, maxPerImg: 100 },
};

/** Targets of a batch, flattened over (image, anchor). */
export interface RetinaTargets {
  /** [N*A]: 1 for anchors that count (positive or background), 0 for ignored. */
  anchorWeights: Float32Array;
  /** (n*A + a) * K + label of each positive. */
  clsPositives: Int32Array;
  /** n*A + a of each positive. */
  positiveRows: Int32Array;
  /** [P*4] encoded deltas. */
  boxDeltas: Float32Array;
  /** [P*4] the positives' anchors and gt boxes. */
  positiveAnchors: Float32Array;
  positiveGts: Float32Array;
  numPositives: number;
}

export class RetinaNet implements DetectorHead {
  readonly splitsBatches = true;
  readonly levels: FeatureLevel[];
  readonly anchors: Float32Array;
  readonly numAnchors: number;
  readonly anchorsPerLocation: number;
  readonly numClasses: number;
  private readonly width: number;
  private readonly height: number;

  constructor(graph: LayerGraph, readonly config: RetinaNetConfig = RETINANET_DEFAULTS) {
    this.levels = denseLevels(graph);
    this.anchorsPerLocation = config.anchors.ratios.length * config.anchors.scalesPerOctave;
    this.anchors = gridAnchors(this.levels, config.anchors);
    this.numAnchors = this.anchors.length / 4;
    this.numClasses = graph.numClasses;
    this.width = graph.input.widthPx;
    this.height = graph.input.heightPx;
    const cls = graph.nodes[graph.outputs.find((o) => o.role === 'head.cls')!.node]!;
    if (cls.shape[0] !== this.anchorsPerLocation * this.numClasses) {
      throw new Error(`retinanet: head has ${cls.shape[0]} class channels, expected ${this.anchorsPerLocation} x ${this.numClasses}`);
    }
  }

  targets(batch: readonly ImageTargets[]): RetinaTargets {
    const a = this.numAnchors;
    const k = this.numClasses;
    const weights = new Float32Array(batch.length * a);
    const cls: number[] = [];
    const rows: number[] = [];
    const pairs: Array<[number, number, number]> = [];
    batch.forEach((t, n) => {
      if (t.boxes.length !== 4 * t.labels.length) throw new RangeError(`targets: image ${n} has ${t.boxes.length / 4} boxes and ${t.labels.length} labels`);
      const assigned = assignAnchors(this.anchors, t.boxes, this.config.assigner);
      for (let i = 0; i < a; i++) {
        const g = assigned[i]!;
        if (g < 0) continue;
        weights[n * a + i] = 1;
        if (g === 0) continue;
        const label = t.labels[g - 1]!;
        if (!(label >= 0 && label < k)) throw new RangeError(`targets: label ${label} outside 0..${k - 1}`);
        cls.push((n * a + i) * k + label);
        rows.push(n * a + i);
        pairs.push([n, i, g - 1]);
      }
    });
    const p = pairs.length;
    const boxDeltas = new Float32Array(p * 4);
    const positiveAnchors = new Float32Array(p * 4);
    const positiveGts = new Float32Array(p * 4);
    pairs.forEach(([n, i, g], j) => {
      const gts = batch[n]!.boxes;
      encodeBox(this.anchors, i, gts, g, boxDeltas, j, this.config.coder);
      positiveAnchors.set(this.anchors.subarray(4 * i, 4 * i + 4), 4 * j);
      positiveGts.set(gts.subarray(4 * g, 4 * g + 4), 4 * j);
    });
    return {
      anchorWeights: weights, clsPositives: Int32Array.from(cls), positiveRows: Int32Array.from(rows),
      boxDeltas, positiveAnchors, positiveGts, numPositives: p,
    };
  }

  /**
   * Float32 elements one image adds to a training step beyond the graph's image-level steps
   * (HeadTrainingElements): the focal loss's per-(anchor, class) tensors (the flattened logits,
   * sigmoid, power, softplus, products) and their gradients, ~24 per logit as measured on the wasm
   * heap (a ResNet-18 RetinaNet at 512x512 took 396 MB more an image with 80 classes than with 3: 26
   * per logit, of which the estimate's share of the class convolution's output is ~2); the box
   * branch's few per anchor.
   */
  trainingElements(): HeadTrainingElements {
    return { forward: 0, gradient: 0, loss: this.numAnchors * (24 * this.numClasses + 4 * 4) };
  }

  lossPasses(executor: GraphExecutor, targets: readonly ImageTargets[], chunks: readonly number[]): LossPass[] {
    return denseLossPasses(targets, chunks, (b) => this.targets(b), (images, t, normalizer) => {
      const l = this.loss(executor.forward(images, true), t, normalizer);
      return { total: l.total, components: { cls: l.cls, box: l.box } };
    });
  }

  async evalLoss(executor: GraphExecutor, images: tf.Tensor4D, targets: readonly ImageTargets[]): Promise<LossTensors> {
    const t = this.targets(targets);
    return tf.tidy(() => {
      const l = this.loss(executor.forward(images, true), t);
      return { total: l.total, components: { cls: l.cls, box: l.box } };
    });
  }

  predict(executor: GraphExecutor, images: tf.Tensor4D): Promise<Detections[]> {
    return predictDense(executor, images, (outputs) => this.detect(outputs));
  }

  /**
   * Focal + box losses, each normalised by the number of positives (at least 1), or by `normalizer`:
   * a batch split into micro-batches passes the whole batch's, so that their losses (and
   * gradients) add up to the batch's.
   */
  loss(outputs: GraphOutputs, targets: RetinaTargets, normalizer = Math.max(targets.numPositives, 1)): { total: tf.Scalar; cls: tf.Scalar; box: tf.Scalar } {
    const { config } = this;
    const logits = flattenLevels(outputs, 'head.cls', this.levels, this.numClasses);
    const deltas = flattenLevels(outputs, 'head.reg', this.levels, 4);
    const cls = tf.div(
      sigmoidFocalLossSum(logits, tf.tensor1d(targets.anchorWeights), tf.tensor1d(targets.clsPositives, 'int32'), config.focal),
      normalizer,
    ) as tf.Scalar;
    let boxSum: tf.Scalar;
    if (targets.numPositives === 0) {
      boxSum = tf.mul(tf.sum(deltas), 0) as tf.Scalar; // keeps the regression branch in the gradient
    } else {
      const p = targets.numPositives;
      const pred = tf.gather(deltas, tf.tensor1d(targets.positiveRows, 'int32')) as tf.Tensor2D;
      if (config.boxLoss === 'giou') {
        const boxes = decodeBoxes(tf.tensor2d(targets.positiveAnchors, [p, 4]), pred, config.coder);
        boxSum = giouLossSum(boxes, tf.tensor2d(targets.positiveGts, [p, 4]));
      } else {
        boxSum = smoothL1Sum(pred, tf.tensor2d(targets.boxDeltas, [p, 4]), config.smoothL1Beta);
      }
    }
    const box = tf.mul(tf.div(boxSum, normalizer), config.boxLossWeight) as tf.Scalar;
    return { total: tf.add(cls, box) as tf.Scalar, cls, box };
  }

  /**
   * mmdetection's RetinaHead test path: per level the top `nmsPre` (anchor, class) scores above
   * `scoreThr`, their boxes decoded and clipped to the input, then class-wise NMS (one NMS over
   * class-offset boxes, mmcv's batched_nms) keeping `maxPerImg`.
   */
  async detect(outputs: GraphOutputs): Promise<Detections[]> {
    const { test } = this.config;
    const clsOut = outputs.get('head.cls')!;
    const regOut = outputs.get('head.reg')!;
    const n = clsOut.get(this.levels[0]!.level)!.shape[0];
    const k = this.numClasses;
    const perImage = Array.from({ length: n }, () => ({ boxes: [] as number[], scores: [] as number[], labels: [] as number[] }));
    let anchorBase = 0;
    const decoded = new Float32Array(4);
    for (const level of this.levels) {
      const cls = clsOut.get(level.level)!;
      const reg = regOut.get(level.level)!;
      const count = level.height * level.width * this.anchorsPerLocation * k;
      const top = Math.min(test.nmsPre, count);
      const { values, indices } = tf.tidy(() => tf.topk(tf.sigmoid(tf.reshape(cls, [n, count])), top, true));
      const [scores, idx, deltas] = await Promise.all([values.data(), indices.data(), reg.data()]);
      values.dispose();
      indices.dispose();
      const perImageDeltas = level.height * level.width * this.anchorsPerLocation;
      for (let b = 0; b < n; b++) {
        const out = perImage[b]!;
        for (let j = 0; j < top; j++) {
          const s = scores[b * top + j]!;
          if (!(s > test.scoreThr)) break; // sorted
          const flat = idx[b * top + j]!;
          const anchor = Math.floor(flat / k);
          decodeBox(this.anchors, anchorBase + anchor, deltas, b * perImageDeltas + anchor, decoded, 0, this.width, this.height, this.config.coder);
          out.boxes.push(decoded[0]!, decoded[1]!, decoded[2]!, decoded[3]!);
          out.scores.push(s);
          out.labels.push(flat % k);
        }
      }
      anchorBase += perImageDeltas;
    }
    return nmsPerImage(perImage, test);
  }
}

/** Octave base scales `fitAnchorScale` chooses from: mmdetection's 4 and smaller anchors for small objects. */
export const ANCHOR_SCALE_CANDIDATES: readonly number[] = [4, 3, 2, 1.5];

/**
 * The anchor octave base scale that matches a dataset's objects on these levels: the candidate
 * under which the most ground-truth boxes have an anchor of IoU >= the assigner's positive
 * threshold (ties keep the earlier candidate, so mmdetection's 4 when it fits). mmdetection's
 * anchors (32 px and up at P3) suit COCO at full resolution; a detector trained at a small input
 * sees small objects: on the built-in shapes set at 64x64 only 34% of the boxes reach IoU 0.5 with
 * any anchor of scale 4, and 85% with scale 2 (bench/RESULTS.md, "Learning"), and a box with no
 * good anchor is learnt from low-quality matches alone.
 * @param boxes per image, [x1, y1, x2, y2, ...] in input pixels
 */
export function fitAnchorScale(
  levels: readonly FeatureLevel[],
  boxes: readonly ArrayLike<number>[],
  base: AnchorConfig = RETINA_ANCHOR_CONFIG,
  posIouThr: number = RETINA_ASSIGNER.posIouThr,
  candidates: readonly number[] = ANCHOR_SCALE_CANDIDATES,
): { octaveBaseScale: number; coverage: Map<number, number> } {
  const coverage = new Map<number, number>();
  let best = candidates[0]!;
  for (const scale of candidates) {
    const anchors = gridAnchors(levels, { ...base, octaveBaseScale: scale });
    const n = anchors.length / 4;
    let total = 0;
    let covered = 0;
    for (const b of boxes) {
      for (let j = 0; j < b.length / 4; j++) {
        total++;
        for (let i = 0; i < n; i++) {
          if (iou(anchors, i, b, j) >= posIouThr) {
            covered++;
            break;
          }
        }
      }
    }
    const fraction = total > 0 ? covered / total : 0;
    coverage.set(scale, fraction);
    if (fraction > coverage.get(best)!) best = scale;
  }
  return { octaveBaseScale: best, coverage };
}
