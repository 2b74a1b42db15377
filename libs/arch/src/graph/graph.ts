// The graph-building sink: the lowering's calls kept as typed nodes, for `libs/detector` to
// instantiate (and for anyone to inspect). Same lowering as the FLOPs counter.

import type { Architecture, InputSize } from '../architecture.js';
import { lower, resolveLowerOptions, type LowerOptions, type LoweringForm } from './lower.js';
import type { ActivationKind, LayerFlags, LayerSink, ModuleName, NormKind, OutputRole } from './sink.js';

/** [channels, height, width] at batch 1 (per RoI for per-RoI nodes). */
export type Shape = readonly [number, number, number];

interface NodeBase {
  id: number;
  /** module.scope….name, unique within the graph, e.g. `backbone.stage2.block0.conv1`. */
  path: string;
  /**
   * The path its parameters are named after: `path` without the level scope of a head whose
   * weights are shared across levels (`head.cls_conv0.conv`, not `head.p3.cls_conv0.conv`).
   */
  paramPath: string;
  module: ModuleName;
  /** Runs once per RoI/proposal (R-CNN heads) rather than once per image. */
  perRoi: boolean;
  /** The R-CNN stage (1..) a per-RoI node runs in; 0 for per-image nodes. */
  roiStage: number;
  inputs: readonly number[];
  shape: Shape;
}

export interface InputNode extends NodeBase { op: 'input' }
export interface Conv2dNode extends NodeBase {
  op: 'conv2d';
  inChannels: number; outChannels: number; kernel: number; stride: number; padding: number;
  dilation: number; groups: number; bias: boolean;
  /** -1: own weights; else the node whose weights this one reuses (heads shared across levels). */
  weightsOf: number;
  flags: LayerFlags;
}
/** inputs = [features, offsets]. */
export interface DeformConv2dNode extends NodeBase {
  op: 'deform_conv2d';
  inChannels: number; outChannels: number; kernel: number; stride: number; padding: number;
  dilation: number; groups: number; deformGroups: number; bias: boolean; weightsOf: number;
  flags: LayerFlags;
}
export interface NormNode extends NodeBase {
  op: 'norm'; kind: NormKind; channels: number; groups: number; affine: boolean; weightsOf: number;
}
export interface ActivationNode extends NodeBase { op: 'activation'; kind: ActivationKind }
export interface MaxPoolNode extends NodeBase { op: 'max_pool'; kernel: number; stride: number; padding: number }
export interface GlobalAvgPoolNode extends NodeBase { op: 'global_avg_pool' }
export interface ResizeNode extends NodeBase { op: 'resize'; mode: 'nearest' }
export interface AddNode extends NodeBase { op: 'add' }
export interface ConcatNode extends NodeBase { op: 'concat' }
export interface FlattenNode extends NodeBase { op: 'flatten' }
export interface LinearNode extends NodeBase {
  op: 'linear'; inFeatures: number; outFeatures: number; bias: boolean; weightsOf: number;
  flags: LayerFlags;
}
export interface RoiAlignNode extends NodeBase {
  op: 'roi_align'; outputSize: number; samplingRatio: number; spatialScales: readonly number[]; finestScale: number;
}

export type LayerNode =
  | InputNode | Conv2dNode | DeformConv2dNode | NormNode | ActivationNode | MaxPoolNode
  | GlobalAvgPoolNode | ResizeNode | AddNode | ConcatNode | FlattenNode | LinearNode | RoiAlignNode;
export type LayerOp = LayerNode['op'];

export interface GraphOutput { role: OutputRole; index: number; node: number }

export interface LayerGraph {
  form: LoweringForm;
  input: InputSize;
  numClasses: number;
  /** RoIs per R-CNN stage the graph is meant to run with (per-RoI nodes run this many times). */
  proposals: number;
  /** nodes[i].id === i; inputs precede their consumers. */
  nodes: LayerNode[];
  outputs: GraphOutput[];
}

type Distribute<T> = T extends LayerNode ? Omit<T, keyof NodeBase> : never;

/** A LayerSink that keeps every node. */
export class GraphBuilder implements LayerSink {
  readonly nodes: LayerNode[] = [];
  readonly outputs: GraphOutput[] = [];
  private module: ModuleName = 'backbone.stem';
  private roiStage = 0;
  private scope = '';
  private paramScope = '';
  private readonly scopes: [string, string][] = [];

  private push(id: number, name: string, inputs: readonly number[], shape: Shape, fields: Distribute<LayerNode>): void {
    if (id !== this.nodes.length) throw new Error(`graph: node id ${id} out of order`);
    const path = `${this.module}${this.scope}.${name}`;
    const paramPath = `${this.module}${this.paramScope}.${name}`;
    const { module, roiStage } = this;
    this.nodes.push({ id, path, paramPath, module, perRoi: roiStage > 0, roiStage, inputs, shape, ...fields } as LayerNode);
  }

