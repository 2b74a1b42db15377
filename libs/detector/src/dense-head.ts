// What the one-stage (dense) heads share: targets per micro-batch normalised by the whole batch's
// foreground count, prediction that frees the graph's outputs, and a head output flattened over
// its levels in location order. RetinaNet and FCOS use them.

import * as tf from '@tensorflow/tfjs-core';
import type { LayerGraph, OutputRole } from '@sm-nas/arch/graph';
import type { FeatureLevel } from './boxes.js';
import type { GraphExecutor, GraphOutputs } from './executor.js';
import type { Detections, ImageTargets, LossPass, LossTensors } from './head.js';

/**
 * The loss of each micro-batch of `chunks` images. Targets are assigned before any gradient is
 * recorded; a split batch's passes share the whole batch's normaliser (its foreground count, at
 * least 1), so their losses and gradients add up to the batch's.
 */
export function denseLossPasses<T extends { numPositives: number }>(
  targets: readonly ImageTargets[],
  chunks: readonly number[],
  assign: (batch: readonly ImageTargets[]) => T,
  lossOf: (images: tf.Tensor4D, targets: T, normalizer?: number) => LossTensors,
): LossPass[] {
  let start = 0;
  const parts = chunks.map((n) => {
    const t = assign(targets.slice(start, start + n));
    start += n;
    return t;
  });
  if (parts.length === 1) return [async (images) => lossOf(images, parts[0]!)];
  const normalizer = Math.max(parts.reduce((sum, t) => sum + t.numPositives, 0), 1);
  return parts.map((t) => async (images: tf.Tensor4D) => lossOf(images, t, normalizer));
}

/** Runs the graph and `detect` on its outputs, then frees them. */
export async function predictDense(executor: GraphExecutor, images: tf.Tensor4D, detect: (outputs: GraphOutputs) => Promise<Detections[]>): Promise<Detections[]> {
  const outputs = executor.forward(images);
  try {
    return await detect(outputs);
  } finally {
    for (const t of new Set([...outputs.values()].flatMap((m) => [...m.values()]))) t.dispose();
  }
}

/** A head output over `levels` as [N * locations * per, per], in level then location order. */
export function flattenLevels(outputs: GraphOutputs, role: OutputRole, levels: readonly FeatureLevel[], per: number): tf.Tensor2D {
  const m = outputs.get(role);
  if (!m) throw new Error(`dense head: no ${role} outputs`);
  const parts = levels.map((l) => {
    const t = m.get(l.level)!;
    return tf.reshape(t, [t.shape[0], -1, per]);
  });
  return tf.reshape(parts.length === 1 ? parts[0]! : tf.concat(parts, 1), [-1, per]);
}

/** The levels a dense head predicts on (its class outputs'), lowest first, with their map sizes. */
export function denseLevels(graph: LayerGraph): FeatureLevel[] {
  return graph.outputs
    .filter((o) => o.role === 'head.cls')
    .sort((a, b) => a.index - b.index)
    .map((o) => ({ level: o.index, height: graph.nodes[o.node]!.shape[1], width: graph.nodes[o.node]!.shape[2] }));
}

/** Candidates of each image (input pixels), kept by class-wise NMS: at most `maxPerImg`, best first. */
export async function nmsPerImage(
  perImage: readonly { boxes: number[]; scores: number[]; labels: number[] }[],
  test: { iouThr: number; maxPerImg: number },
): Promise<Detections[]> {
  const results: Detections[] = [];
  for (const r of perImage) results.push(await batchedNms(r.boxes, r.scores, r.labels, test.iouThr, test.maxPerImg));
  return results;
}

/**
 * Class-wise NMS as mmcv's batched_nms: boxes of class c are offset by c * (max coordinate + 1) so
 * boxes of different classes never overlap, then one NMS; at most `maxOut`, best first.
 */
export async function batchedNms(
  boxes: ArrayLike<number>, scores: ArrayLike<number>, labels: ArrayLike<number>, iouThr: number, maxOut: number,
): Promise<Detections> {
  const m = scores.length;
  if (m === 0) return { boxes: new Float32Array(0), scores: new Float32Array(0), labels: new Int32Array(0) };
  let maxCoord = 0;
  for (let i = 0; i < 4 * m; i++) maxCoord = Math.max(maxCoord, boxes[i]!);
  const shifted = new Float32Array(4 * m);
  for (let i = 0; i < m; i++) {
    const off = labels[i]! * (maxCoord + 1);
    // tfjs takes [y1, x1, y2, x2]
    shifted[4 * i] = boxes[4 * i + 1]! + off;
    shifted[4 * i + 1] = boxes[4 * i]! + off;
    shifted[4 * i + 2] = boxes[4 * i + 3]! + off;
    shifted[4 * i + 3] = boxes[4 * i + 2]! + off;
  }
  const b = tf.tensor2d(shifted, [m, 4]);
  const s = tf.tensor1d(Float32Array.from(scores));
  const keepT = await tf.image.nonMaxSuppressionAsync(b, s, maxOut, iouThr);
  const keep = await keepT.data();
  b.dispose();
  s.dispose();
  keepT.dispose();
  const out: Detections = { boxes: new Float32Array(keep.length * 4), scores: new Float32Array(keep.length), labels: new Int32Array(keep.length) };
  keep.forEach((i, j) => {
    for (let c = 0; c < 4; c++) out.boxes[4 * j + c] = boxes[4 * i + c]!;
    out.scores[j] = scores[i]!;
    out.labels[j] = labels[i]!;
  });
  return out;
}
