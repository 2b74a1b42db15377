// Training-mode batch norm and group norm (with an optional fused ReLU) as single tfjs ops. With
// @sm-nas/native-kernels active on the wasm backend each is one native kernel forward and one backward
// (kernels/norm-native.ts); elsewhere (another backend, SM_NAS_NATIVE=0, the addon not built, a
// non-float32 input) they are composed from tfjs ops, as tfjs users write them (moments, then
// batchNorm), and differentiated by tfjs.
//
// The native path's batch statistics (mean, variance) carry no gradient: they are for running
// averages, not for a loss.
import * as tf from '@tensorflow/tfjs-core';
import { NORM_GRAD_KERNEL, NORM_KERNEL, STANDARDIZE_GRAD_KERNEL, STANDARDIZE_KERNEL, type NormAttrs, type StandardizeAttrs } from './kernels/norm-native.js';

export interface NormOptions {
  /** Added to the variance; default 1e-5 (PyTorch's BatchNorm2d and GroupNorm). */
  epsilon?: number;
  /** Apply ReLU to the output. */
  relu?: boolean;
}

export interface BatchNormResult<T extends tf.Tensor> {
  y: T;
  /** The batch's per-channel mean and (biased) variance, [c]. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** Whether the native kernel runs `x` on the current backend. */
export function nativeNormActive(x?: tf.Tensor): boolean {
  return (x === undefined || x.dtype === 'float32') && tf.getKernel(NORM_KERNEL, tf.getBackend()) !== undefined;
}

/**
 * Batch norm in training mode over all axes but the last (channels): y = relu?(scale * (x - mean)
 * / sqrt(variance + epsilon) + offset) with the batch's statistics.
 */
export function batchNormTraining<T extends tf.Tensor>(x: T, scale: tf.Tensor1D, offset: tf.Tensor1D, options: NormOptions = {}): BatchNormResult<T> {
  const epsilon = options.epsilon ?? 1e-5;
  const relu = options.relu ?? false;
  const c = x.shape[x.rank - 1]!;
  if (nativeNormActive(x)) {
    const attrs: NormAttrs = { groups: c, acrossBatch: true, epsilon, relu };
    const [y, mean, variance] = tf.engine().runKernel(NORM_KERNEL, { x, scale, offset }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return { y: y as T, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const y = tf.batchNorm(x, mean, variance, offset, scale, epsilon);
  return { y: (relu ? tf.relu(y) : y) as T, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

/**
 * Group norm (Wu & He 2018; PyTorch's nn.GroupNorm) of NHWC x: statistics per sample over each
 * group of c/groups consecutive channels and all pixels, then the per-channel affine.
 */
export function groupNorm(x: tf.Tensor4D, scale: tf.Tensor1D, offset: tf.Tensor1D, groups: number, options: NormOptions = {}): tf.Tensor4D {
  const epsilon = options.epsilon ?? 1e-5;
  const relu = options.relu ?? false;
  const [n, h, w, c] = x.shape;
  if (c % groups !== 0) throw new RangeError(`groupNorm: ${c} channels do not split into ${groups} groups`);
  if (nativeNormActive(x)) {
    const attrs: NormAttrs = { groups, acrossBatch: false, epsilon, relu };
    const [y] = tf.engine().runKernel(NORM_KERNEL, { x, scale, offset }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return y as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const xg = tf.reshape(x, [n, h * w, groups, c / groups]);
    const { mean, variance } = tf.moments(xg, [1, 3], true);
    const normed = tf.reshape(tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, epsilon))), [n, h, w, c]);
    const y = tf.add(tf.mul(normed, scale), offset) as tf.Tensor4D;
    return relu ? tf.relu(y) : y;
  });
}

/**
 * Weight standardisation (Qiao et al. 2019; mmcv conv_ws_2d) of a filter [..., o]: per output
 * channel (last axis), (w - mean) / (std + epsilon) with the unbiased std; epsilon default 1e-5.
 */
export function weightStandardize<T extends tf.Tensor>(w: T, epsilon = 1e-5): T {
  if (nativeNormActive(w) && w.size > w.shape[w.rank - 1]!) {
    const attrs: StandardizeAttrs = { epsilon };
    const [y] = tf.engine().runKernel(STANDARDIZE_KERNEL, { w }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return y as T;
  }
  return tf.tidy(() => {
    const axes = Array.from({ length: w.rank - 1 }, (_, i) => i);
    const n = w.size / w.shape[w.rank - 1]!;
    const { mean, variance } = tf.moments(w, axes, true);
    const std = tf.sqrt(tf.mul(variance, n > 1 ? n / (n - 1) : 1));
    return tf.div(tf.sub(w, mean), tf.add(std, epsilon)) as T;
  });
}

tf.registerGradient({
  kernelName: STANDARDIZE_KERNEL,
  inputsToSave: ['w'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [w, mean, std] = saved as tf.Tensor[];
    const dy = Array.isArray(dys) ? dys[0]! : dys;
    const dw = tf.engine().runKernel(STANDARDIZE_GRAD_KERNEL, { dy, w: w!, mean: mean!, std: std! }, attrs) as tf.Tensor;
    return { w: () => dw };
  },
});

tf.registerGradient({
  kernelName: NORM_KERNEL,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [true, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, scale, y, mean, variance] = saved as tf.Tensor[];
    const dy = Array.isArray(dys) ? dys[0]! : dys;
    const [dx, dscale, doffset] = tf.engine().runKernel(NORM_GRAD_KERNEL, { dy, x: x!, y: y!, scale: scale!, mean: mean!, variance: variance! }, attrs) as tf.Tensor[];
    return { x: () => dx!, scale: () => dscale!, offset: () => doffset! };
  },
});
