// A training step's memory, estimated before the first step from what the step records, so that a
// trainer on a backend with a hard memory limit (the wasm heap: libs/tfjs-runtime's memory.ts) can
// split the batch into micro-batches or refuse it with a reason, instead of crashing inside a kernel.
//
// tfjs keeps every tensor of the forward pass on the tape, and every gradient of the backward pass,
// until the backward pass ends, so the peak is reached at its end and grows linearly with the batch:
//   state (parameters + optimiser slots) + step (parameter-sized: gradients, standardised or folded
//   weights) + images x (forward + gradient + loss).
// The per-image terms come from the executor's plan (GraphExecutor.trainingActivations: each step's
// recorded outputs, and the masks its gradient keeps) and the head's loss (trainingElements); the
// coefficients are fitted to measured heap high-water marks (memory.test.ts names them). A trial
// step would be more faithful but needs the memory it is asked about (a batch-8 step at 512x512
// cannot be tried on the wasm heap: that is the crash), costs a step's time (~4 s an image at 512x512
// on 2 cores) and leaves its gradients in the optimiser; the estimate costs nothing and needs no step.
import type { Detector } from './detector.js';

/**
 * Coefficients of the estimate, fitted to the measurements in memory.test.ts and rounded up: the
 * one-stage measurements come out within -2% and +5%, the two-stage one 10-13% over (it counts
 * every RoI a stage may sample).
 */
export const TRAIN_MEMORY_MODEL = {
  /**
   * Heap bytes per byte of recorded forward tensors: the tensor, its gradient, and what else the
   * backward pass makes in proportion (gradient sums at fan-outs, the kernels' scratch).
   */
  forward: 2.2,
  /** Heap bytes per byte of the masks gradient functions keep (relu6's, conv2dBiasRelu's). */
  gradient: 1.3,
  /** Heap bytes per byte of the loss's own tensors (HeadTrainingElements.loss counts them with their gradients). */
  loss: 1,
  /**
   * Heap bytes per trainable parameter byte that a step holds whatever its batch: the gradients,
   * weight-standardised (or batch-norm-folded) filters and their gradients, the filters' gradients
   * before the sum over the batch.
   */
  step: 3.5,
} as const;

export interface TrainStepMemory {
  /** Parameters and buffers, and the optimiser's slots: held between steps too. */
  stateBytes: number;
  /** What a step adds whatever its batch. */
  stepBytes: number;
  /** What each image of a step adds. */
  perImageBytes: number;
  /** The running sum of the gradients while a batch runs as micro-batches. */
  accumulationBytes: number;
}

/**
 * The estimate for `detector` trained by an optimiser with `optimizerSlots` tensors per trainable
 * variable (AdamW, Adam: 2; momentum: 1; SGD: 0).
 */
export function trainStepMemory(detector: Detector, optimizerSlots = 2): TrainStepMemory {
  let paramBytes = 0;
  let trainableBytes = 0;
  for (const p of detector.executor.params.params.values()) {
    const bytes = p.variable.size * 4;
    paramBytes += bytes;
    if (p.trainable) trainableBytes += bytes;
  }
  const { perImage } = detector.executor.trainingActivations();
  const head = detector.head.trainingElements();
  const input = detector.inputSize.widthPx * detector.inputSize.heightPx * 3;
  const m = TRAIN_MEMORY_MODEL;
  const perImageElements = m.forward * (perImage.forward + head.forward + input) + m.gradient * (perImage.gradient + head.gradient) + m.loss * head.loss;
  return {
    stateBytes: paramBytes + optimizerSlots * trainableBytes,
    stepBytes: m.step * trainableBytes,
    perImageBytes: 4 * perImageElements,
    accumulationBytes: trainableBytes,
  };
}

/** Bytes of a step on `images` images at once; `split`: one micro-batch of a larger batch (the running sum held too). */
export function trainStepBytes(memory: TrainStepMemory, images: number, split = false): number {
  return memory.stateBytes + memory.stepBytes + (split ? memory.accumulationBytes : 0) + images * memory.perImageBytes;
}

/** `batch` images in as few micro-batches of at most `most` as there can be, as even as possible (8 at 5: 4 + 4). */
export function microBatches(batch: number, most: number): number[] {
  if (!(Number.isInteger(batch) && batch >= 1)) throw new RangeError(`microBatches: batch ${batch}`);
  const size = Math.max(1, Math.min(batch, Math.floor(most)));
  const count = Math.ceil(batch / size);
  const base = Math.floor(batch / count);
  return Array.from({ length: count }, (_, i) => base + (i < batch % count ? 1 : 0));
}

export type TrainStepPlan =
  | {
      fits: true;
      /** Images a pass takes (the batch, or the largest micro-batch). */
      microBatch: number;
      /** The micro-batches' sizes: one when the batch runs whole. */
      chunks: number[];
      /** The estimate of the largest pass. */
      bytes: number;
    }
  | {
      fits: false;
      /** The estimate of the batch in one pass. */
      bytes: number;
      /** The largest batch that fits in one pass; 0 when not even one image does. */
      largestBatch: number;
    };

export interface PlanOptions {
  /** Whether the batch may run as micro-batches (a head whose loss allows it exactly). */
  split: boolean;
  /** Fraction of the limit kept free for the estimate's error; default 0.1. */
  headroom?: number;
}

/**
 * How a step on `batch` images fits in `limitBytes`: whole, as micro-batches (when allowed), or not
 * at all (then the largest batch that fits whole).
 */
export function planTrainStep(memory: TrainStepMemory, batch: number, limitBytes: number, options: PlanOptions): TrainStepPlan {
  const budget = limitBytes * (1 - (options.headroom ?? 0.1));
  const whole = trainStepBytes(memory, batch);
  if (whole <= budget) return { fits: true, microBatch: batch, chunks: [batch], bytes: whole };
  const most = (fixed: number) => Math.max(0, Math.floor((budget - fixed) / memory.perImageBytes));
  const largestBatch = Math.min(batch, most(memory.stateBytes + memory.stepBytes));
  if (options.split) {
    const micro = most(memory.stateBytes + memory.stepBytes + memory.accumulationBytes);
    if (micro >= 1) {
      const chunks = microBatches(batch, micro);
      const microBatch = Math.max(...chunks);
      return { fits: true, microBatch, chunks, bytes: trainStepBytes(memory, microBatch, true) };
    }
  }
  return { fits: false, bytes: whole, largestBatch };
}
