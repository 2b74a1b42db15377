// Instantiates a LayerGraph in tfjs (NHWC, batch N) and runs it: the same nodes, in the same order,
// with the shapes the lowering gave, so the FLOPs libs/flops counts are the FLOPs this executes.
//
// The plan fuses what tfjs can: conv + (frozen/inference) batch norm folded into the filter and bias
// + activation as one fused convolution; conv + bias + ReLU in the heads likewise. group_norm runs as
// its own step after a weight-standardised convolution (scratch training, SM-NAS / mmdetection's
// `conv_cfg=dict(type='ConvWS')`). Intermediates are freed as soon as their last consumer ran when no
// gradient is being recorded.

import * as tf from '@tensorflow/tfjs-core';
import { groupNorm, weightStandardize } from '@sm-nas/tfjs-runtime';
import type { Conv2dNode, LayerGraph, LayerNode, NormNode, OutputRole } from '@sm-nas/arch/graph';
import { activate, convolve, type FusedActivation } from './conv.js';
import { paramPrefix, ParamStore } from './params.js';

/** mmcv's ConvWS eps (added to the standard deviation). */
export const WS_EPS = 1e-5;
/** PyTorch's BatchNorm2d / GroupNorm / torchvision FrozenBatchNorm2d eps. */
export const NORM_EPS = 1e-5;

export type GraphOutputs = Map<OutputRole, Map<number, tf.Tensor4D>>;

interface Step {
  /** Node whose value this step produces. */
  out: number;
  inputs: readonly number[];
  run(inputs: tf.Tensor4D[]): tf.Tensor4D;
}

export class GraphExecutor {
  readonly params: ParamStore;
  private readonly steps: Step[] = [];
  /** Per node: how many steps and outputs read its value. */
  private readonly uses: Int32Array;

