// Guided-anchoring RPN (Wang et al., "Region Proposal by Guided Anchoring", CVPR 2019; mmdetection
// GARPNHead with ga_rpn_r50_fpn's train/test settings): per location a probability that an object
// centre lies there (loc) and the anchor's shape (dw, dh on an 8-stride square); the features are
// adapted by a 3x3 deformable convolution whose offsets come from the (detached) shape; objectness
// and deltas are predicted for one guided anchor per location. Locations below loc_filter_thr
// propose nothing and take no cls/reg loss.
//
// Targets follow mmdetection: ga_loc_target (centre region 0.2 of a gt on the level its scale maps
// to is positive, its 0.5 region and the same region on adjacent levels ignored, everything else
// negative with weight 0.1; focal loss, averaged over the positive locations rather than mmdetection's
// sum(N H W) / 200, see below), ga_shape_target (ApproxMaxIoUAssigner: a square's IoU with a gt is
// the best of its 9 approximating anchors, 0.7 / 0.3, low-quality matches from IoU 0.3 as the RPN's
// RPN_ASSIGNER; bounded-IoU loss, beta 0.2, on the sampled positives), and a MaxIoU assignment of
// the guided anchors for the RPN losses (cross-entropy; smooth-L1 with beta 1 on deltas with stds
// 0.07 / 0.11).

import * as tf from '@tensorflow/tfjs-core';
import type { LayerGraph } from '@sm-nas/arch/graph';
import type { Rng } from '@sm-nas/random';
import { baseAnchors, iou, type BoxCoderConfig, type FeatureLevel } from './boxes.js';
import { encodeBox } from './boxes.js';
import type { GraphOutputs } from './executor.js';
import { sigmoidFocalLossSum, smoothL1Sum } from './losses.js';
import type { ImageTargets } from './head.js';
import {
  bceSum, featureLevels, flattenLevels, levelData, proposeImage, RPN_ASSIGNER, shiftAnchors,
  type ProposalConfig, type ProposalLoss, type ProposalNetwork,
} from './rpn.js';
import { sampleAssigned, sigmoid } from './sampling.js';

export interface GaRpnConfig {
  octaveBaseScale: number;
  approxScalesPerOctave: number;
  ratios: readonly number[];
  centerRatio: number;
  ignoreRatio: number;
  locFilterThr: number;
  assigner: { posIouThr: number; negIouThr: number; minPosIou: number };
  sampleNum: number;
  posFraction: number;
  /** Shape (anchor) coder and box (proposal) coder stds. */
  anchorCoder: BoxCoderConfig;
  bboxCoder: BoxCoderConfig;
  shapeBeta: number;
  boxBeta: number;
  train: ProposalConfig;
  test: ProposalConfig;
}

export const GA_RPN_DEFAULTS: GaRpnConfig = {
  octaveBaseScale: 8,
  approxScalesPerOctave: 3,
  ratios: [0.5, 1, 2],
  centerRatio: 0.2,
  ignoreRatio: 0.5,
  locFilterThr: 0.01,
  assigner: RPN_ASSIGNER,
  sampleNum: 256,
  posFraction: 0.5,
  anchorCoder: { means: [0, 0, 0, 0], stds: [0.07, 0.07, 0.14, 0.14], whRatioClip: 16 / 1000 },
  bboxCoder: { means: [0, 0, 0, 0], stds: [0.07, 0.07, 0.11, 0.11], whRatioClip: 16 / 1000 },
  shapeBeta: 0.2,
  boxBeta: 1,
  train: { nmsPre: 2000, maxPerImg: 300, iouThr: 0.7 },
  test: { nmsPre: 1000, maxPerImg: 300, iouThr: 0.7 },
};

/**
 * MaxIoUAssigner rules on a precomputed overlap table [n * m] (row-major per anchor): -1 ignore,
 * 0 negative, g + 1 positive; anchors in `invalid` are ignored.
 */
