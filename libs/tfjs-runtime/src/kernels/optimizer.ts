// The optimiser's element-wise work as kernels, for every backend: one AdamW step of one tensor
// (tfjs's Adam composes ~10 element-wise kernels per variable, each a dispatch and a pass), and the
// sum of squares of a list of tensors (the global gradient norm: two kernels per gradient plus an
// AddN). Plain loops over host copies; libs/native-kernels has the wasm version (optim.cc).
import { getKernel, registerKernel, type KernelBackend, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

export const ADAMW_STEP = 'SmAdamWStep';
export const SQUARED_NORM = 'SmSquaredNorm';

/** One step's scalars; `bc1`, `bc2` are the bias corrections 1 - beta1^t, 1 - beta2^t. */
export interface AdamWStepAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  gradScale: number;
  bc1: number;
  bc2: number;
}

/** param, m, v, grad -> [param', m', v'] (PyTorch 1.13's AdamW; see libs/native-kernels src/optim.h). */
const adamwStepKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { param, m, v, grad } = inputs as Record<'param' | 'm' | 'v' | 'grad', TensorInfo>;
  const a = attrs as unknown as AdamWStepAttrs;
  const [p0, m0, v0, g0] = [param, m, v, grad].map((t) => backend.readSync(t!.dataId) as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const n = p0.length;
  const p1 = new Float32Array(n), m1 = new Float32Array(n), v1 = new Float32Array(n);
  const decay = 1 - a.lr * a.weightDecay;
  const stepSize = a.lr / a.bc1;
  const sqrtBc2 = Math.sqrt(a.bc2);
  for (let i = 0; i < n; i++) {
    const g = g0[i]! * a.gradScale;
    const mi = a.beta1 * m0[i]! + (1 - a.beta1) * g;
    const vi = a.beta2 * v0[i]! + (1 - a.beta2) * g * g;
    m1[i] = mi;
    v1[i] = vi;
    p1[i] = p0[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + a.epsilon);
  }
  const out = (values: Float32Array): TensorInfo => ({ dataId: backend.write(values, param!.shape, 'float32'), shape: param!.shape, dtype: 'float32' });
  return [out(p1), out(m1), out(v1)];
};

/** Inputs named 0..n-1 -> a scalar: the sum of their squares (summed in float64). */
const squaredNormKernel: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as KernelBackend;
  let total = 0;
  for (const t of Object.values(inputs)) {
    for (const x of backend.readSync(t!.dataId) as Float32Array) total += x * x;
  }
  return { dataId: backend.write(new Float32Array([total]), [], 'float32'), shape: [], dtype: 'float32' };
};

/** Registers both kernels for `backendName` unless it has them (the native ones, on wasm). */
export function registerOptimizerKernels(backendName: string): void {
  if (!getKernel(ADAMW_STEP, backendName)) registerKernel({ kernelName: ADAMW_STEP, backendName, kernelFunc: adamwStepKernel });
  if (!getKernel(SQUARED_NORM, backendName)) registerKernel({ kernelName: SQUARED_NORM, backendName, kernelFunc: squaredNormKernel });
}
