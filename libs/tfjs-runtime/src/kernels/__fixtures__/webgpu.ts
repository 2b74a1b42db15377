// The webgpu tests' backend: WebGPU on whatever adapter there is (lavapipe in CI, which the set-up
// installs), forced by name so that a software adapter is taken. Where no adapter exists outside CI
// the tests skip and say why; in CI a missing adapter fails them.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../backend.js';

export interface WebGpuFixture {
  /** Why webgpu does not run here (the suite skips), or undefined when it runs. */
  missing?: string;
}

export async function startWebGpuForTests(): Promise<WebGpuFixture> {
  try {
    await initBackend({ backend: 'webgpu', log: null });
    return {};
  } catch (error) {
    if (process.env['CI']) throw error;
    return { missing: error instanceof Error ? error.message : String(error) };
  }
}

/** Runs `f` on `backend` and returns its outputs' values (awaited: webgpu has no synchronous read). */
export async function valuesOn(backend: 'cpu' | 'webgpu', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const values = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(outs);
  return values;
}
