// The region proposal network (Ren et al., Faster R-CNN) on top of the executed graph: anchors per
// level (mmdetection: scale 8 x 3 ratios on FPN levels; scales 2..32 x 3 ratios on C4), MaxIoU
// assignment (0.7 / 0.3, low-quality matches from IoU 0.3: RPN_ASSIGNER), 256 sampled anchors per
// image (half positive at most), sigmoid cross-entropy + L1 on deltas, and proposals: per level
// the top `nmsPre` anchors, decoded, NMS 0.7 per level, the best `maxPerImg` of the image.

import * as tf from '@tensorflow/tfjs-core';
import type { LayerGraph } from '@sm-nas/arch/graph';
import type { Rng } from '@sm-nas/random';
import { assignAnchors, decodeBox, encodeBox, type AssignerConfig, type BoxCoderConfig, type FeatureLevel } from './boxes.js';
import type { GraphOutputs } from './executor.js';
import { smoothL1Sum } from './losses.js';
import type { ImageTargets } from './head.js';
import { argsortDesc, nms, sampleAssigned, sigmoid } from './sampling.js';

export interface ProposalConfig {
  /** Top anchors per level before NMS (mmdetection nms_pre). */
  nmsPre: number;
  /** Proposals kept per image (max_per_img). */
  maxPerImg: number;
  iouThr: number;
}

export interface RpnConfig {
  /** Anchor sides in units of the level's stride (square anchors before the ratios). */
  scales: readonly number[];
  /** h / w. */
  ratios: readonly number[];
  assigner: AssignerConfig;
  sampleNum: number;
  posFraction: number;
  coder: BoxCoderConfig;
  /** L1 weight on the deltas (mmdetection RPNHead: L1Loss, 1.0). */
  boxLossWeight: number;
  train: ProposalConfig;
  test: ProposalConfig;
}

const UNIT_CODER: BoxCoderConfig = { means: [0, 0, 0, 0], stds: [1, 1, 1, 1], whRatioClip: 16 / 1000 };

/**
 * The proposal networks' anchor assignment (mmdetection's): positive at IoU >= 0.7, background <
 * 0.3, and each ground truth also takes its best anchors when their IoU is >= 0.3. On the built-in
 * shapes set at 128x128, 38% of the boxes (8-64 px) have no anchor (32 px and up) at IoU 0.3;
 * matching them anyway (torchvision's allow_low_quality_matches at any IoU, `minPosIou: 0`) was
 * measured and learns slower: Faster R-CNN-R18-FPN AP50 0.10 / 0.30 / 0.51 after 2 / 3 / 5 minutes
 * against 0.30 / 0.43 / 0.57 with 0.3 (bench/RESULTS.md, "Two-stage detectors", 2026-12-03).
 */
export const RPN_ASSIGNER: AssignerConfig = { posIouThr: 0.7, negIouThr: 0.3, minPosIou: 0.3 };

/** mmdetection faster_rcnn_r50_fpn's rpn (anchor scales [8]) and train/test proposal settings. */
export const RPN_FPN_DEFAULTS: RpnConfig = {
  scales: [8],
  ratios: [0.5, 1, 2],
  assigner: RPN_ASSIGNER,
  sampleNum: 256,
  posFraction: 0.5,
  coder: UNIT_CODER,
  boxLossWeight: 1,
  train: { nmsPre: 2000, maxPerImg: 1000, iouThr: 0.7 },
  test: { nmsPre: 1000, maxPerImg: 1000, iouThr: 0.7 },
};

/** mmdetection faster_rcnn_r50_caffe_c4: one stride-16 level, scales 2, 4, 8, 16, 32. */
export const RPN_C4_DEFAULTS: RpnConfig = {
  ...RPN_FPN_DEFAULTS,
  scales: [2, 4, 8, 16, 32],
  train: { nmsPre: 12000, maxPerImg: 2000, iouThr: 0.7 },
  test: { nmsPre: 6000, maxPerImg: 1000, iouThr: 0.7 },
};

/** Anchors of one level centred on (0, 0), ratio-major, scale-minor (mmdetection's order). */
export function levelBaseAnchors(stride: number, scales: readonly number[], ratios: readonly number[]): Float32Array {
  const out = new Float32Array(ratios.length * scales.length * 4);
  let o = 0;
  for (const r of ratios) {
    const hr = Math.sqrt(r);
    const wr = 1 / hr;
    for (const s of scales) {
      const w = stride * wr * s;
      const h = stride * hr * s;
      out.set([-0.5 * w, -0.5 * h, 0.5 * w, 0.5 * h], o);
      o += 4;
    }
  }
  return out;
}

/** Base anchors shifted over one level's grid, location-major (NHWC order), centred at (x s, y s). */
export function shiftAnchors(level: FeatureLevel, base: Float32Array): Float32Array {
  const a = base.length / 4;
  const stride = 2 ** level.level;
  const out = new Float32Array(level.height * level.width * a * 4);
  let o = 0;
  for (let y = 0; y < level.height; y++) {
    for (let x = 0; x < level.width; x++) {
      for (let i = 0; i < 4 * a; i += 4) {
        out[o++] = base[i]! + x * stride;
        out[o++] = base[i + 1]! + y * stride;
        out[o++] = base[i + 2]! + x * stride;
        out[o++] = base[i + 3]! + y * stride;
      }
    }
  }
  return out;
}

