// Waiting for the device: on webgpu, tfjs records kernels into a command encoder and submits them in
// batches; the work is done only when the GPU queue says so. A timer that stops when the JS calls
// return measures the dispatch, not the kernels.
import * as tf from '@tensorflow/tfjs-core';

interface WebGpuInternals {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** Resolves once the device has finished every kernel issued so far: at once on the CPU backends. */
export async function deviceIdle(): Promise<void> {
  if (tf.getBackend() !== 'webgpu') return;
  const backend = tf.backend() as unknown as WebGpuInternals;
  if (backend.commandEncoder != null) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
  await backend.device.queue.onSubmittedWorkDone();
}

/**
 * GPU time of the kernels `f` issues, from timestamp queries, when the backend has them (webgpu on an
 * adapter with `timestamp-query`); undefined elsewhere. `f` runs synchronously and disposes what it makes.
 */
export async function kernelMs(f: () => void): Promise<number | undefined> {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const backend = tf.backend() as unknown as { supportTimestampQuery?: boolean };
  if (!backend.supportTimestampQuery) return undefined;
  const info = await tf.time(f);
  return info.kernelMs as number;
}
