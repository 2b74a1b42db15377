// What a module family is: one descriptor per backbone, neck, RPN and head kind, holding everything
// about it (its space bounds and defaults, its lowering to the layer graph, its weight names), each
// in its own file and registered under its kind in `registry.ts` (after mmdetection's registries and
// timm's model registry). The lowering, the spaces and the detector look families up there instead
// of branching on kinds.

import type { common } from '@sm-nas/proto';
import type { Architecture, Backbone, FpnNeck, Head, Neck, RpnKind } from '../architecture.js';
import type { ValidationSpace } from '../fields.js';
import type { ActivationKind, LayerFlags, LayerSink, ModuleName } from '../graph/sink.js';

/** What a family's lowering calls: the lowering's node helpers, over one architecture being lowered. */
export interface LoweringContext {
  readonly sink: LayerSink;
  readonly numClasses: number;
  /** The neck's family is `singleLevel` (C4): see NeckFamily. */
  readonly singleLevelNeck: boolean;
  /** The backbone being lowered: its base channels and block string, parsed. */
  readonly base: number;
  readonly blocks: string;
  /** Offsets in `blocks` of stage `s` (0..3): its first block and its end (exclusive). */
  stageBegin(stage: number): number;
  stageEnd(stage: number): number;
  /** '2's in the stages before stage `s`. */
  twosBefore(stage: number): number;

  /** [C, H, W] of node `x`. */
  channels(x: number): number;
  height(x: number): number;
  width(x: number): number;
  /** A node id for a tensor of this shape (the caller reports the node to `sink`). */
  alloc(c: number, h: number, w: number): number;
  /** -1, or the node whose weights node `id` reuses (while a shared head's later level is emitted). */
  owner(id: number): number;
  /** Starts a module whose layers carry `flags` unless they name their own (`roiStage`: see LayerSink). */
  begin(module: ModuleName, roiStage: number, flags: LayerFlags): void;

  conv(name: string, x: number, outC: number, k: number, stride: number, pad: number, groups: number, bias: boolean, flags?: LayerFlags): number;
  /** The backbone's norm (kind from the lowering options). */
  norm(name: string, x: number): number;
  /** mmdetection's GroupNorm(32) whatever the backbone's norm (heads with GN towers). */
  groupNorm(name: string, x: number, groups: number): number;
  act(name: string, x: number, kind: ActivationKind): number;
  add(name: string, a: number, b: number): number;
  linear(name: string, x: number, out: number, flags?: LayerFlags): number;
  flatten(name: string, x: number): number;
  globalAvgPool(name: string, x: number): number;
  maxPool(name: string, x: number, k: number, stride: number, pad: number): number;
  resize(name: string, x: number, h: number, w: number): number;

  /** The backbone's stage `stage` (0..3) again on `x` (the C4 RoI head's copy of stage 4). */
  backboneStage(x: number, stage: number): number;
  /** C1..C5 (index = level) as the backbone made them. */
  level(l: number): number;
  setLevel(l: number, id: number): void;
  /** The neck's outputs (FPN P_l, or C4 at 4). */
  feature(l: number): number;
  setFeature(l: number, id: number): void;
  /**
   * Runs `emit(l)` for levels lo..hi of a head whose weights are shared across levels: later levels
   * reuse level lo's weights, and the `p<l>` scope is left out of parameter names.
   */
  sharedLevels(lo: number, hi: number, emit: (l: number) => void): void;
  fail(message: string): never;
}

export type BlockType = 'basic' | 'bottleneck' | 'inverted_residual';

/** Limits on a block string (see space.ts). */
export interface BlockBounds {
  stages: number;
  minBlocksPerStage: number;
  maxBlocksPerStage: number;
  minTotalBlocks: number;
  maxTotalBlocks: number;
  minDoublings: number;
  maxDoublings: number;
}

