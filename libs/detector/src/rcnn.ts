// R-CNN heads on proposals: Faster R-CNN (one stage, class-specific deltas; Ren et al. 2015) and
// Cascade R-CNN (Cai & Vasconcelos 2018: stages trained at rising IoU thresholds on the previous
// stage's refined boxes, class-agnostic deltas, scores averaged over stages at test time), with
// mmdetection's settings: ground truths added to the proposals, MaxIoU assignment at the stage's
// threshold, 512 sampled RoIs per image (a quarter positive at most), softmax cross-entropy over
// K + 1 classes (background last), box loss on positives averaged over all sampled RoIs.

import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@sm-nas/random';
import { assignAnchors, decodeBox, encodeBox, type BoxCoderConfig } from './boxes.js';
import type { GraphExecutor, GraphOutputs, RoiOutputs } from './executor.js';
import { smoothL1Sum } from './losses.js';
import type { Detections, ImageTargets } from './head.js';
import { batchedNms } from './dense-head.js';
import { sampleAssigned } from './sampling.js';

export interface RcnnStageConfig {
  /** Positive (and negative) IoU threshold of the stage's assigner. */
  iouThr: number;
  /** DeltaXYWHBBoxCoder target stds of the stage. */
  stds: readonly [number, number, number, number];
  /** Weight of the stage's losses in the total. */
  lossWeight: number;
}

export interface RcnnConfig {
  stages: readonly RcnnStageConfig[];
  /** One box per RoI (Cascade) or one per class (Faster R-CNN). */
  classAgnostic: boolean;
  /** Smooth-L1 beta on the deltas; 0 = L1 (mmdetection's Faster R-CNN uses L1, Cascade beta 1). */
  boxBeta: number;
  sampleNum: number;
  posFraction: number;
  test: { scoreThr: number; iouThr: number; maxPerImg: number };
}

/** mmdetection faster_rcnn_r50_fpn_1x: IoU 0.5, stds (0.1, 0.1, 0.2, 0.2), L1 loss. */
export const FASTER_RCNN_DEFAULTS: RcnnConfig = {
  stages: [{ iouThr: 0.5, stds: [0.1, 0.1, 0.2, 0.2], lossWeight: 1 }],
  classAgnostic: false,
  boxBeta: 0,
  sampleNum: 512,
  posFraction: 0.25,
  test: { scoreThr: 0.05, iouThr: 0.5, maxPerImg: 100 },
};

/**
 * mmdetection cascade_rcnn_r50_fpn_1x: IoU 0.5 / 0.6 / 0.7, stds halving per stage, stage loss
 * weights 1 / 0.5 / 0.25. A fourth stage (the space allows 2..4) continues the progressions:
 * IoU 0.75, stds (0.025, 0.025, 0.05, 0.05), weight 0.125.
 */
export const CASCADE_STAGES: readonly RcnnStageConfig[] = [
  { iouThr: 0.5, stds: [0.1, 0.1, 0.2, 0.2], lossWeight: 1 },
  { iouThr: 0.6, stds: [0.05, 0.05, 0.1, 0.1], lossWeight: 0.5 },
  { iouThr: 0.7, stds: [0.033, 0.033, 0.067, 0.067], lossWeight: 0.25 },
  { iouThr: 0.75, stds: [0.025, 0.025, 0.05, 0.05], lossWeight: 0.125 },
];

export function cascadeDefaults(stages: number): RcnnConfig {
  return { ...FASTER_RCNN_DEFAULTS, stages: CASCADE_STAGES.slice(0, stages), classAgnostic: true, boxBeta: 1 };
}

function coderOf(stage: RcnnStageConfig): BoxCoderConfig {
  return { means: [0, 0, 0, 0], stds: stage.stds, whRatioClip: 16 / 1000 };
}

/** The sampled RoIs of one stage over the batch and their targets. */
interface StageSample {
  /** [R * 5] batch index, x1, y1, x2, y2. */
  rois: Float32Array;
  /** [R] class 0..K-1, or K for background. */
  labels: Int32Array;
  /** Rows of the positives and their encoded targets [P * 4]. */
  posRows: Int32Array;
  posLabels: Int32Array;
  deltas: Float32Array;
  /** [R] 1 where the RoI is a ground truth added to the proposals (not refined for the next stage). */
  isGt: Uint8Array;
}

export class RcnnHead {
  readonly numClasses: number;

  constructor(
    private readonly executor: GraphExecutor,
    numClasses: number,
    readonly config: RcnnConfig,
    private readonly width: number,
    private readonly height: number,
  ) {
    this.numClasses = numClasses;
    if (executor.rcnnStages !== config.stages.length) {
      throw new Error(`rcnn: the graph has ${executor.rcnnStages} stages, the config ${config.stages.length}`);
    }
  }

