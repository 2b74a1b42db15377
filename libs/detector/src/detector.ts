// A detector built from an architecture: fidelity applied, lowered once, instantiated by the
// executor, with RetinaNet's or a two-stage detector's (two-stage.ts) losses and decoding on top.

import * as tf from '@tensorflow/tfjs-core';
import type { Architecture, InputSize } from '@sm-nas/arch';
import { buildGraph, type LayerGraph, type NormKind } from '@sm-nas/arch/graph';
import { squaredNorm, variableGradsAsync, type AdamW } from '@sm-nas/tfjs-runtime';
import { GraphExecutor, type GraphOutputs } from './executor.js';
import { applyFidelity, FULL_FIDELITY, type Fidelity } from './fidelity.js';
import type { WeightMap } from './params.js';
import { RetinaNet, RETINANET_DEFAULTS, type Detections, type ImageTargets, type RetinaNetConfig } from './retinanet.js';
import { disposeOutputs, TwoStage, twoStageConfig, type TwoStageOptions } from './two-stage.js';

/** mmdetection's optimizer_config grad_clip max_norm (RetinaNet, norm_type 2). */
export const GRAD_CLIP_MAX_NORM = 35;

export interface DetectorOptions {
  numClasses: number;
  /** Default full fidelity (the architecture as given). */
  fidelity?: Fidelity;
  /** The backbone's norm: `group_norm` (with weight standardisation; scratch training),
   * `frozen_batch_norm` (pretrained), `batch_norm` (running statistics; inference, profiling). */
  norm: NormKind;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  retinanet?: Partial<RetinaNetConfig>;
  /** RPN / R-CNN settings of two-stage heads (mmdetection's defaults otherwise). */
  twoStage?: TwoStageOptions;
  /** Global-norm gradient clipping in trainStep; 0 disables. Default 35. */
  gradClipMaxNorm?: number;
}

/** A batch for training: NHWC images (a tensor, or host data with its shape) and per-image targets. */
export interface TrainBatch {
  images: tf.Tensor4D | Float32Array;
  shape?: readonly [number, number, number, number];
  boxes: readonly Float32Array[];
  labels: readonly Int32Array[];
}

export interface LossValues {
  total: number;
  components: Record<string, number>;
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
}

// A type, not an interface: tf.tidy returns it (a TensorContainer needs an index signature).
export type LossTensors = {
  total: tf.Scalar;
  components: Record<string, tf.Scalar>;
};

export interface Detector {
  /** The architecture as built (fidelity applied) and the one asked for. */
  readonly arch: Architecture;
  readonly sourceArch: Architecture;
  readonly fidelity: Fidelity;
  readonly norm: NormKind;
  readonly numClasses: number;
  /** Images must be this size: [N, heightPx, widthPx, 3]. */
  readonly inputSize: InputSize;
  readonly graph: LayerGraph;
  /** RetinaNet, or the RPN + R-CNN stages of a two-stage head. */
  readonly head: RetinaNet | TwoStage;
  readonly executor: GraphExecutor;
  /** All graph outputs by role and level; the caller disposes them. */
  forward(images: tf.Tensor4D): GraphOutputs;
  /** Loss tensors, and nothing else left behind (the caller disposes them). */
  loss(images: tf.Tensor4D, targets: readonly ImageTargets[]): Promise<LossTensors>;
  /**
   * One optimiser step on the batch: gradients of the total loss, clipped by global norm. The
   * values come back in one read after the update, so a GPU runs the whole step before the host waits.
   */
  trainStep(optimizer: tf.Optimizer, batch: TrainBatch): Promise<LossValues>;
  predict(images: tf.Tensor4D): Promise<Detections[]>;
  trainableVariables(): tf.Variable[];
  /** Parameters and buffers by name in PyTorch layouts (conv OIHW, linear [out, in]). */
  getWeights(): Promise<WeightMap>;
  setWeights(weights: WeightMap, strict?: boolean): void;
  dispose(): void;
}