  constructor(readonly graph: LayerGraph, seed: number) {
    this.params = new ParamStore(seed);
    const { nodes } = graph;
    const consumers = new Int32Array(nodes.length);
    for (const n of nodes) for (const i of n.inputs) consumers[i]!++;
    for (const o of graph.outputs) consumers[o.node]!++;
    const sole = (id: number): LayerNode | undefined => {
      if (consumers[id] !== 1 || graph.outputs.some((o) => o.node === id)) return undefined;
      return nodes.find((n) => n.id > id && n.inputs.includes(id));
    };
    const covered = new Uint8Array(nodes.length);
    for (const node of nodes) {
      if (covered[node.id]) continue;
      if (node.perRoi) throw new Error(`detector: per-RoI module ${node.module} (R-CNN heads) not yet supported`);
      switch (node.op) {
        case 'input':
          break;
        case 'conv2d': {
          this.params.addConv(graph, node);
          let norm: NormNode | undefined;
          let act: FusedActivation = 'linear';
          let last: LayerNode = node;
          const next = sole(node.id);
          if (next?.op === 'norm') {
            norm = next;
            this.params.addNorm(graph, norm);
            last = norm;
          }
          const after = sole(last.id);
          if (after?.op === 'activation') {
            act = after.kind;
            last = after;
          }
          for (const n of [node, norm, last]) if (n) covered[n.id] = 1;
          this.steps.push(this.convStep(node, norm, act, last.id));
          break;
        }
        case 'norm': {
          this.params.addNorm(graph, node);
          let act: FusedActivation = 'linear';
          let last: LayerNode = node;
          const after = sole(node.id);
          if (after?.op === 'activation') {
            act = after.kind;
            last = after;
            covered[after.id] = 1;
          }
          const norm = this.normFn(node);
          const relu = act === 'relu';
          this.steps.push({ out: last.id, inputs: node.inputs, run: ([x]) => activate(norm(x!, relu), relu ? 'linear' : act) });
          break;
        }
        case 'activation': {
          const kind = node.kind;
          this.steps.push({ out: node.id, inputs: node.inputs, run: ([x]) => activate(x!, kind) });
          break;
        }
        case 'max_pool': {
          const { kernel, stride, padding } = node;
          this.steps.push({ out: node.id, inputs: node.inputs, run: ([x]) => tf.maxPool(x!, kernel, stride, padding) });
          break;
        }
        case 'global_avg_pool':
          this.steps.push({ out: node.id, inputs: node.inputs, run: ([x]) => tf.mean(x!, [1, 2], true) as tf.Tensor4D });
          break;
        case 'resize': {
          const size: [number, number] = [node.shape[1], node.shape[2]];
          // PyTorch's F.interpolate(mode='nearest', size=...): src = floor(dst * in / out).
          this.steps.push({ out: node.id, inputs: node.inputs, run: ([x]) => tf.image.resizeNearestNeighbor(x!, size, false, false) });
          break;
        }
        case 'add':
          this.steps.push({ out: node.id, inputs: node.inputs, run: ([a, b]) => tf.add(a!, b!) });
          break;
        case 'concat':
          this.steps.push({ out: node.id, inputs: node.inputs, run: (xs) => tf.concat(xs, 3) });
          break;
        case 'flatten': {
          const f = node.shape[0];
          this.steps.push({ out: node.id, inputs: node.inputs, run: ([x]) => tf.reshape(x!, [x!.shape[0], 1, 1, f]) });
          break;
        }
        case 'linear': {
          this.params.addLinear(graph, node);
          const prefix = paramPrefix(graph, node);
          const w = this.params.get(`${prefix}.weight`) as tf.Tensor2D;
          const b = node.bias ? (this.params.get(`${prefix}.bias`) as tf.Tensor1D) : undefined;
          const out = node.outFeatures;
          let act: FusedActivation = 'linear';
          let last: LayerNode = node;
          const after = sole(node.id);
          if (after?.op === 'activation') {
            act = after.kind;
            last = after;
            covered[after.id] = 1;
          }
          this.steps.push({
            out: last.id, inputs: node.inputs,
            run: ([x]) => {
              const n = x!.shape[0];
              const y = tf.fused.matMul({ a: tf.reshape(x!, [n, -1]), b: w, bias: b, activation: act });
              return tf.reshape(y, [n, 1, 1, out]);
            },
          });
          break;
        }
        case 'deform_conv2d':
        case 'roi_align':
          throw new Error(`detector: ${node.op} (${node.path}) not yet supported`);
      }
    }
    this.uses = new Int32Array(nodes.length);
    for (const s of this.steps) for (const i of s.inputs) this.uses[i]!++;
    for (const o of graph.outputs) this.uses[o.node]!++;
  }

  private convStep(node: Conv2dNode, norm: NormNode | undefined, act: FusedActivation, out: number): Step {
    const prefix = paramPrefix(this.graph, node);
    const weight = this.params.get(`${prefix}.weight`) as tf.Tensor4D;
    const bias = node.bias ? (this.params.get(`${prefix}.bias`) as tf.Tensor1D) : null;
    const spec = { stride: node.stride, padding: node.padding, dilation: node.dilation, groups: node.groups };
    if (norm && norm.kind !== 'group_norm') {
      // Batch norm with fixed statistics folds into the convolution: w' = w * s, b' = beta - mu * s + b * s.
      const np = paramPrefix(this.graph, norm);
      const p = this.params;
      const [mean, variance] = [p.get(`${np}.running_mean`), p.get(`${np}.running_var`)];
      const [gamma, beta] = norm.affine ? [p.get(`${np}.weight`), p.get(`${np}.bias`)] : [null, null];
      return {
        out, inputs: node.inputs,
        run: ([x]) => {
          let scale = tf.rsqrt(tf.add(variance, NORM_EPS));
          if (gamma) scale = tf.mul(scale, gamma);
          let shift = tf.neg(tf.mul(mean, scale));
          if (beta) shift = tf.add(shift, beta);
          if (bias) shift = tf.add(shift, tf.mul(bias, scale));
          return convolve(x!, tf.mul(weight, scale) as tf.Tensor4D, shift as tf.Tensor1D, act, spec);
        },
      };
    }
    if (norm) {
      // group_norm: weight standardisation on the conv, then GN (+ activation).
      const gn = this.normFn(norm);
      const relu = act === 'relu';
      return {
        out, inputs: node.inputs,
        run: ([x]) => activate(gn(convolve(x!, standardize(weight), bias, 'linear', spec), relu), relu ? 'linear' : act),
      };
    }
    return { out, inputs: node.inputs, run: ([x]) => convolve(x!, weight, bias, act, spec) };
  }

