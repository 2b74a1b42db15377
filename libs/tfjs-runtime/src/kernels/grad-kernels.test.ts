// Every kernel this package registers for wasm, against the cpu backend's own kernels on the same
// inputs, through tfjs's gradients (the path training takes). The convolutions are oneDNN's when
// @sm-nas/native-kernels is built; grad-kernels-fallback.test.ts runs this file again with SM_NAS_NATIVE=0
// (XNNPACK and the composed gradients).
import { loadNativeKernels } from '@sm-nas/native-kernels';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { backendInfo, initBackend } from '../backend.js';
import { groupedConv2d } from '../grouped-conv.js';
import { batchNormTraining, groupNorm, nativeNormActive, weightStandardize } from '../norm.js';
import { random } from './__fixtures__/random.js';
import { expectClose } from './__fixtures__/close.js';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];

/** Runs `f` on `backend` with fresh tensors from the arrays; returns the results as arrays. */
function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor[]): Float32Array[] {
  tf.setBackend(backend);
  return tf.tidy(() => f()).map((t) => {
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return data;
  });
}


interface ConvCase {
  x: [number, number, number, number];
  k: number;
  kw?: number;
  out: number;
  stride: number;
  pad: Pad;
  dilation?: number;
}

function conv2dGrads(c: ConvCase, backend: 'cpu' | 'wasm'): Float32Array[] {
  const [n, h, w, ci] = c.x;
  const kw = c.kw ?? c.k;
  return on(backend, () => {
    const x = tf.tensor4d(random(n * h * w * ci, 1), c.x);
    const f = tf.tensor4d(random(c.k * kw * ci * c.out, 2), [c.k, kw, ci, c.out]);
    const y = tf.conv2d(x, f, c.stride, c.pad);
    const dy = tf.tensor(random(y.size, 3), y.shape);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dy)));
    return grads([x, f]);
  });
}

function depthwiseGrads(c: ConvCase, backend: 'cpu' | 'wasm'): Float32Array[] {
  const [n, h, w, ch] = c.x;
  const kw = c.kw ?? c.k;
  const d = c.dilation ?? 1;
  const xValues = random(n * h * w * ch, 4);
  const fValues = random(c.k * kw * ch * c.out, 5);
  if (d > 1 && backend === 'cpu') return dilatedDepthwiseReference(c, xValues, fValues);
  return on(backend, () => {
    const x = tf.tensor4d(xValues, c.x);
    const f = tf.tensor4d(fValues, [c.k, kw, ch, c.out]);
    const conv = (a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad, 'NHWC', d);
    const y = conv(x, f);
    const dy = tf.tensor(random(y.size, 6), y.shape);
    if (d === 1) return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), dy)))([x, f]);
    // tfjs's depthwise gradient refuses dilation; the kernels take it: run them directly.
    const attrs = { strides: c.stride, dilations: d, pad: c.pad };
    return [
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...attrs, inputShape: c.x }) as tf.Tensor,
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: f.shape }) as tf.Tensor,
    ];
  });
}

/**
 * The cpu backend's depthwise gradient kernels ignore dilation, so the reference for a dilated
 * convolution is the undilated one with the filter spread out (zeros between taps) on cpu.
 */
function dilatedDepthwiseReference(c: ConvCase, xValues: Float32Array, fValues: Float32Array): Float32Array[] {
  const kw = c.kw ?? c.k;
  const d = c.dilation!;
  const [kh2, kw2] = [d * (c.k - 1) + 1, d * (kw - 1) + 1];
  const inner = c.x[3] * c.out;
  const spread = new Float32Array(kh2 * kw2 * inner);
  for (let i = 0; i < c.k; i++) {
    for (let j = 0; j < kw; j++) spread.set(fValues.subarray((i * kw + j) * inner, (i * kw + j + 1) * inner), (i * d * kw2 + j * d) * inner);
  }
  const [dx, dSpread] = on('cpu', () => {
    const x = tf.tensor4d(xValues, c.x);
    const f = tf.tensor4d(spread, [kh2, kw2, c.x[3], c.out]);
    const conv = (a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
    const y = conv(x, f);
    const dy = tf.tensor(random(y.size, 6), y.shape);
    return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), dy)))([x, f]);
  });
  const df = new Float32Array(fValues.length);
  for (let i = 0; i < c.k; i++) {
    for (let j = 0; j < kw; j++) df.set(dSpread!.subarray((i * d * kw2 + j * d) * inner, (i * d * kw2 + j * d + 1) * inner), (i * kw + j) * inner);
  }
  return [dx!, df];
}

