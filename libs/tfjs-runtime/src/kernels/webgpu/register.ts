// This package's custom kernels on the webgpu backend, in WGSL: without them the JS kernels that
// ../roi-align.ts, ../deform-sample.ts and ../optimizer.ts register for any backend would read their
// inputs synchronously, which WebGPU in Node cannot do; the norms replace ~10 composed tfjs kernels
// each way (../../norm.ts uses them where they are registered, as on wasm with the addon).
import { Conv2DBackpropFilter, getKernel, registerKernel, unregisterKernel, type KernelFunc } from '@tensorflow/tfjs-core';
import { ADAMW_STEP, SQUARED_NORM } from '../optimizer.js';
import { DEFORM_SAMPLE, DEFORM_SAMPLE_INPUT_GRAD, DEFORM_SAMPLE_OFFSET_GRAD } from '../deform-sample.js';
import { ROI_ALIGN, ROI_ALIGN_GRAD } from '../roi-align.js';
import { NORM_GRAD_KERNEL, NORM_KERNEL, STANDARDIZE_GRAD_KERNEL, STANDARDIZE_KERNEL } from '../norm-native.js';
import { conv2dBackpropFilter } from './conv-filter-grad.js';
import { deformSampleWebGpu } from './deform-sample.js';
import { normWebGpu } from './norm.js';
import { optimizerWebGpu } from './optimizer.js';
import { roiAlignWebGpu } from './roi-align.js';

export const WEBGPU_KERNELS: Record<string, KernelFunc> = {
  [ROI_ALIGN]: roiAlignWebGpu.forward,
  [ROI_ALIGN_GRAD]: roiAlignWebGpu.gradient,
  [DEFORM_SAMPLE]: deformSampleWebGpu.forward,
  [DEFORM_SAMPLE_INPUT_GRAD]: deformSampleWebGpu.inputGradient,
  [DEFORM_SAMPLE_OFFSET_GRAD]: deformSampleWebGpu.offsetGradient,
  [ADAMW_STEP]: optimizerWebGpu.adamw,
  [SQUARED_NORM]: optimizerWebGpu.squaredNorm,
  [NORM_KERNEL]: normWebGpu.normForward,
  [NORM_GRAD_KERNEL]: normWebGpu.normBackward,
  [STANDARDIZE_KERNEL]: normWebGpu.standardize,
  [STANDARDIZE_GRAD_KERNEL]: normWebGpu.standardizeGrad,
};

/** tfjs-backend-webgpu's kernels replaced by this package's (see each file for why). */
export const WEBGPU_REPLACED: Record<string, KernelFunc> = {
  [Conv2DBackpropFilter]: conv2dBackpropFilter,
};

let replaced = false;

/** Registers the WGSL kernels for `webgpu` (idempotent). */
export function registerWebGpuKernels(): void {
  for (const [kernelName, kernelFunc] of Object.entries(WEBGPU_KERNELS)) {
    if (!getKernel(kernelName, 'webgpu')) registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
  }
  if (replaced) return;
  replaced = true;
  for (const [kernelName, kernelFunc] of Object.entries(WEBGPU_REPLACED)) {
    if (getKernel(kernelName, 'webgpu')) unregisterKernel(kernelName, 'webgpu');
    registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
  }
}