  beginModule(module: ModuleName, roiStage: number): void {
    this.module = module;
    this.roiStage = roiStage;
    this.scopes.length = 0;
    this.scope = '';
    this.paramScope = '';
  }
  enterScope(name: string, index: number, shared = false): void {
    this.scopes.push([this.scope, this.paramScope]);
    const part = `.${name}${index >= 0 ? index : ''}`;
    this.scope += part;
    if (!shared) this.paramScope += part;
  }
  exitScope(): void {
    [this.scope, this.paramScope] = this.scopes.pop() ?? ['', ''];
  }
  input(id: number, channels: number, height: number, width: number): void {
    this.push(id, 'input', [], [channels, height, width], { op: 'input' });
  }
  conv2d(
    id: number, name: string, input: number, inChannels: number, outChannels: number, kernel: number,
    stride: number, padding: number, dilation: number, groups: number, bias: boolean,
    outHeight: number, outWidth: number, weightsOf: number, flags: LayerFlags,
  ): void {
    this.push(id, name, [input], [outChannels, outHeight, outWidth], {
      op: 'conv2d', inChannels, outChannels, kernel, stride, padding, dilation, groups, bias, weightsOf, flags,
    });
  }
  deformConv2d(
    id: number, name: string, input: number, offset: number, inChannels: number, outChannels: number,
    kernel: number, stride: number, padding: number, dilation: number, groups: number, deformGroups: number,
    bias: boolean, outHeight: number, outWidth: number, weightsOf: number, flags: LayerFlags,
  ): void {
    this.push(id, name, [input, offset], [outChannels, outHeight, outWidth], {
      op: 'deform_conv2d', inChannels, outChannels, kernel, stride, padding, dilation, groups, deformGroups, bias, weightsOf, flags,
    });
  }
  norm(
    id: number, name: string, input: number, kind: NormKind, channels: number, groups: number,
    affine: boolean, height: number, width: number, weightsOf: number,
  ): void {
    this.push(id, name, [input], [channels, height, width], { op: 'norm', kind, channels, groups, affine, weightsOf });
  }
  activation(id: number, name: string, input: number, kind: ActivationKind, channels: number, height: number, width: number): void {
    this.push(id, name, [input], [channels, height, width], { op: 'activation', kind });
  }
  maxPool(
    id: number, name: string, input: number, kernel: number, stride: number, padding: number,
    channels: number, outHeight: number, outWidth: number,
  ): void {
    this.push(id, name, [input], [channels, outHeight, outWidth], { op: 'max_pool', kernel, stride, padding });
  }
  globalAvgPool(id: number, name: string, input: number, channels: number): void {
    this.push(id, name, [input], [channels, 1, 1], { op: 'global_avg_pool' });
  }
  resize(id: number, name: string, input: number, channels: number, outHeight: number, outWidth: number): void {
    this.push(id, name, [input], [channels, outHeight, outWidth], { op: 'resize', mode: 'nearest' });
  }
  add(id: number, name: string, a: number, b: number, channels: number, height: number, width: number): void {
    this.push(id, name, [a, b], [channels, height, width], { op: 'add' });
  }
  concat(id: number, name: string, inputs: readonly number[], channels: number, height: number, width: number): void {
    this.push(id, name, [...inputs], [channels, height, width], { op: 'concat' });
  }
  flatten(id: number, name: string, input: number, features: number): void {
    this.push(id, name, [input], [features, 1, 1], { op: 'flatten' });
  }
  linear(
    id: number, name: string, input: number, inFeatures: number, outFeatures: number, bias: boolean,
    weightsOf: number, flags: LayerFlags,
  ): void {
    this.push(id, name, [input], [outFeatures, 1, 1], { op: 'linear', inFeatures, outFeatures, bias, weightsOf, flags });
  }
  roiAlign(
    id: number, name: string, inputs: readonly number[], channels: number, outputSize: number,
    samplingRatio: number, spatialScales: readonly number[], finestScale: number,
  ): void {
    this.push(id, name, [...inputs], [channels, outputSize, outputSize], {
      op: 'roi_align', outputSize, samplingRatio, spatialScales: [...spatialScales], finestScale,
    });
  }
  output(role: OutputRole, index: number, id: number): void {
    this.outputs.push({ role, index, node: id });
  }
}

/** Lowers `arch` to a LayerGraph (the detector's entry point). */
export function buildGraph(arch: Architecture, options: LowerOptions = {}): LayerGraph {
  const resolved = resolveLowerOptions(arch, options);
  const builder = new GraphBuilder();
  lower(arch, resolved, builder);
  return { ...resolved, nodes: builder.nodes, outputs: builder.outputs };
}