const name = (c: ConvCase) =>
  `x ${c.x.join('x')}, k ${c.k}${c.kw ? `x${c.kw}` : ''}, out ${c.out}, stride ${c.stride}, pad ${JSON.stringify(c.pad)}${c.dilation ? `, dilation ${c.dilation}` : ''}`;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2, log: null });
});

it(`convolutions run on ${loadNativeKernels().ok ? 'oneDNN' : 'XNNPACK (native kernels off)'}`, () => {
  const load = loadNativeKernels();
  const info = backendInfo()!;
  expect(info.native).toBe(load.ok ? `oneDNN ${load.addon.version}` : undefined);
  // Two threads asked for: oneDNN's team gets them; the wasm pool gets one beside it (its workers
  // competed with the team for the cores), or both without the addon.
  expect(info.threads).toBe(2);
  expect(info.wasmThreads).toBe(load.ok ? 1 : undefined);
});

describe('Conv2DBackpropInput and Conv2DBackpropFilter on wasm match cpu', () => {
  const cases: ConvCase[] = [
    { x: [2, 9, 9, 3], k: 3, out: 4, stride: 1, pad: 'same' },
    { x: [2, 9, 7, 3], k: 3, out: 4, stride: 1, pad: 'valid' },
    { x: [1, 8, 8, 4], k: 1, out: 5, stride: 1, pad: 'valid' },
    { x: [3, 10, 10, 2], k: 3, out: 3, stride: 2, pad: 'same' },
    { x: [2, 11, 9, 3], k: 3, out: 4, stride: 2, pad: 'same' },
    { x: [2, 11, 12, 3], k: 3, out: 2, stride: 2, pad: 'valid' },
    { x: [2, 8, 8, 4], k: 1, out: 6, stride: 2, pad: 'valid' },
    { x: [2, 9, 9, 4], k: 1, out: 6, stride: 2, pad: 'same' },
    { x: [1, 17, 15, 3], k: 7, out: 4, stride: 2, pad: 'same' },
    { x: [2, 12, 12, 2], k: 7, out: 3, stride: 1, pad: 'same' },
    { x: [2, 9, 8, 3], k: 3, out: 2, stride: 1, pad: [[0, 0], [2, 0], [1, 2], [0, 0]] },
    { x: [2, 10, 9, 3], k: 3, out: 2, stride: 2, pad: [[0, 0], [1, 1], [0, 2], [0, 0]] },
    { x: [1, 9, 10, 2], k: 5, kw: 3, out: 3, stride: 3, pad: 'same' },
    { x: [2, 7, 7, 3], k: 2, out: 3, stride: 2, pad: 'valid' },
  ];
  for (const c of cases) {
    it(name(c), () => {
      const [dxCpu, dwCpu] = conv2dGrads(c, 'cpu');
      const [dxWasm, dwWasm] = conv2dGrads(c, 'wasm');
      expectClose(dxWasm!, dxCpu!, 'dx');
      expectClose(dwWasm!, dwCpu!, 'dfilter');
    });
  }
});