export interface BackboneFamily {
  readonly blockType: BlockType;
  /** The torchvision definition as a block string (base 64). */
  readonly standardBlocks: string;
  /** Block-string bounds of the modular space. */
  readonly bounds: Readonly<BlockBounds>;
  /** Doublings past which the lowering cannot build the backbone, with the reason; none if unlimited. */
  readonly maxBuildableDoublings?: { count: number; reason: string };
  /** Lowers the stem; `c1`: the level-1 feature, `out`: what stage 1 reads. */
  stem(ctx: LoweringContext, input: number): { c1: number; out: number };
  /** Lowers stage `stage` (0..3) of the block string (also the C4 RoI head's copy of stage 4). */
  stage(ctx: LoweringContext, x: number, stage: number): number;
  /** The classification form's classifier after C5; returns the logits node. */
  classifier(ctx: LoweringContext, c5: number): number;
  /** torchvision's state-dict key of one of its parameters, or undefined (not a backbone parameter). */
  toTorchvisionName(backbone: Backbone, name: string): string | undefined;
  /** Inverse of `toTorchvisionName`. */
  fromTorchvisionName(backbone: Backbone, key: string): string | undefined;
}

export interface NeckFamily<N extends Neck = Neck> {
  /** How its canonical token reads, for error messages (`fpn:<start>-<end>:<channels>`). */
  readonly tokenForm: string;
  /** The canonical token (see canonical.ts), which starts with the kind. */
  token(neck: N): string;
  /**
   * The fields of a canonical token's tail (what follows the kind, '' or `:...`), still to be
   * validated; `at` receives the offset of each field's text, from `start` (where the tail starts).
   */
  parseTail(tail: string, start: number, at: Record<string, number>): Record<string, unknown>;
  /** A neck of this kind from fields a client sent (domain names), checked for `space`. */
  validate(fields: Record<string, unknown>, space: ValidationSpace): N;
  /** Protobuf JSON's field names and enum values renamed to the domain's (architectureFromJson). */
  fromJson(fields: Record<string, unknown>): Record<string, unknown>;
  /** The wire message's fields but the kind, and back (zero values meaning the defaults); the result still needs `validate`. */
  toWire(neck: N): Omit<common.Neck, 'kind'>;
  fromWire(wire: common.Neck, field: string): Record<string, unknown>;
  /** The neck without its width: what a structural gene says. */
  structureKey(neck: N): string;
  /** Its choices in the structural space, at the standard width. */
  structuralChoices(): N[];
  /** Its width, when it has one: a modular gene (`choices`), scaled by the training fidelity. */
  readonly width?: {
    readonly choices: readonly number[];
    get(neck: N): number;
    set(neck: N, channels: number): N;
  };
  /**
   * One feature level that stops before the backbone's last stage (C4): the RPN puts anchors of
   * several scales there, and the R-CNN heads run that last stage per RoI.
   */
  readonly singleLevel?: true;
  /** Checks the neck's fields before anything is emitted (`ctx.fail` on a bad one). */
  check(neck: N, fail: (message: string) => never): void;
  /** Backbone stages (1..4) the neck reads. */
  backboneStages(neck: N): number;
  /** Lowers the neck over the backbone's levels; returns the feature levels it gives. */
  lower(ctx: LoweringContext, neck: N): { lo: number; hi: number };
}

export type FpnNeckFamily = NeckFamily<FpnNeck>;

/** Where an FPN's extra levels start: lowers P6..P`hi` (hi 6 or 7) once P_lo..P5 exist. */
export interface FpnExtraSourceFamily {
  /** Why this source cannot serve `neck`, or undefined. */
  unusableWith?(neck: FpnNeck): string | undefined;
  /** P6 from the source; the FPN then adds P7 = conv(relu(P6)). */
  p6(ctx: LoweringContext, neck: FpnNeck): number;
}

export interface RpnFamily {
  /** Lowers the proposal network over feature levels lo..hi. */
  lower(ctx: LoweringContext, lo: number, hi: number, arch: Architecture): void;
}

export interface HeadFamily {
  /** R-CNN stages the head may have (0: a dense, one-stage head). */
  readonly stages: readonly number[];
  /** Stages when a request names the head but not its stages (the wire's 0). */
  readonly defaultStages: number;
  /** The proposal generators the head may sit on. */
  readonly rpns: readonly RpnKind[];
  /** Why an RPN outside `rpns` has no meaning with this head. */
  readonly rpnRule: string;
  /** Lowers the head over feature levels lo..hi. */
  lower(ctx: LoweringContext, head: Head, lo: number, hi: number, arch: Architecture): void;
}
