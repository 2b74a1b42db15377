// The detector's parameters: one tf.Variable per tensor, named after the node that owns it
// (`weightsOf` resolved, so a head shared across FPN levels has one set of weights), in PyTorch's
// naming and, through getWeights/setWeights, PyTorch's layouts (conv OIHW, linear [out, in]) so a
// checkpoint is a state dict torchvision or mmdetection can read.

import * as tf from '@tensorflow/tfjs-core';
import type { Conv2dNode, DeformConv2dNode, LayerFlags, LayerGraph, LayerNode, LinearNode, NormNode } from '@sm-nas/arch/graph';

/** A host copy of one parameter: row-major data and its shape in PyTorch's layout. */
export interface WeightTensor {
  data: Float32Array;
  shape: number[];
}

export type WeightMap = Map<string, WeightTensor>;

/** How a variable's layout relates to PyTorch's. */
type Layout = 'conv' | 'linear' | 'vector';

export interface Param {
  name: string;
  variable: tf.Variable;
  trainable: boolean;
  layout: Layout;
}

/** mmdetection RetinaHead / RPN: prior probability of the classification bias. */
export const PRIOR_PROB = 0.01;

/**
 * The parameter prefix of a node: its owner's path, without the `.p<level>` scope in the dense
 * heads (their weights are shared across levels, so the level would only name where they first ran).
 */
export function paramPrefix(graph: LayerGraph, node: LayerNode): string {
  const owner = 'weightsOf' in node && node.weightsOf >= 0 ? graph.nodes[node.weightsOf]! : node;
  return owner.paramPath;
}

/** A weight tensor initialised as the node's flags say (see `LayerFlags`). */
function initialWeight(flags: LayerFlags, shape: number[], fanIn: number, fanOut: number, seed: number): tf.Tensor {
  switch (flags.weightInit) {
    case 'kaiming_normal_fan_out':
      return tf.randomNormal(shape, 0, Math.sqrt(2 / fanOut), 'float32', seed);
    case 'xavier_uniform': {
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      return tf.randomUniform(shape, -bound, bound, 'float32', seed);
    }
    case 'normal':
      return tf.randomNormal(shape, 0, flags.std, 'float32', seed);
  }
}

function initialBias(flags: LayerFlags): number {
  return flags.biasInit === 'prior_prob' ? -Math.log((1 - PRIOR_PROB) / PRIOR_PROB) : 0;
}

