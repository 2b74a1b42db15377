// The webgpu kernel tests' comparison: the same computation on the cpu backend and on webgpu.
import * as tf from '@tensorflow/tfjs-core';

/** Runs `f` on `backend` and returns its outputs' values (awaited: webgpu has no synchronous read). */
export async function valuesOn(backend: 'cpu' | 'webgpu', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const values = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(outs);
  return values;
}