function assignOverlaps(overlaps: Float32Array, n: number, m: number, cfg: GaRpnConfig['assigner'], invalid?: Uint8Array): Int32Array {
  const out = new Int32Array(n);
  if (m === 0) {
    if (invalid) for (let i = 0; i < n; i++) if (invalid[i]) out[i] = -1;
    return out;
  }
  const gtMax = new Float32Array(m);
  for (let i = 0; i < n; i++) {
    if (invalid?.[i]) {
      out[i] = -1;
      continue;
    }
    let best = -1;
    let arg = 0;
    for (let j = 0; j < m; j++) {
      const v = overlaps[i * m + j]!;
      if (v > best) {
        best = v;
        arg = j;
      }
      if (v > gtMax[j]!) gtMax[j] = v;
    }
    out[i] = best < cfg.negIouThr ? 0 : best >= cfg.posIouThr ? arg + 1 : -1;
  }
  for (let j = 0; j < m; j++) {
    const best = gtMax[j]!;
    if (best <= 0 || best < cfg.minPosIou) continue;
    for (let i = 0; i < n; i++) if (!invalid?.[i] && overlaps[i * m + j] === best) out[i] = j + 1;
  }
  return out;
}

export class GaRpn implements ProposalNetwork {
  readonly levels: FeatureLevel[];
  /** Per level: squares [HW * 4] and approximating anchors [HW * A * 4]. */
  private readonly squares: Float32Array[];
  private readonly approx: Float32Array[];
  private readonly approxPer: number;
  private readonly width: number;
  private readonly height: number;

  constructor(graph: LayerGraph, readonly config: GaRpnConfig) {
    this.levels = featureLevels(graph, 'rpn.cls');
    const c = config;
    this.squares = this.levels.map((l) => shiftAnchors(l, levelSquare(2 ** l.level, c.octaveBaseScale)));
    const approxCfg = { octaveBaseScale: c.octaveBaseScale, scalesPerOctave: c.approxScalesPerOctave, ratios: c.ratios };
    this.approx = this.levels.map((l) => shiftAnchors(l, baseAnchors(2 ** l.level, approxCfg)));
    this.approxPer = c.ratios.length * c.approxScalesPerOctave;
    this.width = graph.input.widthPx;
    this.height = graph.input.heightPx;
  }

  /** Guided anchors of image b: squares reshaped by the predicted (dw, dh), and the location mask. */
  private guided(b: number, shape: readonly Float32Array[], loc: readonly Float32Array[]): { anchors: Float32Array[]; valid: Uint8Array[] } {
    const clip = Math.abs(Math.log(this.config.anchorCoder.whRatioClip));
    const [, , sw, sh] = this.config.anchorCoder.stds;
    const anchors: Float32Array[] = [];
    const valid: Uint8Array[] = [];
    this.levels.forEach((l, li) => {
      const hw = l.height * l.width;
      const sq = this.squares[li]!;
      const out = new Float32Array(hw * 4);
      const v = new Uint8Array(hw);
      for (let i = 0; i < hw; i++) {
        const dw = Math.min(clip, Math.max(-clip, shape[li]![(b * hw + i) * 2]! * sw));
        const dh = Math.min(clip, Math.max(-clip, shape[li]![(b * hw + i) * 2 + 1]! * sh));
        const cx = 0.5 * (sq[4 * i]! + sq[4 * i + 2]!);
        const cy = 0.5 * (sq[4 * i + 1]! + sq[4 * i + 3]!);
        const w = (sq[4 * i + 2]! - sq[4 * i]!) * Math.exp(dw);
        const h = (sq[4 * i + 3]! - sq[4 * i + 1]!) * Math.exp(dh);
        out.set([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], 4 * i);
        v[i] = sigmoid(loc[li]![b * hw + i]!) >= this.config.locFilterThr ? 1 : 0;
      }
      anchors.push(out);
      valid.push(v);
    });
    return { anchors, valid };
  }

  /** Every dense output on the host, read together (one wait for a GPU backend). */
  private async read(outputs: GraphOutputs): Promise<GaRpnData> {
    const [cls, reg, shape, loc] = await Promise.all(
      (['rpn.cls', 'rpn.reg', 'rpn.shape', 'rpn.loc'] as const).map((role) => levelData(outputs, role, this.levels)),
    );
    return { n: outputs.get('rpn.cls')!.get(this.levels[0]!.level)!.shape[0], cls: cls!, reg: reg!, shape: shape!, loc: loc! };
  }

