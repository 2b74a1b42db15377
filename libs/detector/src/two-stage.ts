// A two-stage detector's losses and decoding over the executed graph: the proposal network (RPN or
// guided-anchoring RPN) on the image-level outputs, then the R-CNN stages (Faster or Cascade) on its
// proposals through the executor's per-RoI passes.

import * as tf from '@tensorflow/tfjs-core';
import { neckFamily, type Architecture, type RpnKind } from '@sm-nas/arch';
import type { LayerGraph } from '@sm-nas/arch/graph';
import type { GraphExecutor, GraphOutputs } from './executor.js';
import type { Detections, DetectorHead, HeadTrainingElements, ImageTargets, LossPass, LossTensors } from './head.js';
import { GA_RPN_DEFAULTS, GaRpn, type GaRpnConfig } from './ga-rpn.js';
import { cascadeDefaults, FASTER_RCNN_DEFAULTS, RcnnHead, type RcnnConfig } from './rcnn.js';
import { Rpn, RPN_C4_DEFAULTS, RPN_FPN_DEFAULTS, type ProposalConfig, type ProposalNetwork, type RpnConfig } from './rpn.js';
import { Rng } from '@sm-nas/random';

export interface TwoStageConfig {
  rpn: RpnConfig;
  gaRpn: GaRpnConfig;
  rcnn: RcnnConfig;
}

/** Overrides of the defaults, one level deep per part (e.g. `{ rcnn: { sampleNum: 128 } }`). */
export interface TwoStageOptions {
  rpn?: Partial<RpnConfig>;
  gaRpn?: Partial<GaRpnConfig>;
  rcnn?: Partial<RcnnConfig>;
  /** Sets train and test proposals per image of either RPN (max_per_img), e.g. for a small input. */
  proposals?: { train?: Partial<ProposalConfig>; test?: Partial<ProposalConfig> };
}

/** mmdetection's settings for this architecture (neck decides the RPN anchors, head the stages). */
export function twoStageConfig(arch: Architecture, options: TwoStageOptions = {}): TwoStageConfig {
  const rpnBase = neckFamily(arch.neck).singleLevel ? RPN_C4_DEFAULTS : RPN_FPN_DEFAULTS;
  const rcnnBase = arch.head.kind === 'cascade_rcnn' ? cascadeDefaults(arch.head.stages) : FASTER_RCNN_DEFAULTS;
  const p = options.proposals ?? {};
  const rpn = { ...rpnBase, ...options.rpn };
  const gaRpn = { ...GA_RPN_DEFAULTS, ...options.gaRpn };
  return {
    rpn: { ...rpn, train: { ...rpn.train, ...p.train }, test: { ...rpn.test, ...p.test } },
    gaRpn: { ...gaRpn, train: { ...gaRpn.train, ...p.train }, test: { ...gaRpn.test, ...p.test } },
    rcnn: { ...rcnnBase, ...options.rcnn },
  };
}

/** The proposal networks, registered under their RPN kind. */
export const PROPOSAL_NETWORKS: Readonly<Record<Exclude<RpnKind, 'none'>, (graph: LayerGraph, config: TwoStageConfig) => ProposalNetwork>> = {
  rpn: (graph, config) => new Rpn(graph, config.rpn),
  guided_anchoring: (graph, config) => new GaRpn(graph, config.gaRpn),
};

export class TwoStage implements DetectorHead {
  readonly splitsBatches = false;
  readonly proposalNetwork: ProposalNetwork;
  readonly rcnn: RcnnHead;
  /** Samples anchors and RoIs for the losses. */
  readonly rng: Rng;

  constructor(arch: Architecture, graph: LayerGraph, private readonly executor: GraphExecutor, readonly config: TwoStageConfig, seed: number) {
    if (arch.rpn === 'none') throw new Error(`detector: ${arch.head.kind} needs a proposal network`);
    this.proposalNetwork = PROPOSAL_NETWORKS[arch.rpn](graph, config);
    this.rcnn = new RcnnHead(executor, graph.numClasses, config.rcnn, graph.input.widthPx, graph.input.heightPx);
    this.rng = new Rng(seed + 1);
  }

  /**
   * All losses on `targets` (inside a gradient when `record`: variableGradsAsync, since the
   * proposals are read back on the way). Without `record`, only the returned tensors are left.
   */
  async loss(images: tf.Tensor4D, targets: readonly ImageTargets[], record: boolean): Promise<{ total: tf.Scalar; components: Record<string, tf.Scalar> }> {
    for (const [n, t] of targets.entries()) {
      if (t.boxes.length !== 4 * t.labels.length) throw new RangeError(`targets: image ${n} has ${t.boxes.length / 4} boxes and ${t.labels.length} labels`);
      for (const l of t.labels) if (!(l >= 0 && l < this.rcnn.numClasses)) throw new RangeError(`targets: label ${l} outside 0..${this.rcnn.numClasses - 1}`);
    }
    const outputs = this.executor.forward(images, record);
    try {
      const rpn = await this.proposalNetwork.loss(outputs, targets, this.rng);
      const rcnn = await this.rcnn.loss(outputs, rpn.proposals, targets, this.rng, record);
      const components = { ...rpn.components, ...rcnn };
      // Not tf.addN: webgpu's AddN binds every input as a storage buffer, 8 per shader at the
      // device's default limits with the output among them, and GA-RPN with a 2-stage Cascade has 8
      // components (the pipeline fails and the queue drops the whole batch of kernels with it).
      const total = tf.tidy(() => Object.values(components).reduce((a, b) => tf.add(a, b))) as tf.Scalar;
      return { total, components };
    } finally {
      if (!record) disposeOutputs(outputs);
    }
  }

  lossPasses(_executor: GraphExecutor, targets: readonly ImageTargets[], chunks: readonly number[]): LossPass[] {
    if (chunks.length > 1) throw new Error(`detector: a two-stage detector's batch of ${targets.length} cannot run as micro-batches (its sampling and loss normalisation span the batch)`);
    return [(images) => this.loss(images, targets, true)];
  }

  /** Reads its proposals back on the way, so it frees what it makes itself. */
  evalLoss(_executor: GraphExecutor, images: tf.Tensor4D, targets: readonly ImageTargets[]): Promise<LossTensors> {
    return this.loss(images, targets, false);
  }

  predict(_executor: GraphExecutor, images: tf.Tensor4D): Promise<Detections[]> {
    return this.detect(images);
  }

  /**
   * Per image: the R-CNN stages' per-RoI steps on as many RoIs as each stage samples (sampleNum, an
   * upper bound: fewer when the proposals are few). The proposal network's and R-CNN's losses work
   * on the sampled anchors and RoIs, a few MB at most; not counted.
   */
  trainingElements(): HeadTrainingElements {
    const { perRoi } = this.executor.trainingActivations();
    const rois = this.rcnn.config.sampleNum;
    return { forward: perRoi.forward * rois, gradient: perRoi.gradient * rois, loss: 0 };
  }

  async detect(images: tf.Tensor4D): Promise<Detections[]> {
    const outputs = this.executor.forward(images);
    try {
      const proposals = await this.proposalNetwork.propose(outputs);
      return await this.rcnn.detect(outputs, proposals);
    } finally {
      disposeOutputs(outputs);
    }
  }
}

export function disposeOutputs(outputs: GraphOutputs): void {
  const seen = new Set<tf.Tensor>();
  for (const m of outputs.values()) {
    for (const t of m.values()) {
      if (seen.has(t)) continue;
      seen.add(t);
      t.dispose();
    }
  }
}
