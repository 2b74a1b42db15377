export * as tf from '@tensorflow/tfjs-core';
export {
  BACKEND_ENV,
  THREADS_ENV,
  backendInfo,
  describeBackend,
  initBackend,
  parseBackendChoice,
  type BackendChoice,
  type BackendInfo,
  type InitBackendOptions,
} from './backend.js';
export { NATIVE_KERNELS, nativeKernelStatus, registerNativeKernels, useNativeKernels, type NativeStatus } from './kernels/native.js';
export { NATIVE_ENV } from '@sm-nas/native-kernels';
export { WASM_GRAD_KERNELS, gradKernelConfigs, registerWasmKernels, useWasmConv2DBackpropInput } from './kernels/register.js';
export { groupedConv2d, type GroupedConvImpl } from './grouped-conv.js';
export { batchNormTraining, groupNorm, nativeNormActive, weightStandardize, type BatchNormResult, type NormOptions } from './norm.js';
export { registerRoiAlign, roiAlign, roiAlignLevels, ROI_ALIGN, ROI_ALIGN_GRAD, type RoiAlignAttrs, type RoiAlignLevelsAttrs } from './kernels/roi-align.js';
export { deformSample, registerDeformSample, DEFORM_SAMPLE, DEFORM_SAMPLE_INPUT_GRAD, DEFORM_SAMPLE_OFFSET_GRAD, type DeformSampleAttrs } from './kernels/deform-sample.js';
export { AdamW, squaredNorm, type AdamWConfig } from './adamw.js';
export { ADAMW_STEP, SQUARED_NORM, registerOptimizerKernels, type AdamWStepAttrs } from './kernels/optimizer.js';
export { conv2dBiasRelu } from './conv-relu.js';
export { variableGradsAsync } from './grads-async.js';
export { trainingMemoryLimit, WASM_HEAP_MAX_BYTES } from './memory.js';
export { deviceIdle, kernelMs } from './device-sync.js';
export { TFJS_BACKEND_VARIABLES } from './choice.js';
export { WEBGPU_ADAPTER_ENV, vulkanMissing, type GpuAdapterInfo } from './webgpu.js';
