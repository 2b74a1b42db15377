// Deformable convolution (Dai et al. 2017; mmcv DeformConv2d) for GA-RPN's feature adaptation:
// every output pixel samples the input bilinearly at its k x k kernel positions moved by learned
// offsets, then one matmul (a 1x1 convolution) with the filter does the convolution's multiply-adds exactly
// (out pixels x k² x in x out, what libs/flops counts). Sample indices and validity are computed on
// the host (offsets are read once); the bilinear weights stay tensors, so the loss reaches the
// offsets (and the features through gather's gradient).

import * as tf from '@tensorflow/tfjs-core';

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
  const { kernel: k, stride, padding, dilation, deformGroups: g } = spec;
  const [n, h, w, c] = x.shape;
  const [, ho, wo, oc] = offset.shape;
  const kk = k * k;
  if (oc !== 2 * g * kk || c % g !== 0) throw new RangeError(`deformConv2d: ${oc} offset channels for ${g} groups of a ${k}x${k} kernel over ${c} channels`);
  const cg = c / g;
  const cout = weight.shape[3];
  const m = n * ho * wo * g * kk;
  const off = offset.dataSync() as Float32Array;
  // Per sample (n, oy, ox, g, t) in that order: floor corners, and per corner a gather row and a mask.
  const idx = [new Int32Array(m), new Int32Array(m), new Int32Array(m), new Int32Array(m)];
  const mask = [new Float32Array(m), new Float32Array(m), new Float32Array(m), new Float32Array(m)];
  const floorY = new Float32Array(m);
  const floorX = new Float32Array(m);
  const baseY = new Float32Array(m);
  const baseX = new Float32Array(m);
  let s = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        const o = ((b * ho + oy) * wo + ox) * oc;
        for (let gi = 0; gi < g; gi++) {
          for (let t = 0; t < kk; t++, s++) {
            const ky = Math.floor(t / k);
            const kx = t % k;
            const by = oy * stride - padding + ky * dilation;
            const bx = ox * stride - padding + kx * dilation;
            const y = by + off[o + (gi * kk + t) * 2]!;
            const xx = bx + off[o + (gi * kk + t) * 2 + 1]!;
            baseY[s] = by;
            baseX[s] = bx;
            const y0 = Math.floor(y);
            const x0 = Math.floor(xx);
            floorY[s] = y0;
            floorX[s] = x0;
            const inside = y > -1 && xx > -1 && y < h && xx < w;
            for (let corner = 0; corner < 4; corner++) {
              const cy = y0 + (corner >> 1);
              const cx = x0 + (corner & 1);
              const ok = inside && cy >= 0 && cy < h && cx >= 0 && cx < w;
              mask[corner]![s] = ok ? 1 : 0;
              idx[corner]![s] = ok ? ((b * h + cy) * w + cx) * g + gi : 0;
            }
          }
        }
      }
    }
  }
  return tf.tidy(() => {
    // Fractional parts as tensors of the offsets: ly = base + dy - floor(y).
    const o = tf.reshape(offset, [m, 2]);
    const [dy, dx] = tf.split(o, 2, 1);
    const ly = tf.add(tf.reshape(dy!, [m, 1]), tf.tensor2d(baseY.map((v, i) => v - floorY[i]!), [m, 1]));
    const lx = tf.add(tf.reshape(dx!, [m, 1]), tf.tensor2d(baseX.map((v, i) => v - floorX[i]!), [m, 1]));
    const hy = tf.sub(1, ly);
    const hx = tf.sub(1, lx);
    const wts = [tf.mul(hy, hx), tf.mul(hy, lx), tf.mul(ly, hx), tf.mul(ly, lx)];
    const flat = tf.reshape(x, [n * h * w * g, cg]);
    let sampled: tf.Tensor2D | undefined;
    for (let corner = 0; corner < 4; corner++) {
      const rows = tf.gather(flat, tf.tensor1d(idx[corner]!, 'int32'));
      const term = tf.mul(rows, tf.mul(wts[corner]!, tf.tensor2d(mask[corner]!, [m, 1]))) as tf.Tensor2D;
      sampled = sampled ? (tf.add(sampled, term) as tf.Tensor2D) : term;
    }
    // [n, ho, wo, g, k², cg] -> columns ordered (k², g, cg) = (ky, kx, in): the filter's rows.
    const cols = tf.reshape(tf.transpose(tf.reshape(sampled!, [n * ho * wo, g, kk, cg]), [0, 2, 1, 3]), [n * ho * wo, kk * c]);
    // the matmul as a 1x1 convolution (the backend's fast convolution kernels and gradients)
    const y = tf.conv2d(tf.reshape(cols, [1, n * ho * wo, 1, kk * c]) as tf.Tensor4D, tf.reshape(weight, [1, 1, kk * c, cout]) as tf.Tensor4D, 1, 0);
    return tf.reshape(bias ? tf.add(y, bias) : y, [n, ho, wo, cout]) as tf.Tensor4D;
  });
}