  private sample(proposals: readonly Float32Array[], targets: readonly ImageTargets[], stage: RcnnStageConfig, rng: Rng): StageSample {
    const { config } = this;
    const k = this.numClasses;
    const coder = coderOf(stage);
    const rois: number[] = [];
    const labels: number[] = [];
    const isGt: number[] = [];
    const posRows: number[] = [];
    const posLabels: number[] = [];
    const deltas: number[] = [];
    const d = new Float32Array(4);
    targets.forEach((t, n) => {
      // mmdetection adds the ground truths to the proposals (gt first: pos_is_gts marks them).
      const gtCount = t.boxes.length / 4;
      const cand = new Float32Array(t.boxes.length + proposals[n]!.length);
      cand.set(t.boxes);
      cand.set(proposals[n]!, t.boxes.length);
      const assigned = assignAnchors(cand, t.boxes, { posIouThr: stage.iouThr, negIouThr: stage.iouThr, minPosIou: stage.iouThr });
      const { pos, neg } = sampleAssigned(assigned, config.sampleNum, config.posFraction, rng);
      for (const i of pos) {
        const g = assigned[i]! - 1;
        posRows.push(labels.length);
        posLabels.push(t.labels[g]!);
        encodeBox(cand, i, t.boxes, g, d, 0, coder);
        deltas.push(d[0]!, d[1]!, d[2]!, d[3]!);
        rois.push(n, cand[4 * i]!, cand[4 * i + 1]!, cand[4 * i + 2]!, cand[4 * i + 3]!);
        labels.push(t.labels[g]!);
        isGt.push(i < gtCount ? 1 : 0);
      }
      for (const i of neg) {
        rois.push(n, cand[4 * i]!, cand[4 * i + 1]!, cand[4 * i + 2]!, cand[4 * i + 3]!);
        labels.push(k);
        isGt.push(i < gtCount ? 1 : 0);
      }
    });
    return {
      rois: Float32Array.from(rois), labels: Int32Array.from(labels), posRows: Int32Array.from(posRows),
      posLabels: Int32Array.from(posLabels), deltas: Float32Array.from(deltas), isGt: Uint8Array.from(isGt),
    };
  }

  /** The positives' predicted deltas: class-specific heads take the columns of the gt class. */
  private positiveDeltas(reg: tf.Tensor2D, s: StageSample): tf.Tensor2D {
    if (this.config.classAgnostic) return tf.gather(reg, tf.tensor1d(s.posRows, 'int32')) as tf.Tensor2D;
    const k = this.numClasses;
    const flat = tf.reshape(reg, [-1, 4]); // row r * K + class
    return tf.gather(flat, tf.tensor1d(s.posRows.map((r, j) => r * k + s.posLabels[j]!), 'int32')) as tf.Tensor2D;
  }

  private stageLoss(out: RoiOutputs, s: StageSample, stage: RcnnStageConfig): { cls: tf.Scalar; box: tf.Scalar } {
    const r = s.labels.length;
    const k1 = this.numClasses + 1;
    // softmax cross-entropy: logsumexp(x) - x[label], averaged over the sampled RoIs
    const picked = tf.gather(tf.reshape(out.cls, [-1]), tf.tensor1d(s.labels.map((l, i) => i * k1 + l), 'int32'));
    const cls = tf.mul(tf.div(tf.sum(tf.sub(tf.logSumExp(out.cls, 1), picked)), r), stage.lossWeight) as tf.Scalar;
    let boxSum: tf.Scalar;
    if (s.posRows.length === 0) boxSum = tf.mul(tf.sum(out.reg), 0) as tf.Scalar;
    else boxSum = smoothL1Sum(this.positiveDeltas(out.reg, s), tf.tensor2d(s.deltas, [s.posRows.length, 4]), this.config.boxBeta);
    const box = tf.mul(tf.div(boxSum, r), stage.lossWeight) as tf.Scalar;
    return { cls, box };
  }

  /** Boxes refined by a class-agnostic stage (the next stage's proposals), ground truths dropped. */
  private refine(s: StageSample, reg: Float32Array, stage: RcnnStageConfig, images: number): Float32Array[] {
    const per: number[][] = Array.from({ length: images }, () => []);
    const coder = coderOf(stage);
    const box = new Float32Array(4);
    const roi = new Float32Array(4);
    for (let i = 0; i < s.labels.length; i++) {
      if (s.isGt[i]) continue;
      roi.set(s.rois.subarray(5 * i + 1, 5 * i + 5));
      decodeBox(roi, 0, reg, i, box, 0, this.width, this.height, coder);
      if (box[2]! > box[0]! && box[3]! > box[1]!) per[s.rois[5 * i]!]!.push(box[0]!, box[1]!, box[2]!, box[3]!);
    }
    return per.map((p) => Float32Array.from(p));
  }