/** Deterministic per-parameter seed (FNV-1a of the name, mixed with the detector's seed). */
function seedOf(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A weight whose shape is not the parameter's (torch layout): weights of another architecture or width. */
export class WeightShapeError extends Error {
  constructor(
    readonly parameter: string,
    readonly got: number[],
    readonly expected: number[],
  ) {
    super(`setWeights: ${parameter} has shape [${got.join(', ')}], expected [${expected.join(', ')}]`);
    this.name = 'WeightShapeError';
  }
}

export class ParamStore {
  readonly params = new Map<string, Param>();

  constructor(private readonly seed: number) {}

  get(name: string): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new Error(`no parameter ${name}`);
    return p.variable;
  }

  has(name: string): boolean {
    return this.params.has(name);
  }

  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((p) => p.trainable).map((p) => p.variable);
  }

  private add(name: string, value: tf.Tensor, trainable: boolean, layout: Layout): void {
    if (this.params.has(name)) {
      value.dispose();
      return;
    }
    const variable = tf.variable(value, trainable);
    value.dispose();
    this.params.set(name, { name, variable, trainable, layout });
  }

  /** Conv weight [k, k, in/groups, out] and bias, initialised as the node's flags say. */
  addConv(graph: LayerGraph, node: Conv2dNode | DeformConv2dNode): void {
    const prefix = paramPrefix(graph, node);
    if (this.params.has(`${prefix}.weight`)) return;
    const { kernel: k, inChannels, outChannels: cout, groups } = node;
    const cinG = inChannels / groups;
    const shape = [k, k, cinG, cout];
    const s = seedOf(this.seed, prefix);
    const fanIn = cinG * k * k;
    const fanOut = cout * k * k;
    // torchvision's backbones: kaiming_normal_(mode='fan_out'); mmdetection's FPN: xavier-uniform;
    // its dense heads normal(0, 0.01), sigmoid classifiers' bias from the prior (RetinaHead,
    // GuidedAnchorHead's cls and loc; the plain RPN's classifier starts at 0).
    const weight = initialWeight(node.flags, shape, fanIn, fanOut, s);
    const biasValue = initialBias(node.flags);
    this.add(`${prefix}.weight`, weight, true, 'conv');
    if (node.bias) this.add(`${prefix}.bias`, tf.fill([cout], biasValue), true, 'vector');
  }

  /** Deformable convolution: the convolution's layout and init (mmdetection: normal(0, 0.01)). */
  addDeformConv(graph: LayerGraph, node: DeformConv2dNode): void {
    this.addConv(graph, node);
  }

  /**
   * Linear weight [in, out] and bias, as the node's flags say (mmdetection's R-CNN heads: the shared
   * FCs xavier-uniform, fc_cls normal(0, 0.01), fc_reg normal(0, 0.001); classifiers normal(0, 0.01)).
   */
  addLinear(graph: LayerGraph, node: LinearNode): void {
    const prefix = paramPrefix(graph, node);
    if (this.params.has(`${prefix}.weight`)) return;
    const shape: [number, number] = [node.inFeatures, node.outFeatures];
    const s = seedOf(this.seed, prefix);
    const weight = initialWeight(node.flags, shape, node.inFeatures, node.outFeatures, s);
    this.add(`${prefix}.weight`, weight, true, 'linear');
    if (node.bias) this.add(`${prefix}.bias`, tf.fill([node.outFeatures], initialBias(node.flags)), true, 'vector');
  }

  /**
   * Norm affine (weight 1, bias 0) and, for batch norms, running statistics (mean 0, var 1).
   * frozen_batch_norm is entirely fixed (torchvision's FrozenBatchNorm2d: buffers only).
   */
  addNorm(graph: LayerGraph, node: NormNode): void {
    const prefix = paramPrefix(graph, node);
    if (this.params.has(`${prefix}.weight`) || this.params.has(`${prefix}.running_mean`)) return;
    const c = node.channels;
    const learn = node.kind !== 'frozen_batch_norm';
    if (node.affine) {
      this.add(`${prefix}.weight`, tf.ones([c]), learn, 'vector');
      this.add(`${prefix}.bias`, tf.zeros([c]), learn, 'vector');
    }
    if (node.kind !== 'group_norm') {
      this.add(`${prefix}.running_mean`, tf.zeros([c]), false, 'vector');
      this.add(`${prefix}.running_var`, tf.ones([c]), false, 'vector');
    }
  }

  /** Host copies in PyTorch layouts, by name (read together: one wait for a GPU backend). */
  async getWeights(): Promise<WeightMap> {
    const params = [...this.params.values()];
    const tensors = params.map((p) => tf.tidy(() => toTorchLayout(p.variable, p.layout)));
    try {
      const data = await Promise.all(tensors.map((t) => t.data()));
      return new Map(params.map((p, i) => [p.name, { data: data[i] as Float32Array, shape: [...tensors[i]!.shape] }]));
    } finally {
      tf.dispose(tensors);
    }
  }

  /**
   * Assigns the given tensors (PyTorch layouts). Unknown names and shape mismatches throw; names not
   * given keep their values unless `strict`, which requires every parameter.
   */
  setWeights(weights: WeightMap, strict = false): void {
    for (const name of weights.keys()) if (!this.params.has(name)) throw new Error(`setWeights: no parameter ${name}`);
    for (const p of this.params.values()) {
      const w = weights.get(p.name);
      if (!w) {
        if (strict) throw new Error(`setWeights: missing ${p.name}`);
        continue;
      }
      const expected = torchShape(p.variable.shape, p.layout);
      if (w.shape.length !== expected.length || w.shape.some((d, i) => d !== expected[i])) {
        throw new WeightShapeError(p.name, [...w.shape], expected);
      }
      if (w.data.length !== expected.reduce((a, b) => a * b, 1)) throw new Error(`setWeights: ${p.name} data length ${w.data.length}`);
      tf.tidy(() => p.variable.assign(fromTorchLayout(tf.tensor(w.data, w.shape, 'float32'), p.layout)));
    }
  }

  dispose(): void {
    for (const p of this.params.values()) p.variable.dispose();
    this.params.clear();
  }
}

function torchShape(shape: readonly number[], layout: Layout): number[] {
  if (layout === 'conv') return [shape[3]!, shape[2]!, shape[0]!, shape[1]!];
  if (layout === 'linear') return [shape[1]!, shape[0]!];
  return [...shape];
}

function toTorchLayout(t: tf.Tensor, layout: Layout): tf.Tensor {
  if (layout === 'conv') return tf.transpose(t, [3, 2, 0, 1]);
  if (layout === 'linear') return tf.transpose(t, [1, 0]);
  return tf.clone(t);
}

function fromTorchLayout(t: tf.Tensor, layout: Layout): tf.Tensor {
  if (layout === 'conv') return tf.transpose(t, [2, 3, 1, 0]);
  if (layout === 'linear') return tf.transpose(t, [1, 0]);
  return t;
}
