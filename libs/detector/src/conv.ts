// Convolutions as the lowering describes them (PyTorch arithmetic: symmetric zero padding, floor),
// in NHWC with filters stored [k, k, in/groups, out] (TensorFlow's grouped layout). tfjs has no
// `groups`: depthwise convolutions go to its depthwise kernel, other grouped ones (ResNeXt) to
// `groupedConv2d` below unless libs/tfjs-runtime provides one.

import * as tf from '@tensorflow/tfjs-core';
import * as runtime from '@sm-nas/tfjs-runtime';
import type { ActivationKind } from '@sm-nas/arch/graph';

export type FusedActivation = ActivationKind | 'linear';

type GroupedConv2dFn = (x: tf.Tensor4D, filter: tf.Tensor4D, strides: number, pad: number, groups: number) => tf.Tensor4D;

/** libs/tfjs-runtime's grouped convolution, when it exports one (same filter layout as ours). */
const runtimeGroupedConv2d = (runtime as Record<string, unknown>)['groupedConv2d'] as GroupedConv2dFn | undefined;

/** Which grouped-convolution implementation runs: the runtime's or this package's. */
export const GROUPED_CONV_IMPLEMENTATION: 'tfjs-runtime' | 'detector' =
  typeof runtimeGroupedConv2d === 'function' ? 'tfjs-runtime' : 'detector';

/**
 * Grouped convolution with exactly the multiply-adds of one (no block-diagonal dense filter).
 * `filter` is [k, k, in/groups, out], output channel o belongs to group floor(o / (out/groups)).
 *
 * With few input channels per group (ResNeXt's 4 at width 64) it is one depthwise convolution with
 * channel multiplier out/groups, whose in/groups partial sums per output channel are then added: the
 * depthwise kernel computes in * (out/groups) * k² = out * (in/groups) * k² products per pixel, the
 * grouped convolution's count. With many, one convolution per group on channel slices.
 */
export function groupedConv2d(x: tf.Tensor4D, filter: tf.Tensor4D, strides: number, pad: number, groups: number): tf.Tensor4D {
  const [k, , cinG, cout] = filter.shape;
  const cin = x.shape[3];
  if (cinG * groups !== cin || cout % groups !== 0) {
    throw new RangeError(`groupedConv2d: ${cin} input and ${cout} output channels in ${groups} groups (filter ${filter.shape.join('x')})`);
  }
  const coutG = cout / groups;
  return tf.tidy((): tf.Tensor4D => {
    if (cinG <= 8) {
      // dw[:, :, g*cinG + i, j] = filter[:, :, i, g*coutG + j]
      const dw = tf.reshape(tf.transpose(tf.reshape(filter, [k, k, cinG, groups, coutG]), [0, 1, 3, 2, 4]), [k, k, cin, coutG]);
      const z = tf.depthwiseConv2d(x, dw as tf.Tensor4D, strides, pad);
      const [n, h, w] = z.shape;
      if (cinG === 1) return z;
      return tf.reshape(tf.sum(tf.reshape(z, [n, h, w, groups, cinG, coutG]), 4), [n, h, w, cout]) as tf.Tensor4D;
    }
    const xs = tf.split(x, groups, 3) as tf.Tensor4D[];
    const fs = tf.split(filter, groups, 3) as tf.Tensor4D[];
    return tf.concat(xs.map((xi, g) => tf.conv2d(xi, fs[g]!, strides, pad)), 3);
  });
}

export interface ConvSpec {
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
}

/** One convolution with optional bias and activation, fused where tfjs can. */
export function convolve(
  x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | null, activation: FusedActivation, spec: ConvSpec,
): tf.Tensor4D {
  const { stride, padding, dilation, groups } = spec;
  const cin = x.shape[3];
  const [k, , cinG, cout] = filter.shape;
  if (groups === 1) {
    // tfjs's fused conv2d fuses only a linear activation while gradients are recorded.
    if (activation === 'relu' && dilation === 1) return runtime.conv2dBiasRelu(x, filter, bias, stride, padding);
    return tf.fused.conv2d({ x, filter, strides: stride, pad: padding, dilations: dilation, bias: bias ?? undefined, activation });
  }
  if (cinG === 1 && groups === cin) {
    // Depthwise (MobileNetV2): [k, k, 1, cin*m] is [k, k, cin, m] with o = i*m + j.
    const dw = tf.reshape(filter, [k, k, cin, cout / cin]) as tf.Tensor4D;
    return tf.fused.depthwiseConv2d({ x, filter: dw, strides: stride, pad: padding, dilations: dilation, bias: bias ?? undefined, activation });
  }
  if (dilation !== 1) throw new RangeError('grouped convolution with dilation is not supported');
  const y = (runtimeGroupedConv2d ?? groupedConv2d)(x, filter, stride, padding, groups);
  if (bias === null && activation === 'linear') return y;
  return tf.tidy(() => {
    const b = bias === null ? y : tf.add(y, bias);
    return activate(b as tf.Tensor4D, activation);
  });
}

export function activate(x: tf.Tensor4D, activation: FusedActivation): tf.Tensor4D {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    default:
      return x;
  }
}
