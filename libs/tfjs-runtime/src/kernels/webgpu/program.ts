// What this package's WGSL kernels share: a tfjs-backend-webgpu program over a flat dispatch (one
// invocation per element of `dispatchShape`), the backend's own zero fill for scatter outputs, and a
// float atomic add (WGSL has atomics on integers only: a compare-exchange loop on the bits, as
// tfjs's own scatter kernels do).
import { Fill, getKernel, util, type KernelBackend, type TensorInfo } from '@tensorflow/tfjs-core';
import { webgpu_util, type WebGPUBackend, type WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

export type { WebGPUBackend };

export interface Uniform {
  type: 'int32' | 'float32';
  data: number[];
}

const WORKGROUP = 64;

/**
 * A program whose `main(index)` runs once per element of `dispatchShape` (the output's shape unless
 * the kernel scatters into its output from its inputs' elements). `uniforms` declares the extra
 * uniform fields (`name : type,` each), read as `uniforms.name`. With `atomic`, the output is
 * `array<atomic<i32>>` holding float bits, written with `atomicAddF32`.
 */
export function program(options: {
  key: string;
  outputShape: number[];
  dispatchShape?: number[];
  inputs: string[];
  uniforms?: string;
  atomic?: boolean;
  code: string;
}): WebGPUProgram {
  const dispatchShape = options.dispatchShape ?? options.outputShape;
  const dispatchLayout = webgpu_util.flatDispatchLayout(dispatchShape);
  const workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  return {
    outputShape: options.outputShape,
    shaderKey: options.key,
    dispatchLayout,
    dispatch: webgpu_util.computeDispatch(dispatchLayout, dispatchShape, workgroupSize),
    variableNames: options.inputs,
    uniforms: `count : i32, ${options.uniforms ?? ''}`,
    workgroupSize,
    atomic: options.atomic ?? false,
    getUserCode: () => (options.atomic ? ATOMIC_ADD : '') + options.code,
  } as WebGPUProgram;
}

/** `atomicAddF32(i, v)`: adds v to element i of an atomic (`array<atomic<i32>>`) output. */
export const ATOMIC_ADD = `
fn atomicAddF32(i : i32, v : f32) {
  var old = atomicLoad(&result[i]);
  loop {
    let r = atomicCompareExchangeWeak(&result[i], old, bitcast<i32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
`;

/**
 * Runs `p`; `count` (the number of invocations that do work, `uniforms.count`) comes first among
 * the uniforms. An atomic program scatters into a zero-filled output.
 */
export function run(backend: KernelBackend, p: WebGPUProgram, inputs: TensorInfo[], count: number, uniforms: Uniform[] = []): TensorInfo {
  const b = backend as unknown as WebGPUBackend;
  const data = [{ type: 'int32', data: [count] }, ...uniforms];
  if (!p.atomic) return b.runWebGPUProgram(p, inputs, 'float32', data);
  const zeros = zerosOn(backend, p.outputShape);
  if (util.sizeFromShape(p.outputShape) === 0 || count === 0) return zeros;
  return b.runWebGPUProgram(p, inputs, 'float32', data, zeros);
}

/** A float32 tensor of zeros on the GPU, by the backend's own Fill kernel. */
export function zerosOn(backend: KernelBackend, shape: number[]): TensorInfo {
  const fill = getKernel(Fill, 'webgpu');
  if (!fill) throw new Error('webgpu backend has no Fill kernel');
  return fill.kernelFunc({ inputs: {}, backend, attrs: { shape, value: 0, dtype: 'float32' } }) as TensorInfo;
}

/** The WGSL of a bilinear sample coordinate along one axis (mmcv's rules, as ../roi-align.ts's axisSample). */
export const AXIS_SAMPLE = `
// (lo, hi, frac) of coordinate v on an axis of n cells; lo < 0 when v lies beyond one cell past the map.
fn axisSample(v0 : f32, n : i32) -> vec3<f32> {
  var v = v0;
  if (v < -1.0 || v > f32(n)) { return vec3<f32>(-1.0, -1.0, 0.0); }
  if (v <= 0.0) { v = 0.0; }
  let lo = i32(floor(v));
  if (lo >= n - 1) { return vec3<f32>(f32(n - 1), f32(n - 1), 0.0); }
  return vec3<f32>(f32(lo), f32(lo + 1), v - f32(lo));
}
`;
