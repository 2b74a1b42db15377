// Convolution kernels for the wasm backend that run oneDNN (@sm-nas/native-kernels) in place on the wasm
// heap: the addon reads the inputs and writes the output (allocated by the backend) at their
// memory offsets, no copy. Any case they do not take (another data format or dtype, a leaky or
// PReLU activation, a rounding mode oneDNN's output size disagrees with, empty tensors) goes to
// the kernel registered before them (XNNPACK, or this package's composed gradients).
import {
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNative,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  FusedConv2D,
  FusedDepthwiseConv2D,
  MaxPoolGrad,
  Mean,
  Sum,
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { CONV_ARGS, ConvActivation, ConvArg, MAX_POOL_GRAD_ARGS, MaxPoolGradArg, SUM_ARGS, SumArg, loadNativeKernels, type NativeKernels } from '@sm-nas/native-kernels';
import { normKernelFuncs } from './norm-native.js';
import { deformSampleKernelFuncs } from './deform-sample-native.js';
import { roiAlignKernelFuncs } from './roi-align-native.js';
import { optimizerKernelFuncs } from './optimizer-native.js';
import { floatOffset, type WasmBackend } from './wasm-heap.js';

type Shape4 = [number, number, number, number];
type Direction = 'forward' | 'data' | 'weights';

/** The kernels registered when the addon loads. */
export const NATIVE_KERNELS = [
  Conv2D,
  FusedConv2D,
  Conv2DBackpropInput,
  Conv2DBackpropFilter,
  DepthwiseConv2dNative,
  FusedDepthwiseConv2D,
  DepthwiseConv2dNativeBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  Sum,
  Mean,
  MaxPoolGrad,
] as const;

export type NativeStatus = { active: true; library: string; threads: number } | { active: false; reason: string };

let status: NativeStatus | undefined;
const fallbacks = new Map<string, KernelConfig>();

/**
 * Replaces the wasm backend's convolution kernels with oneDNN's when @sm-nas/native-kernels loads and
 * `SM_NAS_NATIVE` is not 0 (idempotent; call after `registerWasmKernels`). Returns whether they
 * run, or why not.
 */
export function registerNativeKernels(threads: number, env: Record<string, string | undefined> = process.env): NativeStatus {
  if (status) return status;
  const load = loadNativeKernels(env);
  if (!load.ok) return (status = { active: false, reason: load.reason });
  const dnn = load.addon;
  dnn.setThreads(Math.max(1, threads));
  for (const [kernelName, kernelFunc] of Object.entries(nativeKernelFuncs(dnn))) {
    const previous = getKernel(kernelName, 'wasm');
    if (previous) {
      fallbacks.set(kernelName, previous);
      unregisterKernel(kernelName, 'wasm');
    }
    registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
  // The norms and grouped convolutions are new kernels (nothing to fall back to): ../norm.ts and
  // ../grouped-conv.ts compose tfjs ops without them.
  // RoIAlign, the deformable sampling and the optimiser's kernels replace the JS kernels that
  // ./roi-align.ts, ./deform-sample.ts and ./optimizer.ts register for any backend on first use.
  normConfigs = Object.entries({ ...normKernelFuncs(dnn), ...groupedKernelFuncs(dnn), ...roiAlignKernelFuncs(dnn), ...deformSampleKernelFuncs(dnn), ...optimizerKernelFuncs(dnn) }).map(([kernelName, kernelFunc]) => ({ kernelName, backendName: 'wasm', kernelFunc }));
  for (const config of normConfigs) {
    if (getKernel(config.kernelName, 'wasm')) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
  return (status = { active: true, library: `oneDNN ${dnn.version}`, threads: dnn.threads() });
}

/** Whether the native kernels run; undefined before `registerNativeKernels`. */
export function nativeKernelStatus(): NativeStatus | undefined {
  return status;
}

function fallback(kernelName: string, args: Parameters<KernelFunc>[0]): TensorInfo {
  const config = fallbacks.get(kernelName);
  if (!config) throw new Error(`${kernelName}: oneDNN does not take this case and the wasm backend has no other kernel`);
  return config.kernelFunc(args) as TensorInfo;
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: backend_util.ExplicitPadding | 'valid' | 'same' | number;
  dataFormat?: string;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The geometry part of the addon's arguments, or undefined when oneDNN cannot run it. */
function geometry(xShape: Shape4, filterShape: Shape4, attrs: ConvAttrs, depthwise: boolean, grouped = 1): Float64Array | undefined {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return undefined;
  const info = backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, depthwise, 'channelsLast');
  const p = info.padInfo;
  // oneDNN's output size is floor((in + pads - effective filter) / stride) + 1.
  const oh = Math.floor((info.inHeight + p.top + p.bottom - info.effectiveFilterHeight) / info.strideHeight) + 1;
  const ow = Math.floor((info.inWidth + p.left + p.right - info.effectiveFilterWidth) / info.strideWidth) + 1;
  if (oh !== info.outHeight || ow !== info.outWidth || Math.min(p.top, p.bottom, p.left, p.right) < 0) return undefined;
  if (util.sizeFromShape(xShape) === 0 || util.sizeFromShape(info.outShape) === 0) return undefined;
  const groups = depthwise ? info.inChannels : grouped;
  if (!depthwise && (filterShape[2] * groups !== xShape[3] || filterShape[3] % groups !== 0)) return undefined;
  const args = new Float64Array(CONV_ARGS);
  args.set(
    [
      info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
      info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
      p.top, p.left, p.bottom, p.right, groups,
    ],
    ConvArg.N,
  );
  args[ConvArg.BIAS] = -1;
  return args;
}

function nativeKernelFuncs(dnn: NativeKernels): Record<string, KernelFunc> {
  const run = (direction: Direction, backend: WasmBackend, args: Float64Array, a: TensorInfo, b: TensorInfo, outShape: number[], bias?: TensorInfo): TensorInfo => {
    const out = backend.makeOutput(outShape, 'float32');
    args[ConvArg.A] = floatOffset(backend, a);
    args[ConvArg.B] = floatOffset(backend, b);
    args[ConvArg.C] = floatOffset(backend, out);
    if (bias) args[ConvArg.BIAS] = floatOffset(backend, bias);
    // The heap is read at each call: a non-shared wasm memory is a new buffer after it grows.
    const heap = backend.wasm.HEAPU8;
    if (direction === 'forward') dnn.convForward(heap, args);
    else if (direction === 'data') dnn.convBackwardData(heap, args);
    else dnn.convBackwardWeights(heap, args);
    return out;
  };
  const float32 = (...ts: (TensorInfo | undefined)[]) => ts.every((t) => t === undefined || t.dtype === 'float32');

  const forward = (kernelName: string, depthwise: boolean, fused: boolean): KernelFunc => (params) => {
    const backend = params.backend as unknown as WasmBackend;
    const { x, filter, bias, preluActivationWeights } = params.inputs as Record<string, TensorInfo | undefined>;
    const attrs = params.attrs as unknown as ConvAttrs & { activation?: backend_util.Activation };
    const activation = fused ? (attrs.activation ?? 'linear') : 'linear';
    const act = activation === 'linear' ? ConvActivation.none : activation === 'relu' ? ConvActivation.relu : activation === 'relu6' ? ConvActivation.relu6 : undefined;
    const args = geometry(x!.shape as Shape4, filter!.shape as Shape4, attrs, depthwise);
    const oc = filter!.shape[depthwise ? 2 : 3]! * (depthwise ? filter!.shape[3]! : 1);
    if (!args || act === undefined || preluActivationWeights || (bias && util.sizeFromShape(bias.shape) !== oc) || !float32(x, filter, bias)) {
      return fallback(kernelName, params);
    }
    args[ConvArg.ACT] = act;
    return run('forward', backend, args, x!, filter!, [args[ConvArg.N]!, args[ConvArg.OH]!, args[ConvArg.OW]!, oc], bias);
  };

  const backwardData = (kernelName: string, depthwise: boolean): KernelFunc => (params) => {
    const backend = params.backend as unknown as WasmBackend;
    const { dy, filter } = params.inputs as Record<string, TensorInfo>;
    const attrs = params.attrs as unknown as ConvAttrs & { inputShape: Shape4 };
    const args = geometry(attrs.inputShape, filter!.shape as Shape4, attrs, depthwise);
    if (!args || !float32(dy, filter)) return fallback(kernelName, params);
    return run('data', backend, args, dy!, filter!, [...attrs.inputShape]);
  };

  const backwardWeights = (kernelName: string, depthwise: boolean): KernelFunc => (params) => {
    const backend = params.backend as unknown as WasmBackend;
    const { x, dy } = params.inputs as Record<string, TensorInfo>;
    const attrs = params.attrs as unknown as ConvAttrs & { filterShape: Shape4 };
    const args = geometry(x!.shape as Shape4, attrs.filterShape, attrs, depthwise);
    if (!args || !float32(x, dy)) return fallback(kernelName, params);
    return run('weights', backend, args, x!, dy!, [...attrs.filterShape]);
  };

  // Sum / Mean over consecutive axes that are not the innermost (a bias gradient, a global pool):
  // one in-order pass instead of the backend's transpose-then-reduce.
  const reduce = (kernelName: string, mean: boolean): KernelFunc => (params) => {
    const backend = params.backend as unknown as WasmBackend;
    const { x } = params.inputs as Record<string, TensorInfo>;
    const { axis, keepDims } = params.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const shape = x!.shape;
    const axes = util.parseAxisParam(axis, shape).sort((a, b) => a - b);
    const first = axes[0] ?? 0, last = axes[axes.length - 1] ?? 0;
    const product = (from: number, to: number) => shape.slice(from, to).reduce((a, b) => a * b, 1);
    const inner = product(last + 1, shape.length);
    if (x!.dtype !== 'float32' || axes.length === 0 || last - first + 1 !== axes.length || inner < 4 || util.sizeFromShape(shape) === 0) {
      return fallback(kernelName, params);
    }
    const mid = product(first, last + 1);
    const outShape = keepDims ? shape.map((n, i) => (i >= first && i <= last ? 1 : n)) : shape.filter((_, i) => i < first || i > last);
    const out = backend.makeOutput(outShape, 'float32');
    const args = new Float64Array(SUM_ARGS);
    args[SumArg.X] = floatOffset(backend, x!);
    args[SumArg.Y] = floatOffset(backend, out);
    args.set([product(0, first), mid, inner, mean ? 1 / mid : 1], SumArg.OUTER);
    dnn.sumMiddle(backend.wasm.HEAPU8, args);
    return out;
  };

  // Max pooling's gradient: one scan of each output's window (the backend's kernel rescans every
  // input pixel's windows).
  const maxPoolGrad: KernelFunc = (params) => {
    const backend = params.backend as unknown as WasmBackend;
    const { dy, input } = params.inputs as Record<string, TensorInfo>;
    const attrs = params.attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: ConvAttrs['pad']; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
    const info = backend_util.computePool2DInfo(input!.shape as Shape4, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
    if (!float32(dy, input) || dy!.shape[1] !== info.outHeight || dy!.shape[2] !== info.outWidth || util.sizeFromShape(input!.shape) === 0) {
      return fallback(MaxPoolGrad, params);
    }
    const dx = backend.makeOutput([...input!.shape], 'float32');
    const args = new Float64Array(MAX_POOL_GRAD_ARGS);
    args[MaxPoolGradArg.X] = floatOffset(backend, input!);
    args[MaxPoolGradArg.DY] = floatOffset(backend, dy!);
    args[MaxPoolGradArg.DX] = floatOffset(backend, dx);
    args.set(
      [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.effectiveFilterHeight, info.effectiveFilterWidth,
        info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left],
      MaxPoolGradArg.N,
    );
    dnn.maxPoolGrad(backend.wasm.HEAPU8, args);
    return dx;
  };

  return {
    [MaxPoolGrad]: maxPoolGrad,
    [Sum]: reduce(Sum, false),
    [Mean]: reduce(Mean, true),
    [Conv2D]: forward(Conv2D, false, false),
    [FusedConv2D]: forward(FusedConv2D, false, true),
    [DepthwiseConv2dNative]: forward(DepthwiseConv2dNative, true, false),
    [FusedDepthwiseConv2D]: forward(FusedDepthwiseConv2D, true, true),
    [Conv2DBackpropInput]: backwardData(Conv2DBackpropInput, false),
    [DepthwiseConv2dNativeBackpropInput]: backwardData(DepthwiseConv2dNativeBackpropInput, true),
    [Conv2DBackpropFilter]: backwardWeights(Conv2DBackpropFilter, false),
    [DepthwiseConv2dNativeBackpropFilter]: backwardWeights(DepthwiseConv2dNativeBackpropFilter, true),
  } satisfies Record<(typeof NATIVE_KERNELS)[number], KernelFunc>;
}

/** Kernels: grouped convolution (PyTorch's `groups`), filter [kh, kw, ci/groups, co], and its gradients. */
export const GROUPED_CONV_KERNEL = 'SmNasGroupedConv2D';
export const GROUPED_CONV_INPUT_GRAD_KERNEL = 'SmNasGroupedConv2DBackpropInput';
export const GROUPED_CONV_FILTER_GRAD_KERNEL = 'SmNasGroupedConv2DBackpropFilter';

export interface GroupedConvAttrs extends ConvAttrs {
  groups: number;
}

function groupedKernelFuncs(dnn: NativeKernels): Record<string, KernelFunc> {
  const call = (direction: Direction, backend: WasmBackend, args: Float64Array, a: TensorInfo, b: TensorInfo, outShape: number[]): TensorInfo => {
    const out = backend.makeOutput(outShape, 'float32');
    args[ConvArg.A] = floatOffset(backend, a);
    args[ConvArg.B] = floatOffset(backend, b);
    args[ConvArg.C] = floatOffset(backend, out);
    const heap = backend.wasm.HEAPU8;
    if (direction === 'forward') dnn.convForward(heap, args);
    else if (direction === 'data') dnn.convBackwardData(heap, args);
    else dnn.convBackwardWeights(heap, args);
    return out;
  };
  const refuse = (what: string): never => {
    throw new Error(`${what}: oneDNN does not take this grouped convolution (callers check with groupedConvGeometryOk first)`);
  };
  return {
    [GROUPED_CONV_KERNEL]: ({ inputs, backend, attrs }) => {
      const { x, filter } = inputs as Record<string, TensorInfo>;
      const a = attrs as unknown as GroupedConvAttrs;
      const args = geometry(x!.shape as Shape4, filter!.shape as Shape4, a, false, a.groups) ?? refuse(GROUPED_CONV_KERNEL);
      args[ConvArg.ACT] = ConvActivation.none;
      return call('forward', backend as unknown as WasmBackend, args, x!, filter!, [args[ConvArg.N]!, args[ConvArg.OH]!, args[ConvArg.OW]!, filter!.shape[3]!]);
    },
    [GROUPED_CONV_INPUT_GRAD_KERNEL]: ({ inputs, backend, attrs }) => {
      const { dy, filter } = inputs as Record<string, TensorInfo>;
      const a = attrs as unknown as GroupedConvAttrs & { inputShape: Shape4 };
      const args = geometry(a.inputShape, filter!.shape as Shape4, a, false, a.groups) ?? refuse(GROUPED_CONV_INPUT_GRAD_KERNEL);
      return call('data', backend as unknown as WasmBackend, args, dy!, filter!, [...a.inputShape]);
    },
    [GROUPED_CONV_FILTER_GRAD_KERNEL]: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as Record<string, TensorInfo>;
      const a = attrs as unknown as GroupedConvAttrs & { filterShape: Shape4 };
      const args = geometry(x!.shape as Shape4, a.filterShape, a, false, a.groups) ?? refuse(GROUPED_CONV_FILTER_GRAD_KERNEL);
      return call('weights', backend as unknown as WasmBackend, args, x!, dy!, [...a.filterShape]);
    },
  };
}

/** Whether oneDNN takes this grouped convolution (NHWC float32, PyTorch's output size). */
export function groupedConvGeometryOk(xShape: Shape4, filterShape: Shape4, attrs: GroupedConvAttrs): boolean {
  return geometry(xShape, filterShape, attrs, false, attrs.groups) !== undefined;
}

/**
 * For tests and measurements: switch between the native kernels and the ones they replaced (the
 * native norms off: composed from tfjs ops).
 */
export function useNativeKernels(on: boolean): void {
  if (!status?.active) throw new Error('native kernels are not active');
  const natives = nativeConfigs ??= NATIVE_KERNELS.map((k) => getKernel(k, 'wasm')!);
  for (const config of on ? natives : [...fallbacks.values()]) {
    unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
  for (const config of normConfigs) {
    if (getKernel(config.kernelName, 'wasm')) unregisterKernel(config.kernelName, 'wasm');
    if (on) registerKernel(config);
  }
}
let nativeConfigs: KernelConfig[] | undefined;
let normConfigs: KernelConfig[] = [];
