// Instantiates a LayerGraph in tfjs (NHWC, batch N) and runs it: the same nodes, in the same order,
// with the shapes the lowering gave, so the FLOPs libs/flops counts are the FLOPs this executes.
//
// The plan fuses what tfjs can: conv + (frozen/inference) batch norm folded into the filter and bias
// + activation as one fused convolution; conv + bias + ReLU in the heads likewise. group_norm runs as
// its own step after a weight-standardised convolution (scratch training, SM-NAS / mmdetection's
// `conv_cfg=dict(type='ConvWS')`). Intermediates are freed as soon as their last consumer ran when no
// gradient is being recorded.

import * as tf from '@tensorflow/tfjs-core';
import { groupNorm, roiAlignLevels, weightStandardize } from '@sm-nas/tfjs-runtime';
import type { Conv2dNode, LayerGraph, LayerNode, NormNode, OutputRole, RoiAlignNode } from '@sm-nas/arch/graph';
import { activate, convolve, type FusedActivation } from './conv.js';
import { deformConv2d } from './deform.js';
import { paramPrefix, ParamStore } from './params.js';

const LINEAR_SPEC = { stride: 1, padding: 0, dilation: 1, groups: 1 };

/** mmcv's ConvWS eps (added to the standard deviation). */
export const WS_EPS = 1e-5;
/** PyTorch's BatchNorm2d / GroupNorm / torchvision FrozenBatchNorm2d eps. */
export const NORM_EPS = 1e-5;

export type GraphOutputs = Map<OutputRole, Map<number, tf.Tensor4D>>;

interface Step {
  /** Node whose value this step produces. */
  out: number;
  inputs: readonly number[];
  /** `rois` only for RoIAlign steps: [R * 5] (batch index, x1, y1, x2, y2) in input pixels. */
  run(inputs: tf.Tensor4D[], rois?: Float32Array): tf.Tensor4D;
  /**
   * Float32 elements per image (per RoI for per-RoI steps) the step makes besides its output while
   * a gradient is recorded (the convolution's output before a group norm, a deformable
   * convolution's sampled columns), and what its gradient makes besides the gradients of its
   * inputs (masks). For trainingActivations.
   */
  extraElements?: number;
  gradientElements?: number;
  /** The output is a view of the input (a reshape): no memory of its own. */
  alias?: boolean;
}

/**
 * What a training step's tape holds, in float32 elements (see trainingActivations): `forward`
 * counts each step's output and recorded intermediates, `gradient` the masks that gradient
 * functions make besides the gradients themselves.
 */
export interface TrainingActivations {
  /** Per image: the image-level steps'. */
  perImage: { forward: number; gradient: number };
  /** Per RoI, summed over the R-CNN stages' per-RoI steps. */
  perRoi: { forward: number; gradient: number };
}

/**
 * Gradient intermediates of an activation, per output element. tfjs-core 4.22's Relu6 gradient
 * builds its mask (lessEqual(x, 6) * step(x): a bool, its float cast, the step and the product, then
 * another cast) outside the per-input scope, so all of it stays until the backward pass ends: 17
 * bytes an element, measured by kernel on the wasm heap (mobilenet_v2 at 320x320, the
 * Cast/Multiply/Step/LessEqual share). Relu's (step inside the scope) and a fused ReLU's leave none;
 * conv2dBiasRelu keeps step(y) and the masked dy (2).
 */
function activationGradientElements(act: FusedActivation, out: number, convBiasRelu = false): number {
  if (act === 'relu6') return (17 / 4) * out;
  return convBiasRelu ? 2 * out : 0;
}

/** What a convolution with an activation not fused by its kernel records: the pre-activation output (and the bias sum). */
function unfusedActivationElements(act: FusedActivation, out: number, bias: boolean): number {
  return act === 'linear' ? 0 : out * (bias ? 2 : 1);
}

/** `convolve`'s recorded elements besides its output: conv2dBiasRelu for a ReLU at groups 1 and dilation 1, a fused kernel for no activation, else the activation as its own op. */
function convolveElements(act: FusedActivation, out: number, bias: boolean, spec: { groups: number; dilation: number }): Pick<Step, 'extraElements' | 'gradientElements'> {
  const biasRelu = act === 'relu' && spec.groups === 1 && spec.dilation === 1;
  return {
    extraElements: biasRelu ? 0 : unfusedActivationElements(act, out, bias),
    gradientElements: activationGradientElements(act, out, biasRelu),
  };
}

