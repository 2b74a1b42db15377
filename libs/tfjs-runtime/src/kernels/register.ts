// Gradient kernels for the wasm backend, composed from its XNNPACK forward convolutions, and a
// correct MaxPoolGrad (./max-pool-grad.ts).
import {
  Identity,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  MaxPoolGrad,
  UnsortedSegmentSum,
  getKernel,
  registerKernel,
  unregisterKernel,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { convBackpropFilter, convBackpropInput, convGeometry, flipConv2DFilter } from './conv-grad.js';
import { withScope } from './scope.js';
import { maxPoolGradKernel } from './max-pool-grad.js';
import { unsortedSegmentSumKernel } from './segment.js';

type Shape4 = [number, number, number, number];

function nhwcOnly(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernel} on wasm supports dataFormat NHWC only, got ${dataFormat}`);
  }
}

/** Kernel configs for `backendName` (registered for wasm; the tests also run them on cpu). */
export function gradKernelConfigs(backendName: string): KernelConfig[] {
  const conv2DBackpropFilter: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as KernelBackend;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
    nhwcOnly(Conv2DBackpropFilter, dataFormat);
    const g = convGeometry(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false);
    return withScope(backend, backendName, (s) => convBackpropFilter(s, x, dy, g, filterShape, false));
  };

  const conv2DBackpropInput: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as KernelBackend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
    nhwcOnly(Conv2DBackpropInput, dataFormat);
    const g = convGeometry(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false);
    return withScope(backend, backendName, (s) => convBackpropInput(s, dy, flipConv2DFilter(s, filter), g, false));
  };

  const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as KernelBackend;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
    const g = convGeometry(x.shape as Shape4, filterShape, strides, dilations, pad, dimRoundingMode, true);
    return withScope(backend, backendName, (s) => convBackpropFilter(s, x, dy, g, filterShape, true));
  };

  const depthwiseBackpropInput: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as KernelBackend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
    const [kh, kw, c, m] = filter.shape as Shape4;
    const g = convGeometry(inputShape, filter.shape as Shape4, strides, dilations, pad, dimRoundingMode, true);
    return withScope(backend, backendName, (s) => {
      // Each of the c*m output-gradient channels convolves with its own flipped tap; the m
      // multiplier channels of one input channel then add up.
      const flipped = s.reshape(s.reverse(filter, [0, 1]), [kh, kw, c * m, 1]);
      const dx = convBackpropInput(s, dy, flipped, g, true);
      return m === 1 ? s.reshape(dx, inputShape) : s.sum(s.reshape(dx, [...inputShape, m]), [4]);
    });
  };

  return [
    { kernelName: Conv2DBackpropFilter, backendName, kernelFunc: conv2DBackpropFilter },
    { kernelName: Conv2DBackpropInput, backendName, kernelFunc: conv2DBackpropInput },
    { kernelName: DepthwiseConv2dNativeBackpropFilter, backendName, kernelFunc: depthwiseBackpropFilter },
    { kernelName: DepthwiseConv2dNativeBackpropInput, backendName, kernelFunc: depthwiseBackpropInput },
    { kernelName: UnsortedSegmentSum, backendName, kernelFunc: unsortedSegmentSumKernel },
    { kernelName: MaxPoolGrad, backendName, kernelFunc: maxPoolGradKernel },
  ];
}

/** The kernels this package registers for wasm; `Conv2DBackpropInput` and `MaxPoolGrad` replace the backend's own. */
export const WASM_GRAD_KERNELS = [
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  UnsortedSegmentSum,
  MaxPoolGrad,
] as const;

/**
 * Identity (tf.clone) sharing the input's memory, as the cpu backend's does: the wasm backend's
 * copies it, and tfjs clones every tensor it saves for the backward pass (a full copy of most
 * activations per training step). Safe because tfjs tensors are immutable: no kernel writes into
 * its inputs, and a variable's assign rebinds it to another buffer.
 */
export const sharingIdentity: KernelConfig = {
  kernelName: Identity,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    if (x.dtype === 'string') return identityCopy!.kernelFunc({ inputs, backend, attrs: {} }) as TensorInfo;
    (backend as KernelBackend & { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  },
};
let identityCopy: KernelConfig | undefined;

let registered = false;
let ownConv2DBackpropInput: KernelConfig | undefined;

/**
 * Registers the gradient kernels for wasm (idempotent). Call after the wasm backend started, so
 * that its own Conv2DBackpropInput (which ours replaces) has been set up and can be switched back
 * to with `useWasmConv2DBackpropInput('wasm')`.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  ownConv2DBackpropInput = getKernel(Conv2DBackpropInput, 'wasm');
  identityCopy = getKernel(Identity, 'wasm');
  for (const config of [...gradKernelConfigs('wasm'), sharingIdentity]) {
    if (getKernel(config.kernelName, 'wasm')) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
}

/**
 * Which Conv2DBackpropInput the wasm backend runs: `composed` (ours: XNNPACK Conv2D, polyphase;
 * the default) or `wasm` (the backend's own direct loop). For measurements.
 */
export function useWasmConv2DBackpropInput(which: 'composed' | 'wasm'): void {
  if (!registered) throw new Error('registerWasmKernels() first');
  const config = which === 'wasm' ? ownConv2DBackpropInput : gradKernelConfigs('wasm').find((k) => k.kernelName === Conv2DBackpropInput);
  if (!config) throw new Error(`no ${which} Conv2DBackpropInput for wasm`);
  unregisterKernel(Conv2DBackpropInput, 'wasm');
  registerKernel(config);
}
