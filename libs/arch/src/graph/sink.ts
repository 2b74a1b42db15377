// The lowering's output interface. `lower()` walks an architecture once and reports every layer to a
// sink; the FLOPs counter sums as the calls arrive (nothing allocated per layer), the graph builder
// keeps them as typed nodes for the detector. Node ids are assigned by the lowering (0, 1, 2, ... in
// emission order, inputs always before their consumers), so both sinks see the same ids.

/** Rows of the per-module breakdown, in the order the lowering emits them. */
export const MODULE_NAMES = [
  'backbone.stem',
  'backbone.stage1',
  'backbone.stage2',
  'backbone.stage3',
  'backbone.stage4',
  'backbone.classifier',
  'neck',
  'rpn',
  'head',
  'head.stage1',
  'head.stage2',
  'head.stage3',
  'head.stage4',
] as const;
export type ModuleName = (typeof MODULE_NAMES)[number];

export type NormKind = 'batch_norm' | 'group_norm' | 'frozen_batch_norm';
export type ActivationKind = 'relu' | 'relu6';

/**
 * Tensors a consumer reads out of the graph. `index` is the feature level (1..6) for the neck's
 * outputs and the dense heads, the stage (1..4) for R-CNN heads, 0 for the classifier.
 * - `features`: the neck's output at a level (FPN P_l, or C4 at level 4).
 * - `rpn.cls` / `rpn.reg`: RPN objectness (A channels) and deltas (4A); guided anchoring adds
 *   `rpn.loc` (1 channel) and `rpn.shape` (2 channels), its `rpn.cls`/`rpn.reg` have 1 and 4.
 * - `head.cls` / `head.reg`: RetinaNet per level (A*K, A*4), R-CNN per stage (K+1, 4K or 4).
 * - `logits`: the classification form's output.
 */
export type OutputRole =
  | 'features'
  | 'rpn.cls'
  | 'rpn.reg'
  | 'rpn.loc'
  | 'rpn.shape'
  | 'head.cls'
  | 'head.reg'
  | 'logits';

/**
 * Receives the layers of one lowered architecture. All shapes are [C, H, W] at batch 1; for nodes of
 * a per-RoI module (see `beginModule`) they are the shape for one RoI. Kernels are square.
 *
 * `weightsOf` on layers with weights: -1 when the layer has its own weights, otherwise the id of the
 * earlier node whose weights it reuses (heads shared across FPN levels), so parameters count once.
 */
export interface LayerSink {
  /** Every node until the next call belongs to `module`; `perRoi`: it runs once per RoI/proposal. */
  beginModule(module: ModuleName, perRoi: boolean): void;
  /** Name scopes: a node's path is module.scope….name; `index` ≥ 0 is appended to `name` (block3). */
  enterScope(name: string, index: number): void;
  exitScope(): void;

  input(id: number, channels: number, height: number, width: number): void;
  conv2d(
    id: number, name: string, input: number,
    inChannels: number, outChannels: number, kernel: number, stride: number, padding: number,
    dilation: number, groups: number, bias: boolean,
    outHeight: number, outWidth: number, weightsOf: number,
  ): void;
  /** Deformable convolution; `offset` is the node giving its 2*deformGroups*k*k offset channels. */
  deformConv2d(
    id: number, name: string, input: number, offset: number,
    inChannels: number, outChannels: number, kernel: number, stride: number, padding: number,
    dilation: number, groups: number, deformGroups: number, bias: boolean,
    outHeight: number, outWidth: number, weightsOf: number,
  ): void;
  /** `groups` is the group count of group_norm (1 otherwise). */
  norm(
    id: number, name: string, input: number, kind: NormKind,
    channels: number, groups: number, affine: boolean, height: number, width: number, weightsOf: number,
  ): void;
  activation(id: number, name: string, input: number, kind: ActivationKind, channels: number, height: number, width: number): void;
  maxPool(
    id: number, name: string, input: number, kernel: number, stride: number, padding: number,
    channels: number, outHeight: number, outWidth: number,
  ): void;
  /** Output [C, 1, 1]. */
  globalAvgPool(id: number, name: string, input: number, channels: number): void;
  /** Nearest-neighbour resize to an exact target size. */
  resize(id: number, name: string, input: number, channels: number, outHeight: number, outWidth: number): void;
  add(id: number, name: string, a: number, b: number, channels: number, height: number, width: number): void;
  /** Channel concatenation (no lowering of the current space emits it). */
  concat(id: number, name: string, inputs: readonly number[], channels: number, height: number, width: number): void;
  /** Output [features, 1, 1]. */
  flatten(id: number, name: string, input: number, features: number): void;
  linear(id: number, name: string, input: number, inFeatures: number, outFeatures: number, bias: boolean, weightsOf: number): void;
  /**
   * RoIAlign over one or more feature maps (`inputs[i]` at `spatialScales[i]`, finest first); with
   * several, each RoI is mapped to one of them by mmdetection's rule
   * level = clamp(floor(log2(sqrt(w*h) / finestScale + 1e-6)), 0, inputs.length - 1).
   * Output [channels, outputSize, outputSize] per RoI. `samplingRatio` 0 = adaptive.
   */
  roiAlign(
    id: number, name: string, inputs: readonly number[], channels: number,
    outputSize: number, samplingRatio: number, spatialScales: readonly number[], finestScale: number,
  ): void;
  output(role: OutputRole, index: number, id: number): void;
}
