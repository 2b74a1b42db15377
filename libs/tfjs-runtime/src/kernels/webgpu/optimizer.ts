// The optimiser's kernels in WGSL: one AdamW step of one tensor (../optimizer.ts's rule, PyTorch
// 1.13's AdamW) as three element-wise passes (m', v', then the parameter from them: a tfjs program
// has one output), and the global gradient norm's sum of squares reduced on the GPU. The gradient
// scale of norm clipping may be a scalar tensor (`scale`), so that a step never waits for the norm
// to come back to the host before it updates the weights.
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type { AdamWStepAttrs } from '../optimizer.js';
import { ATOMIC_ADD, program, run, zerosOn, type Uniform, type WebGPUBackend } from './program.js';

const size = (shape: readonly number[]): number => shape.reduce((x, y) => x * y, 1);

const ADAMW_UNIFORMS = 'lr : f32, beta1 : f32, beta2 : f32, epsilon : f32, weightDecay : f32, gradScale : f32, bc1 : f32, bc2 : f32,';

function moment(which: 'm' | 'v', scaled: boolean): string {
  const g = `G[index] * uniforms.gradScale${scaled ? ' * Scale[0]' : ''}`;
  const update = which === 'm'
    ? `uniforms.beta1 * M[index] + (1.0 - uniforms.beta1) * g`
    : `uniforms.beta2 * M[index] + (1.0 - uniforms.beta2) * g * g`;
  return `
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let g = ${g};
  setOutputAtIndex(index, ${update});
}`;
}

const PARAM = `
fn main(index : i32) {
  if (index >= uniforms.count) { return; }
  let decay = 1.0 - uniforms.lr * uniforms.weightDecay;
  let stepSize = uniforms.lr / uniforms.bc1;
  setOutputAtIndex(index, P[index] * decay - stepSize * M[index] / (sqrt(V[index]) / sqrt(uniforms.bc2) + uniforms.epsilon));
}`;

/** param, m, v, grad[, scale] -> [param', m', v']. */
const adamw: KernelFunc = ({ inputs, backend, attrs }) => {
  const { param, m, v, grad, scale } = inputs as Record<'param' | 'm' | 'v' | 'grad', TensorInfo> & { scale?: TensorInfo };
  const a = attrs as unknown as AdamWStepAttrs;
  const shape = [...param.shape];
  const n = size(shape);
  const uniforms: Uniform[] = [a.lr, a.beta1, a.beta2, a.epsilon, a.weightDecay, a.gradScale, a.bc1, a.bc2].map((x) => ({ type: 'float32', data: [x] }));
  const scaled = scale !== undefined;
  const momentProgram = (which: 'm' | 'v'): WebGPUProgram => program({
    key: `smAdamW_${which}_${scaled}`, outputShape: shape, inputs: ['M', 'G', ...(scaled ? ['Scale'] : [])], uniforms: ADAMW_UNIFORMS, code: moment(which, scaled),
  });
  const extra = scaled ? [scale] : [];
  const m1 = run(backend as KernelBackend, momentProgram('m'), [m, grad, ...extra], n, uniforms);
  const v1 = run(backend as KernelBackend, momentProgram('v'), [v, grad, ...extra], n, uniforms);
  const p1 = run(backend as KernelBackend, program({ key: 'smAdamW_p', outputShape: shape, inputs: ['P', 'M', 'V'], uniforms: ADAMW_UNIFORMS, code: PARAM }), [param, m1, v1], n, uniforms);
  return [p1, m1, v1];
};

const REDUCE = 256;

/** Inputs named 0..n-1 -> a scalar: the sum of their squares. Per input, workgroup partial sums added atomically. */
const squaredNorm: KernelFunc = ({ inputs, backend }) => {
  const list = (Object.values(inputs) as TensorInfo[]).filter((t) => size(t.shape) > 0);
  const out = zerosOn(backend as KernelBackend, []);
  const b = backend as unknown as WebGPUBackend;
  for (const t of list) {
    const n = size(t.shape);
    const groups = Math.min(Math.ceil(n / REDUCE), 1024);
    const p = {
      outputShape: [],
      shaderKey: 'smSquaredNorm',
      dispatchLayout: { x: [0] },
      dispatch: [groups, 1, 1],
      variableNames: ['X'],
      uniforms: 'n : i32, stride : i32,',
      workgroupSize: [REDUCE, 1, 1],
      atomic: true,
      getUserCode: () => `${ATOMIC_ADD}
var<workgroup> partial : array<f32, ${REDUCE}>;
fn main(index : i32) {
  var acc = 0.0;
  for (var i = index; i < uniforms.n; i += uniforms.stride) { let x = X[i]; acc += x * x; }
  partial[localIndex] = acc;
  workgroupBarrier();
  for (var half = ${REDUCE / 2}u; half > 0u; half = half / 2u) {
    if (localIndex < half) { partial[localIndex] += partial[localIndex + half]; }
    workgroupBarrier();
  }
  if (localIndex == 0u) { atomicAddF32(0, partial[0]); }
}`,
    } as unknown as WebGPUProgram;
    b.runWebGPUProgram(p, [t], 'float32', [{ type: 'int32', data: [n] }, { type: 'int32', data: [groups * REDUCE] }], out);
  }
  return out;
};

export const optimizerWebGpu = { adamw, squaredNorm };
