// Convolution + bias + ReLU as one kernel while training. tfjs's `fused.conv2d` fuses only a linear
// activation when gradients are being recorded: with ReLU it runs conv2d, a broadcast bias Add and a
// Relu, three passes and three kernels (the wasm backend's broadcast Add alone took ~1 ms on an
// 8x8x8x64 map). Here the forward is the backend's FusedConv2D kernel (oneDNN's convolution with
// the bias and ReLU as post-ops on wasm) and the gradient masks dy by y > 0 once, then runs the
// convolution's two gradient kernels and the bias sum.
import * as tf from '@tensorflow/tfjs-core';
import { Conv2DBackpropFilter, Conv2DBackpropInput, FusedConv2D } from '@tensorflow/tfjs-core';

type Pad = 'same' | 'valid' | number;

interface Spec {
  strides: number;
  pad: Pad;
}

type GradFunc = Parameters<typeof tf.customGrad>[0];

const attrsOf = (s: Spec) => ({ strides: s.strides, pad: s.pad, dataFormat: 'NHWC', dilations: 1 });

function forward(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | null, s: Spec): tf.Tensor4D {
  const inputs: Record<string, tf.Tensor> = { x, filter };
  if (bias) inputs['bias'] = bias;
  return tf.engine().runKernel(FusedConv2D, inputs, { ...attrsOf(s), activation: 'relu' } as never) as tf.Tensor4D;
}

function backward(dy: tf.Tensor4D, x: tf.Tensor4D, filter: tf.Tensor4D, y: tf.Tensor4D, s: Spec): { dx: tf.Tensor4D; df: tf.Tensor4D; masked: tf.Tensor4D } {
  const masked = tf.mul(dy, tf.step(y)) as tf.Tensor4D;
  const dx = tf.engine().runKernel(Conv2DBackpropInput, { dy: masked, filter }, { ...attrsOf(s), inputShape: x.shape } as never) as tf.Tensor4D;
  const df = tf.engine().runKernel(Conv2DBackpropFilter, { x, dy: masked }, { ...attrsOf(s), filterShape: filter.shape } as never) as tf.Tensor4D;
  return { dx, df, masked };
}

/**
 * relu(conv2d(x, filter) + bias), NHWC, dilation 1, differentiable in all three inputs (or two
 * without a bias).
 */
export function conv2dBiasRelu(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | null, strides: number, pad: Pad): tf.Tensor4D {
  const s = { strides, pad };
  // customGrad passes the inputs, then its save function: (x, filter[, bias], save).
  const f = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xi, fi, bi] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D | undefined];
    const y = forward(xi, fi, bi ?? null, s);
    save([xi, fi, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sf, sy] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const { dx, df, masked } = backward(dy as tf.Tensor4D, sx, sf, sy, s);
        return bi ? [dx, df, tf.sum(masked, [0, 1, 2])] : [dx, df];
      },
    };
  }) as GradFunc);
  return (bias ? f(x, filter, bias) : f(x, filter)) as tf.Tensor4D;
}