export function createDetector(sourceArch: Architecture, options: DetectorOptions): Detector {
  const fidelity = options.fidelity ?? FULL_FIDELITY;
  const arch = applyFidelity(sourceArch, fidelity);
  const graph = buildGraph(arch, { form: 'detection', numClasses: options.numClasses, norm: options.norm });
  const executor = new GraphExecutor(graph, options.seed ?? 0);
  const twoStage = arch.head.kind === 'retinanet'
    ? undefined
    : new TwoStage(arch, graph, executor, twoStageConfig(arch, options.twoStage), options.seed ?? 0);
  const retina = twoStage ? undefined : new RetinaNet(graph, { ...RETINANET_DEFAULTS, ...options.retinanet });
  const head = (twoStage ?? retina)!;
  const maxNorm = options.gradClipMaxNorm ?? GRAD_CLIP_MAX_NORM;
  const vars = executor.params.trainableVariables();

  /** RetinaNet's loss on targets assigned beforehand (outside any gradient). */
  const retinaLoss = (images: tf.Tensor4D, t: ReturnType<RetinaNet['targets']>): LossTensors => {
    const l = retina!.loss(executor.forward(images, true), t);
    return { total: l.total, components: { cls: l.cls, box: l.box } };
  };

  /** The loss of a batch in a gradient; RetinaNet's targets are computed before it is recorded. */
  const lossFor = (images: tf.Tensor4D, targets: readonly ImageTargets[]): () => Promise<LossTensors> => {
    if (twoStage) return () => twoStage.loss(images, targets, true);
    const t = retina!.targets(targets);
    return async () => retinaLoss(images, t);
  };

  return {
    arch, sourceArch, fidelity, norm: options.norm, numClasses: options.numClasses, inputSize: arch.input, graph, head, executor,
    forward: (images) => executor.forward(images),
    async loss(images, targets) {
      // Two-stage losses read their proposals back, so they free what they make themselves.
      if (twoStage) return twoStage.loss(images, targets, false);
      const t = retina!.targets(targets);
      return tf.tidy(() => retinaLoss(images, t));
    },
    async trainStep(optimizer, batch) {
      const owned = !(batch.images instanceof tf.Tensor);
      const images = batch.images instanceof tf.Tensor
        ? batch.images
        : tf.tensor4d(batch.images, (batch.shape ?? [batch.boxes.length, arch.input.heightPx, arch.input.widthPx, 3]) as [number, number, number, number]);
      try {
        const f = lossFor(images, batch.boxes.map((boxes, i) => ({ boxes, labels: batch.labels[i]! })));
        let components: Record<string, tf.Scalar> = {};
        const { value, grads } = await variableGradsAsync(async () => {
          const l = await f();
          components = Object.fromEntries(Object.entries(l.components).map(([k, v]) => [k, tf.keep(v)]));
          return l.total;
        }, vars);
        const names = Object.keys(components);
        // The norm and the clipping scale (clip_grad_norm_'s, min(1, max / (norm + 1e-6))) stay on
        // the device: reading the norm here would make a GPU wait between the backward pass and the update.
        const [norm, coef] = tf.tidy(() => {
          const n = tf.sqrt(squaredNorm(Object.values(grads)));
          return maxNorm > 0 ? [n, tf.minimum(1, tf.div(maxNorm, tf.add(n, 1e-6)))] : [n];
        }) as [tf.Scalar, tf.Scalar?];
        // Not `instanceof`: tfjs's Optimizer answers it by duck typing, for every optimiser.
        const scaled = (optimizer as Partial<AdamW>).applyScaledGradients;
        if (typeof scaled === 'function') {
          // The clipping scale rides in the optimiser's own pass over each gradient.
          scaled.call(optimizer, grads, coef ?? 1);
        } else {
          // On the CPU backends the factor is a memory read away, and a pass over every gradient is
          // skipped when it is 1 (no clipping, most steps); on a GPU it stays a tensor.
          const clip = coef && (tf.getBackend() === 'webgpu' || coef.dataSync()[0] !== 1);
          if (clip) {
            for (const name of Object.keys(grads)) {
              const g = grads[name]!;
              grads[name] = tf.mul(g, coef);
              g.dispose();
            }
          }
          optimizer.applyGradients(grads);
        }
        const all = tf.stack([value, ...names.map((k) => components[k]!), norm]);
        tf.dispose([value, norm, ...(coef ? [coef] : []), ...Object.values(components), ...Object.values(grads)]);
        let host: Float32Array;
        try {
          host = (await all.data()) as Float32Array;
        } finally {
          all.dispose();
        }
        return {
          total: host[0]!,
          components: Object.fromEntries(names.map((k, i) => [k, host[i + 1]!])),
          gradNorm: host[names.length + 1]!,
        };
      } finally {
        if (owned) images.dispose();
      }
    },
    async predict(images) {
      if (twoStage) return twoStage.detect(images);
      const outputs = executor.forward(images);
      try {
        return await retina!.detect(outputs);
      } finally {
        disposeOutputs(outputs);
      }
    },
    trainableVariables: () => [...vars],
    getWeights: () => executor.params.getWeights(),
    setWeights: (weights, strict) => executor.params.setWeights(weights, strict),
    dispose: () => executor.dispose(),
  };
}
