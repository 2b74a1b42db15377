// Deformable convolution (Dai et al. 2017; mmcv DeformConv2d) for GA-RPN's feature adaptation:
// every output pixel samples the input bilinearly at its k x k kernel positions moved by learned
// offsets (libs/tfjs-runtime's deformSample kernel, native on wasm), then one matmul (a 1x1
// convolution) with the filter does the convolution's multiply-adds exactly (out pixels x k² x in x
// out, what libs/flops counts). The loss reaches the offsets and the features through the kernel's
// gradient.

import * as tf from '@tensorflow/tfjs-core';
import { deformSample } from '@sm-nas/tfjs-runtime';

export interface DeformSpec {
  kernel: number;
  stride: number;
  padding: number;
  dilation: number;
  deformGroups: number;
}

/**
 * x [N, H, W, C], offset [N, Ho, Wo, 2 * G * k * k] in mmcv's channel order ((g * k² + i * k + j) * 2
 * + {0: dy, 1: dx}), weight [k, k, C, Cout] -> [N, Ho, Wo, Cout]. Samples outside the map read 0
 * (mmcv's bilinear: corners outside contribute nothing).
 */
export function deformConv2d(x: tf.Tensor4D, offset: tf.Tensor4D, weight: tf.Tensor4D, bias: tf.Tensor1D | undefined, spec: DeformSpec): tf.Tensor4D {
  const [n, ho, wo] = offset.shape;
  const [k, , c, cout] = weight.shape;
  if (k !== spec.kernel || c !== x.shape[3]) throw new RangeError(`deformConv2d: filter [${weight.shape.join(', ')}] for a ${spec.kernel}x${spec.kernel} kernel over ${x.shape[3]} channels`);
  return tf.tidy(() => {
    const cols = deformSample(x, offset, spec);
    // the matmul as a 1x1 convolution (the backend's fast convolution kernels and gradients)
    const y = tf.conv2d(tf.reshape(cols, [1, n * ho * wo, 1, k * k * c]) as tf.Tensor4D, tf.reshape(weight, [1, 1, k * k * c, cout]) as tf.Tensor4D, 1, 0);
    return tf.reshape(bias ? tf.add(y, bias) : y, [n, ho, wo, cout]) as tf.Tensor4D;
  });
}
