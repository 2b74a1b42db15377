// Convolution gradients composed from the backend's forward convolution (XNNPACK on wasm).
//
// Forward (NHWC, one spatial axis shown; the other is the same):
//   y[n, o, co] = sum_{k, ci} x[n, o*s - p + k*d, ci] * w[k, ci, co]
//
// Filter gradient: a convolution whose batch is ci, whose input channels are n and whose filter is
// the output gradient, dilated by the stride:
//   dw[k, ci, co] = sum_{n, o} xT[ci, k*d + o*s - p, n] * dyT[o, n, co]
// (for depthwise convolutions the channel stays a channel: (n, c) are the depthwise channels and n
// is summed afterwards).
//
// Input gradient, stride 1: the convolution of dy with the flipped, transposed filter. Stride s > 1
// (polyphase): an input row u = i + p = s*q + r only receives the taps k = r + s*j, from
// dy[q - j]; each phase r is a stride-1 convolution of dy with the flipped sub-filter w[r::s], and
// the s*s phases interleave into the input with DepthToSpace. No zero is inserted and no product
// with a zero is computed.
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';
import { type KernelScope, type Pads } from './scope.js';

type Pair = [number, number];

export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  kH: number;
  kW: number;
  strides: Pair;
  dilations: Pair;
  padTop: number;
  padLeft: number;
}

export function convGeometry(
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | Pair,
  dilations: number | Pair,
  pad: backend_util.ExplicitPadding | 'valid' | 'same' | number,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): ConvGeometry {
  const info = backend_util.computeConv2DInfo(inShape, filterShape, strides, dilations, pad, dimRoundingMode, depthwise, 'channelsLast');
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    outH: info.outHeight,
    outW: info.outWidth,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** Filter gradient; `depthwise` for DepthwiseConv2dNative (filter [kH, kW, C, M]). */
export function convBackpropFilter(
  s: KernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
  filterShape: [number, number, number, number],
  depthwise: boolean,
): TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  // Pads that make the output exactly kH x kW (negative: crop).
  const pads: Pads = [
    [g.padTop, dh * (g.kH - 1) + sh * (g.outH - 1) + 1 - h - g.padTop],
    [g.padLeft, dw * (g.kW - 1) + sw * (g.outW - 1) + 1 - w - g.padLeft],
  ];
  if (!depthwise) {
    const xT = s.transpose(x, [3, 1, 2, 0]); // [c, h, w, n]
    const dyT = s.transpose(dy, [1, 2, 0, 3]); // [oh, ow, n, co]
    const out = s.conv(xT, dyT, [dh, dw], [sh, sw], pads); // [c, kh, kw, co]
    return s.transpose(out, [1, 2, 0, 3]);
  }
  const m = filterShape[3];
  const xT = s.reshape(s.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c]);
  const dyT = s.reshape(s.transpose(dy, [1, 2, 0, 3]), [g.outH, g.outW, n * c, m]);
  const out = s.conv(xT, dyT, [dh, dw], [sh, sw], pads, true); // [1, kh, kw, n*c*m]
  const summed = n === 1 ? out : s.sum(s.reshape(out, [g.kH, g.kW, n, c * m]), [2]);
  return s.reshape(summed, filterShape);
}

/**
 * Input gradient. `filterFlipped` is the filter reversed along kh and kw, as
 * [kH, kW, inChannelsOfTheGradConv, outChannels] (for conv2d: [kH, kW, co, ci]; for depthwise:
 * [kH, kW, c*m, 1]). Returns [n, h, w, outChannels].
 */
export function convBackpropInput(
  s: KernelScope,
  dy: TensorInfo,
  filterFlipped: TensorInfo,
  g: ConvGeometry,
  depthwise: boolean,
): TensorInfo {
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  if (sh === 1 && sw === 1) {
    const top = dh * (g.kH - 1) - g.padTop;
    const left = dw * (g.kW - 1) - g.padLeft;
    const pads: Pads = [
      [top, g.inH - g.outH + g.padTop],
      [left, g.inW - g.outW + g.padLeft],
    ];
    return s.conv(dy, filterFlipped, [1, 1], [dh, dw], pads, depthwise);
  }
  if (sh !== sw || dh !== 1 || dw !== 1) {
    throw new Error(`convBackpropInput: polyphase needs equal strides and no dilation, got strides ${sh}x${sw}, dilations ${dh}x${dw}`);
  }
  const st = sh;
  const qH = Math.ceil((g.padTop + g.inH) / st);
  const qW = Math.ceil((g.padLeft + g.inW) / st);
  const outChannels = filterFlipped.shape[3]! * (depthwise ? filterFlipped.shape[2]! : 1);
  const phases: TensorInfo[] = [];
  for (let rh = 0; rh < st; rh++) {
    for (let rw = 0; rw < st; rw++) {
      const jh = Math.max(0, Math.ceil((g.kH - rh) / st));
      const jw = Math.max(0, Math.ceil((g.kW - rw) / st));
      if (jh === 0 || jw === 0) {
        phases.push(s.zeros([g.batch, qH, qW, outChannels]));
        continue;
      }
      // The flipped sub-filter w[r + s*(J-1-j')] = flipped[(k-1-r-s*(J-1)) + s*j'].
      const bh = g.kH - 1 - rh - st * (jh - 1);
      const bw = g.kW - 1 - rw - st * (jw - 1);
      const sub =
        jh === g.kH && jw === g.kW
          ? filterFlipped
          : s.stridedSlice(
              filterFlipped,
              [bh, bw, 0, 0],
              [bh + st * (jh - 1) + 1, bw + st * (jw - 1) + 1, filterFlipped.shape[2]!, filterFlipped.shape[3]!],
              [st, st, 1, 1],
            );
      const pads: Pads = [
        [jh - 1, qH - g.outH],
        [jw - 1, qW - g.outW],
      ];
      phases.push(s.conv(dy, sub, [1, 1], [1, 1], pads, depthwise));
    }
  }
  const full = s.depthToSpace(s.concat(phases, 3), st); // [n, qH*st, qW*st, outChannels]
  if (g.padTop === 0 && g.padLeft === 0 && qH * st === g.inH && qW * st === g.inW) return full;
  return s.slice(full, [0, g.padTop, g.padLeft, 0], [g.batch, g.inH, g.inW, outChannels]);
}

/** conv2d filter [kH, kW, ci, co] → flipped [kH, kW, co, ci]. */
export function flipConv2DFilter(s: KernelScope, filter: TensorInfo): TensorInfo {
  return s.transpose(s.reverse(filter, [0, 1]), [0, 1, 3, 2]);
}
