// Max pooling's gradient in plain loops over host copies: the wasm backend's own MaxPoolGrad
// (tfjs-backend-wasm 4.22) sends some windows' gradient to the wrong pixel when the batch has more
// than one image (a window of negative values in grad-kernels.test.ts's 2x4x4x1 case).
// Each output's window is scanned in row-major order and its gradient added at the first maximum
// (tfjs cpu's and PyTorch's rule). libs/native-kernels pool.cc is the native version of the same loop.
import { backend_util, type KernelBackend, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

export const maxPoolGradKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'same' | 'valid' | number | backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const x = backend.readSync(input.dataId) as Float32Array;
  const g = backend.readSync(dy.dataId) as Float32Array;
  const dx = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = Math.max(0, oy * info.strideHeight - info.padInfo.top);
      const y1 = Math.min(h, oy * info.strideHeight - info.padInfo.top + info.effectiveFilterHeight);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = Math.max(0, ox * info.strideWidth - info.padInfo.left);
        const x1 = Math.min(w, ox * info.strideWidth - info.padInfo.left + info.effectiveFilterWidth);
        if (y0 >= y1 || x0 >= x1) continue;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let where = -1;
          for (let y = y0; y < y1; y++) {
            for (let xx = x0; xx < x1; xx++) {
              const at = ((i * h + y) * w + xx) * c + ch;
              if (where < 0 || x[at]! > best) {
                best = x[at]!;
                where = at;
              }
            }
          }
          dx[where] = dx[where]! + g[((i * oh + oy) * ow + ox) * c + ch]!;
        }
      }
    }
  }
  return { dataId: backend.write(dx, input.shape, 'float32'), shape: input.shape, dtype: 'float32' };
};
