// Runs other kernels of one backend from inside a kernel, and frees the intermediates.
import { getKernel, type KernelBackend, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';

/** Explicit NHWC padding as the conv kernels take it. */
export type Pads = [[number, number], [number, number]];

export class KernelScope {
  private readonly owned = new Set<TensorInfo>();

  constructor(
    readonly backend: KernelBackend,
    readonly backendName: string,
  ) {}

  run(name: string, inputs: Record<string, TensorInfo> | TensorInfo[], attrs: object = {}): TensorInfo {
    const kernel = getKernel(name, this.backendName);
    if (!kernel) throw new Error(`kernel ${name} is not registered for ${this.backendName}`);
    const out = kernel.kernelFunc({
      inputs: inputs as unknown as Record<string, TensorInfo>,
      backend: this.backend,
      attrs: attrs as NamedAttrMap,
    }) as TensorInfo;
    this.owned.add(out);
    return out;
  }

  /** Takes `t` out of the scope: the caller owns it. */
  keep(t: TensorInfo): TensorInfo {
    this.owned.delete(t);
    return t;
  }

  dispose(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.clear();
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  reverse(x: TensorInfo, dims: number[]): TensorInfo {
    return this.run('Reverse', { x }, { dims });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  stridedSlice(x: TensorInfo, begin: number[], end: number[], strides: number[]): TensorInfo {
    return this.run('StridedSlice', { x }, { begin, end, strides, beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 });
  }

  zeros(shape: number[]): TensorInfo {
    return this.run('Fill', {}, { shape, value: 0, dtype: 'float32' });
  }

  concat(xs: TensorInfo[], axis: number): TensorInfo {
    return xs.length === 1 ? this.reshape(xs[0]!, xs[0]!.shape) : this.run('Concat', xs, { axis });
  }

  depthToSpace(x: TensorInfo, blockSize: number): TensorInfo {
    return this.run('DepthToSpace', { x }, { blockSize, dataFormat: 'NHWC' });
  }

  sum(x: TensorInfo, axis: number[]): TensorInfo {
    return this.run('Sum', { x }, { axis, keepDims: false });
  }

  /**
   * NHWC convolution (`depthwise`: DepthwiseConv2dNative) with explicit pads; negative pads crop
   * the input first (the conv kernels take only non-negative pads).
   */
  conv(
    x: TensorInfo,
    filter: TensorInfo,
    strides: [number, number],
    dilations: [number, number],
    pads: Pads,
    depthwise = false,
  ): TensorInfo {
    const [[t, b], [l, r]] = pads;
    let input = x;
    if (t < 0 || b < 0 || l < 0 || r < 0) {
      const [n, h, w, c] = x.shape as [number, number, number, number];
      const top = Math.max(0, -t);
      const left = Math.max(0, -l);
      input = this.slice(x, [0, top, left, 0], [n, h - top - Math.max(0, -b), w - left - Math.max(0, -r), c]);
    }
    const pad = [[0, 0], [Math.max(0, t), Math.max(0, b)], [Math.max(0, l), Math.max(0, r)], [0, 0]];
    return this.run(depthwise ? 'DepthwiseConv2dNative' : 'Conv2D', { x: input, filter }, {
      strides,
      dilations,
      pad,
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    });
  }
}

/** Runs `body` in a scope; frees everything it made except the result. */
export function withScope(backend: KernelBackend, backendName: string, body: (s: KernelScope) => TensorInfo): TensorInfo {
  const scope = new KernelScope(backend, backendName);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}
