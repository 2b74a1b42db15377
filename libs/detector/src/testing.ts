// Test helpers (not exported from the package): the backend, tiny architectures, a fixed batch.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendInfo } from '@sm-nas/tfjs-runtime';
import { standardBackbone, type Architecture, type BackboneKind, type HeadKind, type Neck, type RpnKind } from '@sm-nas/arch';

/** wasm (threads) via libs/tfjs-runtime, cpu when wasm cannot start. */
export async function testBackend(): Promise<BackendInfo> {
  try {
    return await initBackend({ backend: 'wasm', log: null });
  } catch {
    return await initBackend({ backend: 'cpu', log: null });
  }
}

export function twoStageArch(kind: BackboneKind, neck: Neck, rpn: RpnKind, head: HeadKind, stages: number, size = 64): Architecture {
  return { ...retinaArch(kind, neck, size), rpn, head: { kind: head, stages, channels: 256 } };
}

export function retinaArch(kind: BackboneKind, neck: Neck, size = 64): Architecture {
  return {
    backbone: standardBackbone(kind),
    neck,
    rpn: 'none',
    head: { kind: 'retinanet', stages: 0, channels: 256 },
    input: { widthPx: size, heightPx: size },
  };
}

export const fpn = (startLevel: number, endLevel: number): Neck => ({ kind: 'fpn', startLevel, endLevel, channels: 256 });

/** Two images of noise with boxes of a few sizes (input pixels). */
export function fixedBatch(size: number, n = 2): { images: tf.Tensor4D; boxes: Float32Array[]; labels: Int32Array[] } {
  const images = tf.randomNormal([n, size, size, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const s = size / 64;
  const boxes = Array.from({ length: n }, (_, i) => Float32Array.from([4 * s + i, 6 * s, 30 * s, 34 * s, 20 * s, 16 * s, 60 * s, 62 * s, 40 * s, 4 * s, 52 * s, 14 * s].map(Math.round)));
  const labels = Array.from({ length: n }, (_, i) => Int32Array.from([i % 3, 2, 1]));
  return { images, boxes, labels };
}
