// Grouped convolution (ResNeXt), which tfjs lacks. With @sm-nas/native-kernels on wasm, one oneDNN
// convolution with `groups` each way (forward, input and filter gradients). Otherwise two
// compositions, both differentiable through tfjs's own gradients:
// - `split`: one conv2d per group on a channel slice, outputs concatenated;
// - `depthwise`: one depthwise conv with multiplier co/groups on a regrouped filter, then the
//   cg = ci/groups products of each output channel summed; one kernel call, but a cg-times larger
//   intermediate and XNNPACK's depthwise path.
import * as tf from '@tensorflow/tfjs-core';
import {
  GROUPED_CONV_FILTER_GRAD_KERNEL, GROUPED_CONV_INPUT_GRAD_KERNEL, GROUPED_CONV_KERNEL, groupedConvGeometryOk, type GroupedConvAttrs,
} from './kernels/native.js';

export type GroupedConvImpl = 'split' | 'depthwise';

/**
 * NHWC grouped 2-D convolution: x [n, h, w, ci], filter [kh, kw, ci/groups, co]; output channel
 * block g sees input channel block g only (PyTorch's `groups`).
 */
export function groupedConv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number | [number, number],
  pad: 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]],
  groups: number,
  impl: GroupedConvImpl = 'split',
): tf.Tensor4D {
  const ci = x.shape[3];
  const [kh, kw, cg, co] = filter.shape;
  if (ci % groups !== 0 || co % groups !== 0 || cg * groups !== ci) {
    throw new Error(`groupedConv2d: ${ci} input and ${co} output channels, filter [${filter.shape.join(', ')}], do not split into ${groups} groups`);
  }
  if (groups === 1) return tf.conv2d(x, filter, strides, pad) as tf.Tensor4D;
  // With @sm-nas/native-kernels on wasm: one oneDNN grouped convolution each way (its `groups`).
  const attrs: GroupedConvAttrs = { strides, pad, groups, dataFormat: 'NHWC', dilations: 1 };
  if (x.dtype === 'float32' && tf.getKernel(GROUPED_CONV_KERNEL, tf.getBackend()) && groupedConvGeometryOk(x.shape, filter.shape, attrs)) {
    return tf.engine().runKernel(GROUPED_CONV_KERNEL, { x, filter }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    if (impl === 'split') {
      const xs = tf.split(x, groups, 3);
      const fs = tf.split(filter, groups, 3);
      return tf.concat(xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, fs[i] as tf.Tensor4D, strides, pad)), 3) as tf.Tensor4D;
    }
    const m = co / groups;
    // f[kh, kw, g*cg + j, m] = filter[kh, kw, j, g*m + m']
    const f = tf.reshape(tf.transpose(tf.reshape(filter, [kh, kw, cg, groups, m]), [0, 1, 3, 2, 4]), [kh, kw, ci, m]);
    const z = tf.depthwiseConv2d(x, f as tf.Tensor4D, strides, pad);
    const [n, oh, ow] = z.shape;
    return tf.reshape(tf.sum(tf.reshape(z, [n, oh, ow, groups, cg, m]), 4), [n, oh, ow, co]) as tf.Tensor4D;
  });
}

tf.registerGradient({
  kernelName: GROUPED_CONV_KERNEL,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const d = dy as tf.Tensor4D;
    return {
      x: () => tf.engine().runKernel(GROUPED_CONV_INPUT_GRAD_KERNEL, { dy: d, filter }, { ...attrs, inputShape: x.shape }) as tf.Tensor,
      filter: () => tf.engine().runKernel(GROUPED_CONV_FILTER_GRAD_KERNEL, { x, dy: d }, { ...attrs, filterShape: filter.shape }) as tf.Tensor,
    };
  },
});