describe('DepthwiseConv2dNativeBackpropInput and ...Filter on wasm match cpu', () => {
  const cases: ConvCase[] = [
    { x: [2, 9, 9, 4], k: 3, out: 1, stride: 1, pad: 'same' },
    { x: [2, 9, 8, 3], k: 3, out: 2, stride: 1, pad: 'valid' },
    { x: [3, 10, 10, 4], k: 3, out: 1, stride: 2, pad: 'same' },
    { x: [2, 11, 9, 3], k: 3, out: 2, stride: 2, pad: 'valid' },
    { x: [1, 15, 13, 2], k: 7, out: 1, stride: 2, pad: 'same' },
    { x: [2, 8, 8, 5], k: 1, out: 2, stride: 1, pad: 'valid' },
    { x: [2, 12, 11, 3], k: 3, out: 1, stride: 1, pad: 'same', dilation: 2 },
    { x: [1, 13, 13, 2], k: 3, out: 2, stride: 1, pad: 'valid', dilation: 3 },
    { x: [2, 9, 10, 3], k: 3, out: 1, stride: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  ];
  for (const c of cases) {
    it(name(c), () => {
      const [dxCpu, dwCpu] = depthwiseGrads(c, 'cpu');
      const [dxWasm, dwWasm] = depthwiseGrads(c, 'wasm');
      expectClose(dxWasm!, dxCpu!, 'dx');
      expectClose(dwWasm!, dwCpu!, 'dfilter');
    });
  }
});

describe('UnsortedSegmentSum on wasm matches cpu', () => {
  it('direct, with ids out of range dropped', () => {
    const run = (backend: 'cpu' | 'wasm') =>
      on(backend, () => [tf.unsortedSegmentSum(tf.tensor2d(random(7 * 5, 7), [7, 5]), tf.tensor1d([0, 2, 2, -1, 3, 0, 9], 'int32'), 4)]);
    expectClose(run('wasm')[0]!, run('cpu')[0]!, 'sum');
  });
  it('as the gradient of gather', () => {
    const run = (backend: 'cpu' | 'wasm') =>
      on(backend, () => {
        const x = tf.tensor3d(random(6 * 4 * 3, 8), [6, 4, 3]);
        const idx = tf.tensor1d([5, 0, 0, 3, 5, 5, 1], 'int32');
        const dy = tf.tensor3d(random(7 * 4 * 3, 9), [7, 4, 3]);
        return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.gather(a, idx), dy)))(x)];
      });
    expectClose(run('wasm')[0]!, run('cpu')[0]!, 'dx');
  });
});

describe('groupedConv2d', () => {
  // Reference: the dense convolution with a block-diagonal filter (zeros across groups) on cpu.
  const [n, h, w, ci, co, groups, k] = [2, 7, 7, 8, 12, 4, 3];
  const cg = ci / groups;
  const xValues = random(n * h * w * ci, 10);
  const fValues = random(k * k * cg * co, 11);
  const dense = new Float32Array(k * k * ci * co);
  for (let t = 0; t < k * k; t++) {
    for (let j = 0; j < cg; j++) {
      for (let o = 0; o < co; o++) {
        const g = Math.floor(o / (co / groups));
        dense[(t * ci + g * cg + j) * co + o] = fValues[(t * cg + j) * co + o]!;
      }
    }
  }
  const dyValues = random(n * 4 * 4 * co, 12);
  const references = () => on('cpu', () => {
    const x = tf.tensor4d(xValues, [n, h, w, ci]);
    const dy = tf.tensor4d(dyValues, [n, 4, 4, co]);
    return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), dy)))([x, tf.tensor4d(dense, [k, k, ci, co])]);
  });
  for (const impl of ['split', 'depthwise'] as const) {
    // With @sm-nas/native-kernels both run as one oneDNN grouped convolution; the fallback file tests the compositions.
    it(`${loadNativeKernels().ok ? 'oneDNN groups' : impl}: output and gradients match the block-diagonal dense conv`, () => {
      const reference = references();
      const refDf = new Float32Array(fValues.length);
      for (let t = 0; t < k * k; t++) {
        for (let j = 0; j < cg; j++) {
          for (let o = 0; o < co; o++) refDf[(t * cg + j) * co + o] = reference[1]![(t * ci + Math.floor(o / (co / groups)) * cg + j) * co + o]!;
        }
      }
      const [y, dx, df] = on('wasm', () => {
        const x = tf.tensor4d(xValues, [n, h, w, ci]);
        const f = tf.tensor4d(fValues, [k, k, cg, co]);
        const dy = tf.tensor4d(dyValues, [n, 4, 4, co]);
        const conv = (a: tf.Tensor, b: tf.Tensor) => groupedConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same', groups, impl);
        return [conv(x, f), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), dy)))([x, f])];
      });
      const [yRef] = on('cpu', () => [tf.conv2d(tf.tensor4d(xValues, [n, h, w, ci]), tf.tensor4d(dense, [k, k, ci, co]), 2, 'same')]);
      expectClose(y!, yRef!, 'y');
      expectClose(dx!, reference[0]!, 'dx');
      expectClose(df!, refDf, 'dfilter');
    });
  }
});

