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

/**
 * How a layer with weights starts, chosen by the lowering where it emits the layer (the detector
 * reads it; nothing matches layer names to decide it):
 * - `kaiming_normal_fan_out`: torchvision's ResNet/MobileNetV2 convolutions.
 * - `xavier_uniform`: mmdetection's FPN convolutions and the R-CNN heads' shared FCs.
 * - `normal`: normal(0, `std`), mmdetection's dense heads, classifiers and box regressors.
 */
export type WeightInit = 'kaiming_normal_fan_out' | 'xavier_uniform' | 'normal';

/** Behaviour a layer carries besides its shape: its initialisation and gradient routing. */
export interface LayerFlags {
  readonly weightInit: WeightInit;
  /** The standard deviation of `normal` (0 otherwise). */
  readonly std: number;
  /** `prior_prob`: the bias starts at -log((1 - p) / p), p = 0.01 (mmdetection's bias_init_with_prob). */
  readonly biasInit: 'zero' | 'prior_prob';
  /** No gradient flows back through the input (mmdetection FeatureAdaption: conv_offset(shape_pred.detach())). */
  readonly detachInput: boolean;
}

/** The flags the lowerings use (shared constants: emitting a layer allocates nothing). */
export const LAYER_FLAGS = {
  backbone: { weightInit: 'kaiming_normal_fan_out', std: 0, biasInit: 'zero', detachInput: false },
  neck: { weightInit: 'xavier_uniform', std: 0, biasInit: 'zero', detachInput: false },
  /** Dense heads' towers and regressors; linear classifiers. */
  head: { weightInit: 'normal', std: 0.01, biasInit: 'zero', detachInput: false },
  /**
   * Convolution towers without a normalisation (RetinaNet's): He et al.'s normal, as the backbone.
   * mmdetection's normal(0, 0.01) assumes a pretrained backbone and a long schedule: it shrinks the
   * signal 3x a layer at 256 channels and 6x at 64, so four layers pass almost nothing to the
   * predictors, and a from-scratch RetinaNet sat at AP50 0.005 after 500 proxy steps where this
   * init reached 0.2 (bench/RESULTS.md, "Fidelity").
   */
  tower: { weightInit: 'kaiming_normal_fan_out', std: 0, biasInit: 'zero', detachInput: false },
  /** Sigmoid classifiers of dense heads (RetinaNet, GA-RPN's cls and loc). */
  classifier: { weightInit: 'normal', std: 0.01, biasInit: 'prior_prob', detachInput: false },
  /** Offsets of a deformable convolution computed from a detached prediction. */
  detachedOffset: { weightInit: 'normal', std: 0.01, biasInit: 'zero', detachInput: true },
  /** mmdetection ConvFCBBoxHead's shared FCs. */
  sharedFc: { weightInit: 'xavier_uniform', std: 0, biasInit: 'zero', detachInput: false },
  /** mmdetection BBoxHead's fc_reg: normal(0, 0.001). */
  boxRegression: { weightInit: 'normal', std: 0.001, biasInit: 'zero', detachInput: false },
} as const satisfies Record<string, LayerFlags>;
export type ActivationKind = 'relu' | 'relu6';

/**
 * Tensors a consumer reads out of the graph. `index` is the feature level (1..7) for the neck's
 * outputs and the dense heads, the stage (1..4) for R-CNN heads, 0 for the classifier.
 * - `features`: the neck's output at a level (FPN P_l, or C4 at level 4).
 * - `rpn.cls` / `rpn.reg`: RPN objectness (A channels) and deltas (4A); guided anchoring adds
 *   `rpn.loc` (1 channel) and `rpn.shape` (2 channels), its `rpn.cls`/`rpn.reg` have 1 and 4.
 * - `head.cls` / `head.reg`: RetinaNet per level (A*K, A*4), R-CNN per stage (K+1, 4K or 4); FCOS
 *   per level K and 4 (distances to the box sides, after a ReLU) with `head.centerness` (1).
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
  | 'head.centerness'
  | 'logits';

/**
 * Receives the layers of one lowered architecture. All shapes are [C, H, W] at batch 1; for nodes of
 * a per-RoI module (see `beginModule`) they are the shape for one RoI. Kernels are square.
 *
 * `weightsOf` on layers with weights: -1 when the layer has its own weights, otherwise the id of the
 * earlier node whose weights it reuses (heads shared across FPN levels), so parameters count once.
 */
export interface LayerSink {
  /**
   * Every node until the next call belongs to `module`; `roiStage` 0: it runs once per image; t ≥ 1:
   * it runs once per RoI/proposal, in R-CNN stage t.
   */
  beginModule(module: ModuleName, roiStage: number): void;
  /**
   * Name scopes: a node's path is module.scope….name; `index` ≥ 0 is appended to `name` (block3).
   * `shared`: the scope is one of several levels that share weights (a dense head's `p3`), left out
   * of parameter names.
   */
  enterScope(name: string, index: number, shared?: boolean): void;
  exitScope(): void;

  input(id: number, channels: number, height: number, width: number): void;
  conv2d(
    id: number, name: string, input: number,
    inChannels: number, outChannels: number, kernel: number, stride: number, padding: number,
    dilation: number, groups: number, bias: boolean,
    outHeight: number, outWidth: number, weightsOf: number, flags: LayerFlags,
  ): void;
  /** Deformable convolution; `offset` is the node giving its 2*deformGroups*k*k offset channels. */
  deformConv2d(
    id: number, name: string, input: number, offset: number,
    inChannels: number, outChannels: number, kernel: number, stride: number, padding: number,
    dilation: number, groups: number, deformGroups: number, bias: boolean,
    outHeight: number, outWidth: number, weightsOf: number, flags: LayerFlags,
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
  linear(
    id: number, name: string, input: number, inFeatures: number, outFeatures: number, bias: boolean,
    weightsOf: number, flags: LayerFlags,
  ): void;
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
