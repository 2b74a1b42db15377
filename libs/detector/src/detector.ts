// A detector built from an architecture: fidelity applied, lowered once, instantiated by the
// executor, with its head kind's DetectorHead (heads.ts: RetinaNet, the two-stage heads) on top for
// the losses and decoding.

import * as tf from '@tensorflow/tfjs-core';
import type { Architecture, InputSize } from '@sm-nas/arch';
import { buildGraph, type LayerGraph, type NormKind } from '@sm-nas/arch/graph';
import { squaredNorm, variableGradsAsync, type AdamW } from '@sm-nas/tfjs-runtime';
import { GraphExecutor, type GraphOutputs } from './executor.js';
import { applyFidelity, FULL_FIDELITY, type Fidelity } from './fidelity.js';
import type { WeightMap } from './params.js';
import type { Detections, DetectorHead, ImageTargets, LossTensors } from './head.js';
import type { RetinaNetConfig } from './retinanet.js';
import type { TwoStageOptions } from './two-stage.js';
import { DETECTOR_HEADS } from './heads.js';
import { microBatches } from './memory.js';

export type { LossTensors };

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
  /** Forward and backward passes the step took: 1, or the micro-batches of a split batch. */
  passes: number;
}

export interface TrainStepOptions {
  /**
   * Images a forward and backward pass takes at most (default: the whole batch). A larger batch
   * runs as micro-batches (libs/detector's microBatches) whose gradients are summed before the one
   * update: the same step as the whole batch's (RetinaNet normalises every micro-batch's loss by the
   * whole batch's positives; group norm and frozen batch norm have no batch statistics), in less
   * memory. Two-stage heads sample and normalise over the batch and do not split.
   */
  microBatch?: number;
}

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
  /** The head kind's DetectorHead: RetinaNet, or the RPN + R-CNN stages of a two-stage head. */
  readonly head: DetectorHead;
  readonly executor: GraphExecutor;
  /** All graph outputs by role and level; the caller disposes them. */
  forward(images: tf.Tensor4D): GraphOutputs;
  /** Loss tensors, and nothing else left behind (the caller disposes them). */
  loss(images: tf.Tensor4D, targets: readonly ImageTargets[]): Promise<LossTensors>;
  /**
   * One optimiser step on the batch: gradients of the total loss, clipped by global norm. The
   * values come back in one read after the update, so a GPU runs the whole step before the host waits.
   */
  trainStep(optimizer: tf.Optimizer, batch: TrainBatch, options?: TrainStepOptions): Promise<LossValues>;
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
  const seed = options.seed ?? 0;
  const executor = new GraphExecutor(graph, seed);
  const head = DETECTOR_HEADS[arch.head.kind]({
    arch, graph, executor, seed, retinanet: options.retinanet, twoStage: options.twoStage,
  });
  const maxNorm = options.gradClipMaxNorm ?? GRAD_CLIP_MAX_NORM;
  const vars = executor.params.trainableVariables();

  /** The pass's gradients added into `sum` (freed), or `sum` started with them. */
  const addInto = (sum: tf.NamedTensorMap | undefined, grads: tf.NamedTensorMap): tf.NamedTensorMap => {
    if (!sum) return grads;
    for (const name of Object.keys(grads)) {
      const [a, b] = [sum[name]!, grads[name]!];
      sum[name] = tf.add(a, b);
      tf.dispose([a, b]);
    }
    return sum;
  };

  return {
    arch, sourceArch, fidelity, norm: options.norm, numClasses: options.numClasses, inputSize: arch.input, graph, head, executor,
    forward: (images) => executor.forward(images),
    loss: (images, targets) => head.evalLoss(executor, images, targets),
    async trainStep(optimizer, batch, options = {}) {
      const shape = (batch.images instanceof tf.Tensor
        ? batch.images.shape
        : batch.shape ?? [batch.boxes.length, arch.input.heightPx, arch.input.widthPx, 3]) as [number, number, number, number];
      const chunks = microBatches(shape[0], options.microBatch ?? shape[0]);
      const passes = head.lossPasses(executor, batch.boxes.map((boxes, i) => ({ boxes, labels: batch.labels[i]! })), chunks);
      /** Pass i's images: the batch's own tensor when whole; else made (host data) or sliced, and freed after the pass. */
      let start = 0;
      const imagesOf = (n: number): { images: tf.Tensor4D; owned: boolean } => {
        const at = start;
        start += n;
        if (batch.images instanceof tf.Tensor) {
          return n === shape[0] ? { images: batch.images, owned: false } : { images: tf.slice(batch.images, [at, 0, 0, 0], [n, -1, -1, -1]), owned: true };
        }
        const size = shape[1] * shape[2] * shape[3];
        return { images: tf.tensor4d(batch.images.subarray(at * size, (at + n) * size), [n, shape[1], shape[2], shape[3]]), owned: true };
      };
      let value: tf.Scalar | undefined;
      let grads: tf.NamedTensorMap | undefined;
      let components: Record<string, tf.Scalar> = {};
      try {
        for (const [i, pass] of passes.entries()) {
          const { images, owned } = imagesOf(chunks[i]!);
          try {
            let parts: Record<string, tf.Scalar> = {};
            const g = await variableGradsAsync(async () => {
              const l = await pass(images);
              parts = Object.fromEntries(Object.entries(l.components).map(([k, v]) => [k, tf.keep(v)]));
              return l.total;
            }, vars);
            grads = addInto(grads, g.grads);
            if (!value) {
              value = g.value;
              components = parts;
            } else {
              const [v, c] = [value, components];
              value = tf.add(v, g.value) as tf.Scalar;
              components = Object.fromEntries(Object.entries(c).map(([k, t]) => [k, tf.add(t, parts[k]!) as tf.Scalar]));
              tf.dispose([v, g.value, ...Object.values(c), ...Object.values(parts)]);
            }
          } finally {
            if (owned) images.dispose();
          }
        }
      } catch (error) {
        tf.dispose([...(value ? [value] : []), ...Object.values(components), ...Object.values(grads ?? {})]);
        throw error;
      }
      if (!value || !grads) throw new Error('detector: a step without a pass');
      const [total, summed] = [value, grads];
      const names = Object.keys(components);
      // The norm and the clipping scale (clip_grad_norm_'s, min(1, max / (norm + 1e-6))) stay on
      // the device: reading the norm here would make a GPU wait between the backward pass and the update.
      const [norm, coef] = tf.tidy(() => {
        const n = tf.sqrt(squaredNorm(Object.values(summed)));
        return maxNorm > 0 ? [n, tf.minimum(1, tf.div(maxNorm, tf.add(n, 1e-6)))] : [n];
      }) as [tf.Scalar, tf.Scalar?];
      // Not `instanceof`: tfjs's Optimizer answers it by duck typing, for every optimiser.
      const scaled = (optimizer as Partial<AdamW>).applyScaledGradients;
      if (typeof scaled === 'function') {
        // The clipping scale rides in the optimiser's own pass over each gradient.
        scaled.call(optimizer, summed, coef ?? 1);
      } else {
        // On the CPU backends the factor is a memory read away, and a pass over every gradient is
        // skipped when it is 1 (no clipping, most steps); on a GPU it stays a tensor.
        const clip = coef && (tf.getBackend() === 'webgpu' || coef.dataSync()[0] !== 1);
        if (clip) {
          for (const name of Object.keys(summed)) {
            const g = summed[name]!;
            summed[name] = tf.mul(g, coef);
            g.dispose();
          }
        }
        optimizer.applyGradients(summed);
      }
      const all = tf.stack([total, ...names.map((k) => components[k]!), norm]);
      tf.dispose([total, norm, ...(coef ? [coef] : []), ...Object.values(components), ...Object.values(summed)]);
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
        passes: passes.length,
      };
    },
    predict: (images) => head.predict(executor, images),
    trainableVariables: () => [...vars],
    getWeights: () => executor.params.getWeights(),
    setWeights: (weights, strict) => executor.params.setWeights(weights, strict),
    dispose: () => executor.dispose(),
  };
}