describe('batchNormTraining and groupNorm on wasm match the cpu backend\'s composition', () => {
  // On cpu the ops are composed from tfjs ops (moments, batchNorm) and differentiated by tfjs: the
  // reference. On wasm with @sm-nas/native-kernels they are the native kernels.
  interface NormCase { shape: [number, number, number, number]; groups?: number; relu: boolean; shift?: number }
  const cases: NormCase[] = [
    { shape: [3, 5, 4, 6], relu: false },
    { shape: [2, 7, 9, 16], relu: true },
    { shape: [1, 33, 31, 8], relu: false, shift: 50 },
    { shape: [2, 5, 7, 12], groups: 3, relu: false },
    { shape: [3, 6, 5, 32], groups: 8, relu: true },
    { shape: [2, 4, 4, 10], groups: 10, relu: false, shift: 50 },
    { shape: [2, 3, 3, 4], groups: 1, relu: true },
  ];
  const run = (c: NormCase, backend: 'cpu' | 'wasm') => {
    const size = c.shape.reduce((a, b) => a * b, 1);
    const ch = c.shape[3];
    return on(backend, () => {
      const x = tf.add(tf.tensor4d(random(size, 13), c.shape), c.shift ?? 0) as tf.Tensor4D;
      const scale = tf.tensor1d(random(ch, 14));
      const offset = tf.tensor1d(random(ch, 15));
      const dy = tf.tensor4d(random(size, 16), c.shape);
      const f = (a: tf.Tensor, b: tf.Tensor, o: tf.Tensor) => c.groups
        ? groupNorm(a as tf.Tensor4D, b as tf.Tensor1D, o as tf.Tensor1D, c.groups, { relu: c.relu })
        : batchNormTraining(a as tf.Tensor4D, b as tf.Tensor1D, o as tf.Tensor1D, { relu: c.relu }).y;
      const stats = c.groups ? [] : (({ mean, variance }) => [mean, variance])(batchNormTraining(x, scale, offset));
      return [f(x, scale, offset), ...stats, ...tf.grads((a: tf.Tensor, b: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(f(a, b, o), dy)))([x, scale, offset])];
    });
  };
  it(`runs ${loadNativeKernels().ok ? 'natively' : 'composed (native kernels off)'} on wasm`, () => {
    tf.setBackend('wasm');
    expect(nativeNormActive(tf.zeros([1]))).toBe(loadNativeKernels().ok);
  });
  for (const c of cases) {
    it(`${c.groups ? `group norm (${c.groups} groups)` : 'batch norm'} of ${c.shape.join('x')}${c.relu ? ' + ReLU' : ''}${c.shift ? `, mean ${c.shift}` : ''}`, () => {
      const ref = run(c, 'cpu');
      const got = run(c, 'wasm');
      const names = c.groups ? ['y', 'dx', 'dscale', 'doffset'] : ['y', 'mean', 'variance', 'dx', 'dscale', 'doffset'];
      names.forEach((what, i) => expectClose(got[i]!, ref[i]!, what));
    });
  }
});