  private proposals({ n, cls, reg, shape, loc }: GaRpnData, cfg: ProposalConfig): Float32Array[] {
    const out: Float32Array[] = [];
    for (let b = 0; b < n; b++) {
      const g = this.guided(b, shape, loc);
      const levels = this.levels.map((l, i) => ({
        anchors: g.anchors[i]!, valid: g.valid[i]!, logits: cls[i]!, deltas: reg[i]!, offset: b * l.height * l.width,
      }));
      out.push(proposeImage(levels, this.config.bboxCoder, cfg, this.width, this.height));
    }
    return out;
  }

  async propose(outputs: GraphOutputs): Promise<Float32Array[]> {
    return this.proposals(await this.read(outputs), this.config.test);
  }

  async loss(outputs: GraphOutputs, targets: readonly ImageTargets[], rng: Rng): Promise<ProposalLoss> {
    // Read first: the loss tensors below are then made in one tidy, which cannot span an await.
    const data = await this.read(outputs);
    return { components: tf.tidy(() => this.lossTensors(outputs, targets, rng, data)), proposals: this.proposals(data, this.config.train) };
  }

  private lossTensors(outputs: GraphOutputs, targets: readonly ImageTargets[], rng: Rng, data: GaRpnData): Record<string, tf.Scalar> {
    const c = this.config;
    const n = targets.length;
    const levels = this.levels;
    const sizes = levels.map((l) => l.height * l.width);
    const total = sizes.reduce((a, b) => a + b, 0);
    const levelStart = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    // ---- location targets (flattened per image over levels, like flattenLevels) ----
    const locWeights = new Float32Array(n * total);
    const locPositives: number[] = [];
    const r1 = (1 - c.centerRatio) / 2;
    const r2 = (1 - c.ignoreRatio) / 2;
    const minAnchor = c.octaveBaseScale * 2 ** levels[0]!.level;
    const region = (box: ArrayLike<number>, j: number, ratio: number, li: number): [number, number, number, number] => {
      const s = 2 ** levels[li]!.level;
      const [x1, y1, x2, y2] = [box[4 * j]! / s, box[4 * j + 1]! / s, box[4 * j + 2]! / s, box[4 * j + 3]! / s];
      const cl = (v: number, hi: number) => Math.min(hi, Math.max(0, Math.round(v)));
      const { width: w, height: h } = levels[li]!;
      return [cl((1 - ratio) * x1 + ratio * x2, w - 1), cl((1 - ratio) * y1 + ratio * y2, h - 1), cl(ratio * x1 + (1 - ratio) * x2, w - 1), cl(ratio * y1 + (1 - ratio) * y2, h - 1)];
    };
    targets.forEach((t, b) => {
      const weights = new Float32Array(total).fill(-1);
      const targetMap = new Uint8Array(total);
      const ignoreMap = new Uint8Array(total);
      const m = t.boxes.length / 4;
      const fill = (li: number, rg: [number, number, number, number], f: (k: number) => void) => {
        for (let y = rg[1]; y <= rg[3]; y++) for (let x = rg[0]; x <= rg[2]; x++) f(levelStart[li]! + y * levels[li]!.width + x);
      };
      for (let j = 0; j < m; j++) {
        const scale = Math.sqrt((t.boxes[4 * j + 2]! - t.boxes[4 * j]!) * (t.boxes[4 * j + 3]! - t.boxes[4 * j + 1]!));
        const li = Math.min(levels.length - 1, Math.max(0, Math.floor(Math.log2(scale) - Math.log2(minAnchor) + 0.5)));
        fill(li, region(t.boxes, j, r1, li), (k) => (targetMap[k] = 1));
        fill(li, region(t.boxes, j, r2, li), (k) => (weights[k] = 0));
        fill(li, region(t.boxes, j, r1, li), (k) => (weights[k] = 1));
        if (li > 0) fill(li - 1, region(t.boxes, j, r2, li - 1), (k) => (ignoreMap[k] = 1));
        if (li < levels.length - 1) fill(li + 1, region(t.boxes, j, r2, li + 1), (k) => (ignoreMap[k] = 1));
      }
      for (let k = 0; k < total; k++) {
        if (weights[k]! < 0) weights[k] = ignoreMap[k] ? 0 : 0.1;
        locWeights[b * total + k] = weights[k]!;
        if (targetMap[k]) locPositives.push(b * total + k);
      }
    });
    // Normalised by the positive locations of the batch (at least 1). mmdetection divides by
    // sum(N H W) / 200, about COCO's positive count on its feature maps; on proxy-size inputs (64 px,
    // large objects) that divisor is ~10x too small and the branch dominates and diverges.
    const locAvg = Math.max(locPositives.length, 1);
    const locLogits = flattenLevels(outputs, 'rpn.loc', levels, 1);
    const lossLoc = tf.div(sigmoidFocalLossSum(locLogits, tf.tensor1d(locWeights), tf.tensor1d(locPositives, 'int32')), locAvg) as tf.Scalar;

    // ---- shape targets: squares assigned through their approximating anchors ----
    const shapePos: number[] = [];
    const shapeGt: number[] = [];
    const shapeSq: number[] = [];
    const clsRows: number[] = [];
    const clsLabels: number[] = [];
    const regRows: number[] = [];
    const regDeltas: number[] = [];
    const { shape: shapeData, loc: locData } = data;
    const d = new Float32Array(4);
    targets.forEach((t, b) => {
      const m = t.boxes.length / 4;
      const squares = new Float32Array(total * 4);
      const overlaps = new Float32Array(total * m);
      levels.forEach((_, li) => {
        squares.set(this.squares[li]!, levelStart[li]! * 4);
        const ap = this.approx[li]!;
        for (let i = 0; i < sizes[li]!; i++) {
          for (let j = 0; j < m; j++) {
            let best = 0;
            for (let a = 0; a < this.approxPer; a++) best = Math.max(best, iou(ap, i * this.approxPer + a, t.boxes, j));
            overlaps[(levelStart[li]! + i) * m + j] = best;
          }
        }
      });
      const assigned = assignOverlaps(overlaps, total, m, c.assigner);
      const { pos } = sampleAssigned(assigned, c.sampleNum, c.posFraction, rng);
      for (const i of pos) {
        shapePos.push(b * total + i);
        const g = assigned[i]! - 1;
        shapeGt.push(t.boxes[4 * g]!, t.boxes[4 * g + 1]!, t.boxes[4 * g + 2]!, t.boxes[4 * g + 3]!);
        shapeSq.push(squares[4 * i]!, squares[4 * i + 1]!, squares[4 * i + 2]!, squares[4 * i + 3]!);
      }
      // ---- guided anchors: objectness and deltas ----
      const g = this.guided(b, shapeData, locData);
      const anchors = new Float32Array(total * 4);
      const invalid = new Uint8Array(total);
      levels.forEach((_, li) => {
        anchors.set(g.anchors[li]!, levelStart[li]! * 4);
        for (let i = 0; i < sizes[li]!; i++) invalid[levelStart[li]! + i] = g.valid[li]![i] ? 0 : 1;
      });
      const ov = new Float32Array(total * m);
      for (let i = 0; i < total; i++) for (let j = 0; j < m; j++) ov[i * m + j] = iou(anchors, i, t.boxes, j);
      const ga = assignOverlaps(ov, total, m, c.assigner, invalid);
      const s = sampleAssigned(ga, c.sampleNum, c.posFraction, rng);
      for (const i of s.pos) {
        clsRows.push(b * total + i);
        clsLabels.push(1);
        regRows.push(b * total + i);
        encodeBox(anchors, i, t.boxes, ga[i]! - 1, d, 0, c.bboxCoder);
        regDeltas.push(d[0]!, d[1]!, d[2]!, d[3]!);
      }
      for (const i of s.neg) {
        clsRows.push(b * total + i);
        clsLabels.push(0);
      }
    });

    // bounded IoU loss (mmdetection bounded_iou_loss) of the shape-decoded squares vs their gts
    const shapePred = flattenLevels(outputs, 'rpn.shape', levels, 2);
    let lossShape: tf.Scalar;
    const p = shapePos.length;
    if (p === 0) lossShape = tf.mul(tf.sum(shapePred), 0) as tf.Scalar;
    else {
      lossShape = tf.tidy(() => {
        const [, , sw, sh] = c.anchorCoder.stds;
        const clip = Math.abs(Math.log(c.anchorCoder.whRatioClip));
        const pred = tf.gather(shapePred, tf.tensor1d(shapePos, 'int32'));
        const [dw, dh] = tf.split(tf.clipByValue(tf.mul(pred, tf.tensor1d([sw, sh])), -clip, clip), 2, 1);
        const sqW = tf.tensor2d(shapeSq.filter((_, i) => i % 4 === 0).map((x1, j) => shapeSq[4 * j + 2]! - x1), [p, 1]);
        const sqH = tf.tensor2d(shapeSq.filter((_, i) => i % 4 === 1).map((y1, j) => shapeSq[4 * j + 3]! - y1), [p, 1]);
        const pw = tf.mul(sqW, tf.exp(dw!));
        const ph = tf.mul(sqH, tf.exp(dh!));
        const eps = 1e-3;
        const tw = new Float32Array(p), th = new Float32Array(p), lx = new Float32Array(p), ly = new Float32Array(p);
        for (let j = 0; j < p; j++) {
          tw[j] = shapeGt[4 * j + 2]! - shapeGt[4 * j]!;
          th[j] = shapeGt[4 * j + 3]! - shapeGt[4 * j + 1]!;
          const dx = 0.5 * (shapeGt[4 * j]! + shapeGt[4 * j + 2]!) - 0.5 * (shapeSq[4 * j]! + shapeSq[4 * j + 2]!);
          const dy = 0.5 * (shapeGt[4 * j + 1]! + shapeGt[4 * j + 3]!) - 0.5 * (shapeSq[4 * j + 1]! + shapeSq[4 * j + 3]!);
          lx[j] = 1 - Math.max((tw[j]! - 2 * Math.abs(dx)) / (tw[j]! + 2 * Math.abs(dx) + eps), 0);
          ly[j] = 1 - Math.max((th[j]! - 2 * Math.abs(dy)) / (th[j]! + 2 * Math.abs(dy) + eps), 0);
        }
        const twT = tf.tensor2d(tw, [p, 1]);
        const thT = tf.tensor2d(th, [p, 1]);
        const lw = tf.sub(1, tf.minimum(tf.div(twT, tf.add(pw, eps)), tf.div(pw, tf.add(twT, eps))));
        const lh = tf.sub(1, tf.minimum(tf.div(thT, tf.add(ph, eps)), tf.div(ph, tf.add(thT, eps))));
        const comb = tf.concat([tf.tensor2d(lx, [p, 1]), tf.tensor2d(ly, [p, 1]), lw, lh], 1);
        // smooth-L1 of the combined loss against 0
        return tf.div(smoothL1Sum(comb, tf.zerosLike(comb), c.shapeBeta), p) as tf.Scalar;
      });
    }

    const avg = Math.max(clsRows.length, 1);
    const logits = flattenLevels(outputs, 'rpn.cls', levels, 1);
    const reg = flattenLevels(outputs, 'rpn.reg', levels, 4);
    const lossCls = tf.div(bceSum(logits, Int32Array.from(clsRows), Float32Array.from(clsLabels)), avg) as tf.Scalar;
    let boxSum: tf.Scalar;
    if (regRows.length === 0) boxSum = tf.mul(tf.sum(reg), 0) as tf.Scalar;
    else boxSum = smoothL1Sum(tf.gather(reg, tf.tensor1d(regRows, 'int32')), tf.tensor2d(regDeltas, [regRows.length, 4]), c.boxBeta);
    const lossBox = tf.div(boxSum, avg) as tf.Scalar;
    return { rpn_loc: lossLoc, rpn_shape: lossShape, rpn_cls: lossCls, rpn_box: lossBox };
  }
}

/** The dense outputs of one forward pass on the host, per level; `n` images. */
interface GaRpnData {
  n: number;
  cls: Float32Array[];
  reg: Float32Array[];
  shape: Float32Array[];
  loc: Float32Array[];
}

/** One square anchor per location: side octaveBaseScale x stride, centred on (0, 0). */
function levelSquare(stride: number, scale: number): Float32Array {
  const s = stride * scale;
  return Float32Array.of(-0.5 * s, -0.5 * s, 0.5 * s, 0.5 * s);
}