  /** Losses of every stage (record: inside a gradient). Components `s<t>_cls`, `s<t>_box`. */
  async loss(outputs: GraphOutputs, proposals: readonly Float32Array[], targets: readonly ImageTargets[], rng: Rng, record: boolean): Promise<Record<string, tf.Scalar>> {
    const components: Record<string, tf.Scalar> = {};
    let props = proposals;
    const stages = this.config.stages;
    for (const [t, stage] of stages.entries()) {
      const s = this.sample(props, targets, stage, rng);
      const refines = t + 1 < stages.length;
      // A tidy per stage, and the read of the deltas the next stage starts from after it: a tidy
      // cannot span an await.
      const [cls, box, reg] = tf.tidy(() => {
        const out = this.executor.runRoiStage(t + 1, outputs, s.rois, record);
        const l = this.stageLoss(out, s, stage);
        return refines ? [l.cls, l.box, out.reg] : [l.cls, l.box];
      }) as [tf.Scalar, tf.Scalar, tf.Tensor2D?];
      components[`s${t + 1}_cls`] = cls;
      components[`s${t + 1}_box`] = box;
      if (reg) {
        const data = (await reg.data()) as Float32Array;
        // Freed inside a gradient too: the ops that read it saved their own references for the backward pass.
        reg.dispose();
        props = this.refine(s, data, stage, targets.length);
      }
    }
    return components;
  }

  /**
   * Test: every stage on the previous stage's refined boxes, class scores averaged over the stages
   * (Cascade; one stage for Faster R-CNN), the last stage's boxes; per class score > scoreThr, NMS,
   * at most maxPerImg (mmdetection's multiclass_nms).
   */
  async detect(outputs: GraphOutputs, proposals: readonly Float32Array[]): Promise<Detections[]> {
    const { config } = this;
    const k = this.numClasses;
    const n = proposals.length;
    const rois: number[] = [];
    proposals.forEach((p, b) => {
      for (let i = 0; i < p.length / 4; i++) rois.push(b, p[4 * i]!, p[4 * i + 1]!, p[4 * i + 2]!, p[4 * i + 3]!);
    });
    let cur: Float32Array = Float32Array.from(rois);
    const r = cur.length / 5;
    if (r === 0) return Array.from({ length: n }, () => ({ boxes: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0) }));
    const scores = new Float32Array(r * (k + 1));
    let reg: Float32Array = new Float32Array(0);
    const stages = config.stages.length;
    for (let t = 0; t < stages; t++) {
      const out = this.executor.runRoiStage(t + 1, outputs, cur);
      const p = tf.tidy(() => tf.softmax(out.cls));
      let pd: Float32Array;
      try {
        [pd, reg] = (await Promise.all([p.data(), out.reg.data()])) as [Float32Array, Float32Array];
      } finally {
        tf.dispose([p, out.cls, out.reg]);
      }
      for (let i = 0; i < pd.length; i++) scores[i]! += pd[i]! / stages;
      if (t + 1 < stages) {
        const next = new Float32Array(cur.length);
        const coder = coderOf(config.stages[t]!);
        const box = new Float32Array(4);
        for (let i = 0; i < r; i++) {
          decodeBox(cur.subarray(5 * i + 1, 5 * i + 5), 0, reg, i, box, 0, this.width, this.height, coder);
          next.set([cur[5 * i]!, box[0]!, box[1]!, box[2]!, box[3]!], 5 * i);
        }
        cur = next;
      }
    }
    const coder = coderOf(config.stages[stages - 1]!);
    const perImage = Array.from({ length: n }, () => ({ boxes: [] as number[], scores: [] as number[], labels: [] as number[] }));
    const box = new Float32Array(4);
    for (let i = 0; i < r; i++) {
      const b = cur[5 * i]!;
      const roi = cur.subarray(5 * i + 1, 5 * i + 5);
      for (let c = 0; c < k; c++) {
        const sc = scores[i * (k + 1) + c]!;
        if (!(sc > config.test.scoreThr)) continue;
        decodeBox(roi, 0, reg, config.classAgnostic ? i : i * k + c, box, 0, this.width, this.height, coder);
        const o = perImage[b]!;
        o.boxes.push(box[0]!, box[1]!, box[2]!, box[3]!);
        o.scores.push(sc);
        o.labels.push(c);
      }
    }
    const results: Detections[] = [];
    for (const o of perImage) results.push(await batchedNms(o.boxes, o.scores, o.labels, config.test.iouThr, config.test.maxPerImg));
    return results;
  }
}