describe('weightStandardize on wasm matches the cpu backend\'s composition', () => {
  // Reference: moments + sqrt + div on cpu, differentiated by tfjs (mmcv conv_ws_2d's formula).
  const shapes: [number, number, number, number][] = [[3, 3, 4, 5], [1, 1, 16, 3], [7, 7, 3, 40], [3, 3, 1, 8]];
  for (const shape of shapes) {
    it(`filter ${shape.join('x')}`, () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const run = (backend: 'cpu' | 'wasm') => on(backend, () => {
        const w = tf.add(tf.mul(tf.tensor4d(random(size, 17), shape), 0.1), 0.05);
        const dy = tf.tensor4d(random(size, 18), shape);
        return [weightStandardize(w), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(weightStandardize(a), dy)))(w)];
      });
      const ref = run('cpu');
      const got = run('wasm');
      expectClose(got[0]!, ref[0]!, 'y');
      expectClose(got[1]!, ref[1]!, 'dw');
    });
  }
});

describe('Sum and Mean on wasm match cpu', () => {
  // Middle-axis reductions run natively with @sm-nas/native-kernels; innermost ones stay the backend's.
  const cases: [number[], number[], boolean][] = [
    [[4, 5, 6, 8], [0, 1, 2], false], [[4, 5, 6, 8], [1, 2], true], [[3, 700, 16], [1], false],
    [[2, 3, 4, 5], [0], false], [[2, 3, 4, 5], [3], false], [[2, 3, 4, 5], [0, 2], true], [[6, 3], [0], false],
  ];
  for (const [shape, axes, keepDims] of cases) {
    it(`over ${JSON.stringify(axes)} of ${shape.join('x')}${keepDims ? ', keepDims' : ''}`, () => {
      const run = (backend: 'cpu' | 'wasm') => on(backend, () => {
        const x = tf.add(tf.tensor(random(shape.reduce((a, b) => a * b, 1), 19), shape), 3);
        return [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
      });
      const ref = run('cpu');
      const got = run('wasm');
      expectClose(got[0]!, ref[0]!, 'sum');
      expectClose(got[1]!, ref[1]!, 'mean');
    });
  }
});

describe('MaxPoolGrad on wasm matches cpu', () => {
  // The ResNet stem's pool (3x3, stride 2, padding 1), windows past the border on one side only,
  // and non-overlapping windows; random values, so no ties between a window's pixels. In the
  // 2x4x4x1 case the backend's own kernel sent a window of negative values to the wrong pixel.
  const cases: { x: [number, number, number, number]; k: number; s: number; pad: 'same' | 'valid' | number }[] = [
    { x: [2, 9, 11, 5], k: 3, s: 2, pad: 1 },
    { x: [1, 8, 8, 16], k: 3, s: 2, pad: 'same' },
    { x: [3, 6, 7, 3], k: 2, s: 2, pad: 'valid' },
    { x: [1, 5, 5, 9], k: 3, s: 1, pad: 'same' },
    { x: [2, 4, 4, 1], k: 2, s: 2, pad: 'valid' },
  ];
  for (const c of cases) {
    it(`${c.k}x${c.k} stride ${c.s} padding ${c.pad} of ${c.x.join('x')}`, () => {
      const run = (backend: 'cpu' | 'wasm') => on(backend, () => {
        const x = tf.tensor4d(random(c.x.reduce((a, b) => a * b, 1), 23), c.x);
        const y = tf.maxPool(x, c.k, c.s, c.pad);
        const dy = tf.tensor(random(y.size, 24), y.shape);
        return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.k, c.s, c.pad), dy)))(x)];
      });
      expectClose(run('wasm')[0]!, run('cpu')[0]!, 'dx');
    });
  }
});

describe('Identity on wasm', () => {
  it('shares the input\'s memory (tfjs clones every tensor it saves for backprop), and both stay readable after either is disposed', () => {
    tf.setBackend('wasm');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const before = tf.memory().numDataBuffers;
    const y = tf.clone(x);
    expect(y.dataId).toBe(x.dataId);
    expect(tf.memory().numDataBuffers).toBe(before);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    const v = tf.variable(y);
    v.assign(tf.tensor2d([0, 0, 0, 0, 0, 0], [2, 3]));
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    tf.dispose([y, v]);
  });
});
