// What the detector needs of a head: its losses and its decoding over the executed graph, and the
// targets and detections every head speaks in. RetinaNet, FCOS and the two-stage heads (RPN +
// R-CNN) implement it; `heads.ts` registers one builder per head kind, so the detector never
// branches on the kind.

import type * as tf from '@tensorflow/tfjs-core';
import type { GraphExecutor } from './executor.js';

// A type, not an interface: tf.tidy returns it (a TensorContainer needs an index signature).
export type LossTensors = {
  total: tf.Scalar;
  components: Record<string, tf.Scalar>;
};

/** One forward pass and its loss, run inside a gradient (variableGradsAsync). */
export type LossPass = (images: tf.Tensor4D) => Promise<LossTensors>;

export interface DetectorHead {
  /**
   * Whether a batch may run as micro-batches whose gradients add up to the batch's (RetinaNet: its
   * loss is normalised by the whole batch's positives); two-stage heads sample and normalise over
   * the batch and do not split.
   */
  readonly splitsBatches: boolean;
  /** The loss of each pass of a batch run as micro-batches of `chunks` images (one chunk: the whole batch). */
  lossPasses(executor: GraphExecutor, targets: readonly ImageTargets[], chunks: readonly number[]): LossPass[];
  /** The loss of a batch outside any gradient: only the returned tensors are left. */
  evalLoss(executor: GraphExecutor, images: tf.Tensor4D, targets: readonly ImageTargets[]): Promise<LossTensors>;
  /** Detections per image, in input pixels. */
  predict(executor: GraphExecutor, images: tf.Tensor4D): Promise<Detections[]>;
  /** Memory a training step adds per image beyond the graph's image-level steps. */
  trainingElements(): HeadTrainingElements;
}

/** Ground truth of one image: boxes [x1, y1, x2, y2, ...] in input pixels and labels 0..K-1. */
export interface ImageTargets {
  boxes: Float32Array;
  labels: Int32Array;
}

/** Detections of one image, best first: boxes in input pixels, scores, labels 0..K-1. */
export interface Detections {
  boxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
}

/**
 * What a head adds per image to a training step's tape beyond the graph's image-level steps, in
 * float32 elements (libs/detector's memory.ts): per-RoI steps (`forward`, and `gradient` as in
 * GraphExecutor.trainingActivations) and the loss's own tensors with their gradients (`loss`).
 */
export interface HeadTrainingElements {
  forward: number;
  gradient: number;
  loss: number;
}