/** One R-CNN stage's outputs for R RoIs: class logits [R, K+1] and box deltas [R, 4K or 4]. */
export interface RoiOutputs {
  cls: tf.Tensor2D;
  reg: tf.Tensor2D;
}

/** mmdetection SingleRoIExtractor.map_roi_levels: index of the feature map a RoI pools from. */
export function roiLevel(x1: number, y1: number, x2: number, y2: number, finestScale: number, levels: number): number {
  const scale = Math.sqrt(Math.max(0, x2 - x1) * Math.max(0, y2 - y1));
  const l = Math.floor(Math.log2(scale / finestScale + 1e-6));
  return Math.min(levels - 1, Math.max(0, l));
}

export class GraphExecutor {
  readonly params: ParamStore;
  private readonly steps: Step[] = [];
  /** The per-RoI steps of R-CNN stage t (index t - 1). */
  private readonly roiSteps: Step[][] = [];
  /** Per node: how many image-level steps and outputs read its value. */
  private readonly uses: Int32Array;
  /** Frees what steps cache between passes (inference's folded filters). */
  private readonly disposers: (() => void)[] = [];

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
      const stage = node.roiStage;
      const before = this.steps.length;
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
          // Group norm is one kernel (a ReLU fused); the others are composed (x - mean, the scale,
          // the affine) and any activation is its own op.
          const e = elementsOf(node);
          const gn = node.kind === 'group_norm';
          const extra = (gn ? 0 : 3 * e) + (act === 'linear' || (gn && relu) ? 0 : e);
          this.steps.push({
            out: last.id, inputs: node.inputs, run: ([x]) => activate(norm(x!, relu), relu ? 'linear' : act),
            extraElements: extra, gradientElements: activationGradientElements(act, e),
          });
          break;
        }
        case 'activation': {
          const kind = node.kind;
          this.steps.push({ out: node.id, inputs: node.inputs, run: ([x]) => activate(x!, kind), gradientElements: activationGradientElements(kind, elementsOf(node)) });
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
          this.steps.push({ out: node.id, inputs: node.inputs, run: ([x]) => tf.reshape(x!, [x!.shape[0], 1, 1, f]), alias: true });
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
          const inF = node.inFeatures;
          const e = elementsOf(node);
          // convolve's path: conv2dBiasRelu for a ReLU; other activations unfused.
          this.steps.push({
            out: last.id, inputs: node.inputs,
            extraElements: act === 'relu' ? 0 : unfusedActivationElements(act, e, node.bias),
            gradientElements: activationGradientElements(act, e, act === 'relu'),
            // A 1x1 convolution: the same multiply-adds as the matmul, but on the backend's
            // convolution kernels (oneDNN, or XNNPACK) and their gradients; wasm's BatchMatMul
            // gradients (transposed operands) run ~100x slower than its convolutions. The rows go
            // along the width of one image ([1, 1, N, in]), not the batch ([N, 1, 1, in]): oneDNN's
            // 1x1 kernel blocks over spatial positions, and a batch of 1x1 images ran the R-CNN head's
            // fc1 (1000 RoIs, 12544 -> 1024) at ~5 GFLOP/s instead of a GEMM's speed.
            run: ([x]) => {
              const rows = x!.shape[0];
              const y = convolve(tf.reshape(x!, [1, 1, rows, inF]), tf.reshape(w, [1, 1, inF, out]), b ?? null, act, LINEAR_SPEC);
              return tf.reshape(y, [rows, 1, 1, out]);
            },
          });
          break;
        }
        case 'deform_conv2d': {
          this.params.addDeformConv(graph, node);
          const prefix = paramPrefix(graph, node);
          const weight = this.params.get(`${prefix}.weight`) as tf.Tensor4D;
          const bias = node.bias ? (this.params.get(`${prefix}.bias`) as tf.Tensor1D) : undefined;
          const spec = { kernel: node.kernel, stride: node.stride, padding: node.padding, dilation: node.dilation, deformGroups: node.deformGroups };
          if (node.groups !== 1) throw new Error(`detector: grouped deformable convolution (${node.path})`);
          // The sampled columns: k² values per input channel and output pixel.
          const columns = node.kernel * node.kernel * node.inChannels * node.shape[1] * node.shape[2];
          this.steps.push({ out: node.id, inputs: node.inputs, run: ([x, offset]) => deformConv2d(x!, offset!, weight, bias, spec), extraElements: columns });
          break;
        }
        case 'roi_align':
          this.steps.push(this.roiAlignStep(node));
          break;
      }
      if (node.perRoi) {
        // Per-RoI steps run in their stage's pass (runRoiStage), on a batch of RoIs.
        const moved = this.steps.splice(before);
        (this.roiSteps[stage - 1] ??= []).push(...moved);
      }
    }
    this.uses = new Int32Array(nodes.length);
    for (const s of this.steps) for (const i of s.inputs) this.uses[i]!++;
    for (const o of graph.outputs) if (!nodes[o.node]!.perRoi) this.uses[o.node]!++;
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
      const fold = () => {
        let scale = tf.rsqrt(tf.add(variance, NORM_EPS));
        if (gamma) scale = tf.mul(scale, gamma);
        let shift = tf.neg(tf.mul(mean, scale));
        if (beta) shift = tf.add(shift, beta);
        if (bias) shift = tf.add(shift, tf.mul(bias, scale));
        return { w: tf.mul(weight, scale) as tf.Tensor4D, b: shift as tf.Tensor1D };
      };
      // Inference reuses the folded filter while the parameters are the same tensors (a variable's
      // assign gives it a new dataId): folding on every call rewrote the whole filter per inference,
      // a pass over every weight of the network the profiler then timed. Training folds each time,
      // so the gradient reaches the parameters.
      const params: tf.Tensor[] = [weight, mean, variance, gamma, beta, bias].filter((t) => t !== null);
      let folded: { ids: object[]; w: tf.Tensor4D; b: tf.Tensor1D } | undefined;
      const cached = () => {
        if (folded && params.every((t, i) => t.dataId === folded!.ids[i])) return folded;
        if (folded) tf.dispose([folded.w, folded.b]);
        const f = tf.tidy(fold);
        folded = { ids: params.map((t) => t.dataId), w: tf.keep(f.w), b: tf.keep(f.b) };
        return folded;
      };
      this.disposers.push(() => {
        if (folded) tf.dispose([folded.w, folded.b]);
        folded = undefined;
      });
      return {
        out, inputs: node.inputs,
        run: ([x]) => {
          const { w, b } = gradientsRecorded() ? fold() : cached();
          return convolve(x!, w, b, act, spec);
        },
        ...convolveElements(act, elementsOf(this.graph.nodes[out]!), true, spec),
      };
    }
    if (norm) {
      // group_norm: weight standardisation on the conv, then GN (+ activation).
      const gn = this.normFn(norm);
      const relu = act === 'relu';
      // Recorded besides the output: the convolution's, and the norm's when an activation other
      // than ReLU (which the norm fuses) follows it.
      const extra = elementsOf(node) + (relu || act === 'linear' ? 0 : elementsOf(norm));
      return {
        out, inputs: node.inputs,
        run: ([x]) => activate(gn(convolve(x!, standardize(weight), bias, 'linear', spec), relu), relu ? 'linear' : act),
        extraElements: extra,
        gradientElements: activationGradientElements(act, elementsOf(norm)),
      };
    }
    if (node.flags.detachInput) {
      // e.g. mmdetection FeatureAdaption: conv_offset(shape_pred.detach()): the adaptation's loss
      // does not train the shape branch.
      return { out, inputs: node.inputs, run: ([x]) => convolve(detach(x!), weight, bias, act, spec), ...convolveElements(act, elementsOf(this.graph.nodes[out]!), bias !== null, spec) };
    }
    return { out, inputs: node.inputs, run: ([x]) => convolve(x!, weight, bias, act, spec), ...convolveElements(act, elementsOf(this.graph.nodes[out]!), bias !== null, spec) };
  }

  /**
   * RoIAlign over the node's feature maps (finest first): each RoI pools from one level by
   * mmdetection's size rule, all levels in one kernel, the rows in RoI order.
   */
  private roiAlignStep(node: RoiAlignNode): Step {
    const { outputSize, samplingRatio, spatialScales, finestScale } = node;
    const levels = spatialScales.length;
    const attrs = { outputSize, samplingRatio, spatialScales: [...spatialScales], aligned: true };
    return {
      out: node.id, inputs: node.inputs,
      run: (features, rois) => {
        if (!rois) throw new Error('detector: RoIAlign without RoIs');
        const r = rois.length / 5;
        const of = new Int32Array(r);
        if (levels > 1) {
          for (let i = 0; i < r; i++) of[i] = roiLevel(rois[5 * i + 1]!, rois[5 * i + 2]!, rois[5 * i + 3]!, rois[5 * i + 4]!, finestScale, levels);
        }
        return roiAlignLevels(features as tf.Tensor4D[], tf.tensor2d(rois, [r, 5]), of, attrs);
      },
    };
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
      // libs/tfjs-runtime's group norm: one native kernel each way with @sm-nas/native-kernels, else tfjs ops.
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
      if (graph.nodes[o.node]!.perRoi) continue; // R-CNN outputs come from runRoiStage
      let m = out.get(o.role);
      if (!m) out.set(o.role, (m = new Map()));
      m.set(o.index, values[o.node]!);
    }
    return out;
  }

  /**
   * The activations a training forward pass makes (`forward(images, true)` and the R-CNN stages):
   * each step's output plus its recorded intermediates, by the plan above (what is fused makes no
   * tensor of its own). A gradient tape keeps all of them until the backward pass ends, so a
   * training step's memory grows with this times the batch (libs/detector's memory.ts).
   */
  trainingActivations(): TrainingActivations {
    const sum = (steps: readonly Step[]) => {
      let forward = 0;
      let gradient = 0;
      for (const s of steps) {
        forward += (s.alias ? 0 : elementsOf(this.graph.nodes[s.out]!)) + (s.extraElements ?? 0);
        gradient += s.gradientElements ?? 0;
      }
      return { forward, gradient };
    };
    return { perImage: sum(this.steps), perRoi: sum(this.roiSteps.flat()) };
  }

  /** Number of R-CNN stages the graph has. */
  get rcnnStages(): number {
    return this.roiSteps.length;
  }

  /**
   * Runs R-CNN stage `stage` (1-based) on `rois` [R * 5] (batch index, x1, y1, x2, y2 in input
   * pixels) over the image-level `outputs` of `forward`. Intermediates are freed unless `record`.
   */
  runRoiStage(stage: number, outputs: GraphOutputs, rois: Float32Array, record = false): RoiOutputs {
    const steps = this.roiSteps[stage - 1];
    if (!steps) throw new RangeError(`detector: no R-CNN stage ${stage}`);
    const run = (): RoiOutputs => {
      const values = new Map<number, tf.Tensor4D>();
      const features = outputs.get('features');
      for (const step of steps) {
        const xs = step.inputs.map((i) => {
          const v = values.get(i);
          if (v) return v;
          const level = this.featureLevel.get(i);
          const f = level === undefined ? undefined : features?.get(level);
          if (!f) throw new Error(`detector: RoI stage ${stage} reads node ${i}, not a feature output`);
          return f;
        });
        values.set(step.out, step.run(xs, rois));
      }
      const out = (role: OutputRole): tf.Tensor2D => {
        const o = this.graph.outputs.find((g) => g.role === role && g.index === stage)!;
        const v = values.get(o.node)!;
        return tf.reshape(v, [v.shape[0], -1]);
      };
      return { cls: out('head.cls'), reg: out('head.reg') };
    };
    if (record) return run();
    const kept = tf.tidy(() => {
      const o = run();
      return [o.cls, o.reg];
    });
    return { cls: kept[0]!, reg: kept[1]! };
  }

  /** Feature-output node id -> its level (what RoIAlign reads). */
  private get featureLevel(): Map<number, number> {
    if (!this.featureLevels) {
      this.featureLevels = new Map();
      for (const o of this.graph.outputs) if (o.role === 'features') this.featureLevels.set(o.node, o.index);
    }
    return this.featureLevels;
  }
  private featureLevels: Map<number, number> | undefined;

  dispose(): void {
    for (const d of this.disposers) d();
    this.params.dispose();
  }
}

/** A node's output elements per image (per RoI for per-RoI nodes). */
function elementsOf(node: LayerNode): number {
  const [c, h, w] = node.shape;
  return c * h * w;
}

/** Whether a gradient tape is recording (tf.grads, tf.variableGrads): tfjs's own fused ops ask the same. */
function gradientsRecorded(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/** The identity with a zero gradient (PyTorch's `.detach()`). */
export const detach: (x: tf.Tensor4D) => tf.Tensor4D = (x) =>
  tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const a = args[0] as tf.Tensor;
    return { value: tf.clone(a), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  })(x) as tf.Tensor4D;

/**
 * mmcv conv_ws_2d: per output channel, (w - mean) / (std + eps), std unbiased. libs/tfjs-runtime's
 * (one native kernel each way with @sm-nas/native-kernels, else tfjs ops).
 */
export function standardize(weight: tf.Tensor4D): tf.Tensor4D {
  return weightStandardize(weight, WS_EPS);
}