  /** A norm on its own (not folded into a convolution); `relu`: a ReLU follows (group norm fuses it). */
  private normFn(node: NormNode): (x: tf.Tensor4D, relu: boolean) => tf.Tensor4D {
    const np = paramPrefix(this.graph, node);
    const p = this.params;
    const [gamma, beta] = node.affine ? [p.get(`${np}.weight`), p.get(`${np}.bias`)] : [null, null];
    const affine = (y: tf.Tensor4D): tf.Tensor4D => {
      if (gamma) y = tf.mul(y, gamma);
      if (beta) y = tf.add(y, beta);
      return y;
    };
    if (node.kind === 'group_norm') {
      // libs/tfjs-runtime's group norm: one native kernel each way with @sm-nas/onednn, else tfjs ops.
      const g = node.groups;
      return (x, relu) => {
        const c = x.shape[3];
        return groupNorm(x, (gamma ?? tf.ones([c])) as tf.Tensor1D, (beta ?? tf.zeros([c])) as tf.Tensor1D, g, { epsilon: NORM_EPS, relu });
      };
    }
    const [mean, variance] = [p.get(`${np}.running_mean`), p.get(`${np}.running_var`)];
    return (x, relu) => {
      const y = affine(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, NORM_EPS))));
      return relu ? tf.relu(y) : y;
    };
  }

  /**
   * Runs the graph on `images` [N, H, W, 3] (the graph's input size). With `record` (a gradient is
   * being taken) nothing is freed early; the caller's tidy/variableGrads owns the intermediates.
   */
  forward(images: tf.Tensor4D, record = false): GraphOutputs {
    const { graph } = this;
    const [, h, w, c] = images.shape;
    const [ic, ih, iw] = graph.nodes[0]!.shape;
    if (h !== ih || w !== iw || c !== ic) {
      throw new RangeError(`detector: images are ${w}x${h}x${c}, the graph was built for ${iw}x${ih}x${ic}`);
    }
    const values = new Array<tf.Tensor4D | undefined>(graph.nodes.length);
    values[0] = images;
    const left = record ? undefined : Int32Array.from(this.uses);
    for (const step of this.steps) {
      const xs = step.inputs.map((i) => values[i]!);
      values[step.out] = record ? step.run(xs) : tf.tidy(() => step.run(xs));
      if (left) {
        for (const i of step.inputs) {
          if (--left[i]! === 0 && i !== 0) {
            values[i]!.dispose();
            values[i] = undefined;
          }
        }
      }
    }
    const out: GraphOutputs = new Map();
    for (const o of graph.outputs) {
      let m = out.get(o.role);
      if (!m) out.set(o.role, (m = new Map()));
      m.set(o.index, values[o.node]!);
    }
    return out;
  }

  dispose(): void {
    this.params.dispose();
  }
}

/**
 * mmcv conv_ws_2d: per output channel, (w - mean) / (std + eps), std unbiased. libs/tfjs-runtime's
 * (one native kernel each way with @sm-nas/onednn, else tfjs ops).
 */
export function standardize(weight: tf.Tensor4D): tf.Tensor4D {
  return weightStandardize(weight, WS_EPS);
}