export function featureLevels(graph: LayerGraph, role: string): FeatureLevel[] {
  return graph.outputs
    .filter((o) => o.role === role)
    .sort((a, b) => a.index - b.index)
    .map((o) => ({ level: o.index, height: graph.nodes[o.node]!.shape[1], width: graph.nodes[o.node]!.shape[2] }));
}

/** Per-level inputs of proposal generation for one image. */
export interface LevelCandidates {
  /** [M * 4] anchors (or guided anchors) of the level. */
  anchors: Float32Array;
  /** [M] objectness logits. */
  logits: ArrayLike<number>;
  /** Offset of this image's logits / deltas in the arrays below. */
  offset: number;
  /** [.. * 4] deltas, anchor i of this image at (offset + i) * 4. */
  deltas: ArrayLike<number>;
  /** [M] 0 to skip an anchor (GA's location filter); all valid when absent. */
  valid?: Uint8Array;
}

/**
 * Proposals of one image: per level the top `nmsPre` valid anchors by objectness, decoded (clipped
 * to the image, empty boxes dropped), NMS per level (mmcv batched_nms with level ids), then the
 * best `maxPerImg` over all levels. Returns [P * 4] boxes, best first.
 */
export function proposeImage(levels: readonly LevelCandidates[], coder: BoxCoderConfig, cfg: ProposalConfig, width: number, height: number): Float32Array {
  const boxes: number[] = [];
  const scores: number[] = [];
  const tmp = new Float32Array(4);
  for (const lv of levels) {
    const m = lv.anchors.length / 4;
    const cand: number[] = [];
    for (let i = 0; i < m; i++) if (!lv.valid || lv.valid[i]) cand.push(i);
    cand.sort((a, b) => lv.logits[lv.offset + b]! - lv.logits[lv.offset + a]!);
    const top = cand.slice(0, cfg.nmsPre);
    const lb: number[] = [];
    const ls: number[] = [];
    for (const i of top) {
      decodeBox(lv.anchors, i, lv.deltas, lv.offset + i, tmp, 0, width, height, coder);
      if (!(tmp[2]! > tmp[0]! && tmp[3]! > tmp[1]!)) continue;
      lb.push(tmp[0]!, tmp[1]!, tmp[2]!, tmp[3]!);
      ls.push(sigmoid(lv.logits[lv.offset + i]!));
    }
    const keep = nms(lb, argsortDesc(ls), cfg.iouThr, cfg.maxPerImg);
    for (const k of keep) {
      boxes.push(lb[4 * k]!, lb[4 * k + 1]!, lb[4 * k + 2]!, lb[4 * k + 3]!);
      scores.push(ls[k]!);
    }
  }
  const order = argsortDesc(scores).slice(0, cfg.maxPerImg);
  const out = new Float32Array(order.length * 4);
  order.forEach((k, j) => out.set(boxes.slice(4 * k, 4 * k + 4), 4 * j));
  return out;
}

/** What a proposal network gives the R-CNN heads during training. */
export interface ProposalLoss {
  components: Record<string, tf.Scalar>;
  /** Per image [P * 4] proposals (constants: no gradient flows through them). */
  proposals: Float32Array[];
}

export interface ProposalNetwork {
  /** Losses on `targets` (no other tensor is left behind) and the training proposals. */
  loss(outputs: GraphOutputs, targets: readonly ImageTargets[], rng: Rng): Promise<ProposalLoss>;
  /** Test-time proposals per image. */
  propose(outputs: GraphOutputs): Promise<Float32Array[]>;
}

/**
 * Host data of a dense per-level output, one array per level: [N, H, W, C] -> data, with C per
 * location. The levels are read together, so a GPU backend is waited for once, not once per level.
 */
export async function levelData(outputs: GraphOutputs, role: 'rpn.cls' | 'rpn.reg' | 'rpn.loc' | 'rpn.shape', levels: readonly FeatureLevel[]): Promise<Float32Array[]> {
  const m = outputs.get(role);
  if (!m) throw new Error(`rpn: no ${role} outputs`);
  return (await Promise.all(levels.map((l) => m.get(l.level)!.data()))) as Float32Array[];
}

/** The outputs of `role` flattened to [N * sum(H W A), per] in (image, level, location, anchor) order. */
export function flattenLevels(outputs: GraphOutputs, role: string, levels: readonly FeatureLevel[], per: number): tf.Tensor2D {
  const m = outputs.get(role as never)!;
  const parts = levels.map((l) => {
    const t = m.get(l.level)!;
    return tf.reshape(t, [t.shape[0], -1, per]);
  });
  const all = parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
  return tf.reshape(all, [-1, per]);
}

/** Sigmoid cross-entropy of `logits` (flat) at `rows` against 0/1 `labels`, summed. */
export function bceSum(logits: tf.Tensor, rows: Int32Array, labels: Float32Array): tf.Scalar {
  if (rows.length === 0) return tf.mul(tf.sum(logits), 0) as tf.Scalar;
  return tf.tidy(() => {
    const x = tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(rows, 'int32'));
    // max(x, 0) - x t + log(1 + exp(-|x|))
    const t = tf.tensor1d(labels);
    return tf.sum(tf.sub(tf.softplus(tf.neg(tf.abs(x))), tf.sub(tf.mul(x, t), tf.relu(x)))) as tf.Scalar;
  });
}

export class Rpn implements ProposalNetwork {
  readonly levels: FeatureLevel[];
  /** Anchors per level and all levels concatenated (the flattened outputs' order per image). */
  readonly levelAnchors: Float32Array[];
  readonly anchors: Float32Array;
  readonly anchorsPerLocation: number;
  private readonly width: number;
  private readonly height: number;

  constructor(graph: LayerGraph, readonly config: RpnConfig) {
    this.levels = featureLevels(graph, 'rpn.cls');
    this.anchorsPerLocation = config.scales.length * config.ratios.length;
    const cls = graph.nodes[graph.outputs.find((o) => o.role === 'rpn.cls')!.node]!;
    if (cls.shape[0] !== this.anchorsPerLocation) {
      throw new Error(`rpn: head has ${cls.shape[0]} anchors per location, the config ${this.anchorsPerLocation}`);
    }
    this.levelAnchors = this.levels.map((l) => shiftAnchors(l, levelBaseAnchors(2 ** l.level, config.scales, config.ratios)));
    const total = this.levelAnchors.reduce((a, b) => a + b.length, 0);
    this.anchors = new Float32Array(total);
    let o = 0;
    for (const a of this.levelAnchors) {
      this.anchors.set(a, o);
      o += a.length;
    }
    this.width = graph.input.widthPx;
    this.height = graph.input.heightPx;
  }

  private async proposals(outputs: GraphOutputs, cfg: ProposalConfig): Promise<Float32Array[]> {
    const [cls, reg] = await Promise.all([levelData(outputs, 'rpn.cls', this.levels), levelData(outputs, 'rpn.reg', this.levels)]);
    const n = outputs.get('rpn.cls')!.get(this.levels[0]!.level)!.shape[0];
    const out: Float32Array[] = [];
    for (let b = 0; b < n; b++) {
      const levels = this.levels.map((_, i) => {
        const m = this.levelAnchors[i]!.length / 4;
        return { anchors: this.levelAnchors[i]!, logits: cls[i]!, deltas: reg[i]!, offset: b * m };
      });
      out.push(proposeImage(levels, this.config.coder, cfg, this.width, this.height));
    }
    return out;
  }

  propose(outputs: GraphOutputs): Promise<Float32Array[]> {
    return this.proposals(outputs, this.config.test);
  }

  async loss(outputs: GraphOutputs, targets: readonly ImageTargets[], rng: Rng): Promise<ProposalLoss> {
    // Read first: the loss tensors below are then made in one tidy, which cannot span an await.
    const proposals = await this.proposals(outputs, this.config.train);
    return { components: tf.tidy(() => this.lossTensors(outputs, targets, rng)), proposals };
  }

  private lossTensors(outputs: GraphOutputs, targets: readonly ImageTargets[], rng: Rng): Record<string, tf.Scalar> {
    const { config } = this;
    const a = this.anchors.length / 4;
    const rows: number[] = [];
    const labels: number[] = [];
    const posRows: number[] = [];
    const deltas: number[] = [];
    const d = new Float32Array(4);
    targets.forEach((t, n) => {
      const assigned = assignAnchors(this.anchors, t.boxes, config.assigner);
      const { pos, neg } = sampleAssigned(assigned, config.sampleNum, config.posFraction, rng);
      for (const i of pos) {
        rows.push(n * a + i);
        labels.push(1);
        posRows.push(n * a + i);
        encodeBox(this.anchors, i, t.boxes, assigned[i]! - 1, d, 0, config.coder);
        deltas.push(d[0]!, d[1]!, d[2]!, d[3]!);
      }
      for (const i of neg) {
        rows.push(n * a + i);
        labels.push(0);
      }
    });
    const avg = Math.max(rows.length, 1);
    const logits = flattenLevels(outputs, 'rpn.cls', this.levels, 1);
    const reg = flattenLevels(outputs, 'rpn.reg', this.levels, 4);
    const cls = tf.div(bceSum(logits, Int32Array.from(rows), Float32Array.from(labels)), avg) as tf.Scalar;
    let boxSum: tf.Scalar;
    if (posRows.length === 0) boxSum = tf.mul(tf.sum(reg), 0) as tf.Scalar;
    else {
      const pred = tf.gather(reg, tf.tensor1d(posRows, 'int32'));
      boxSum = smoothL1Sum(pred, tf.tensor2d(deltas, [posRows.length, 4]), 0); // beta 0: L1
    }
    const box = tf.mul(tf.div(boxSum, avg), config.boxLossWeight) as tf.Scalar;
    return { rpn_cls: cls, rpn_box: box };
  }
}
