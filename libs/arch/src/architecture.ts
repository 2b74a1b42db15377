// What an architecture is. One place for the fact: every service, the CLI and the detector read
// these types; the wire form (nas.common.v1.Architecture) is converted to and from them in
// `wire.ts`, and the canonical string in `canonical.ts`.

import { BACKBONES, FPN_EXTRA_SOURCES, HEADS, RPNS } from './modules/registry.js';

/**
 * Backbones of the SM-NAS structural space (paper, section 3.1), proposal generators and heads: the
 * kinds registered in the module registry (modules/registry.ts), in registration order. A new kind
 * is its family's file, its registration, and its value in the proto enum.
 */
export const BACKBONE_KINDS: readonly BackboneKind[] = Object.freeze(Object.keys(BACKBONES) as BackboneKind[]);
export type BackboneKind = keyof typeof BACKBONES;

export const RPN_KINDS: readonly RpnKind[] = Object.freeze(Object.keys(RPNS) as RpnKind[]);
export type RpnKind = keyof typeof RPNS;

export const HEAD_KINDS: readonly HeadKind[] = Object.freeze(Object.keys(HEADS) as HeadKind[]);
export type HeadKind = keyof typeof HEADS;

export interface Backbone {
  kind: BackboneKind;
  /**
   * Width of the first stage. ResNet/ResNeXt: the stem's output channels and stage 1's `planes`
   * (64 in torchvision). MobileNetV2: width multiplier = base_channels / 64 (64 = torchvision's 1.0).
   */
  baseChannels: number;
  /**
   * Block string: exactly 4 stages (strides 4, 8, 16, 32, i.e. C2..C5) separated by '-'; each
   * character is one block; '1' keeps the width, '2' doubles it (MobileNetV2: moves to the next
   * width of torchvision's ladder 24, 32, 64, 96, 160, 320). The first block of stages 2..4 has
   * stride 2 (MobileNetV2: of every stage).
   */
  blocks: string;
}

/** Single-level C4 features (stride 16), as Faster R-CNN C4: the RoI head takes stage 4. */
export interface C4Neck {
  kind: 'c4';
}

/** Where an FPN's extra levels (P6, P7) start: the registered sources (modules/necks/extras). */
export const FPN_EXTRA_SOURCE_KINDS: readonly FpnExtraSource[] = Object.freeze(Object.keys(FPN_EXTRA_SOURCES) as FpnExtraSource[]);
export type FpnExtraSource = keyof typeof FPN_EXTRA_SOURCES;

/**
 * FPN entering at P_start and leaving at P_end; levels above 5 are extra stride-2 convolutions,
 * P6 on `extraSource` (C5 or P5), P7 on P6 after a ReLU.
 */
export interface FpnNeck {
  kind: 'fpn';
  startLevel: number;
  endLevel: number;
  channels: number;
  /** Meaningful only with endLevel >= 6; 'c5' otherwise, so each neck has one form. */
  extraSource: FpnExtraSource;
}

export type Neck = C4Neck | FpnNeck;

export interface Head {
  kind: HeadKind;
  /** Number of R-CNN stages: 0 for the one-stage heads, 1 for Faster R-CNN, 2..4 for Cascade R-CNN. */
  stages: number;
  /**
   * RetinaNet, FCOS: width of their 4-conv towers. R-CNN with FPN: the two shared FC layers have
   * 4 x channels units (1024 at 256, mmdetection's default).
   */
  channels: number;
}

export interface InputSize {
  widthPx: number;
  heightPx: number;
}

export interface Architecture {
  backbone: Backbone;
  neck: Neck;
  rpn: RpnKind;
  head: Head;
  input: InputSize;
}

/** The two stages of SM-NAS. */
export type SearchStage = 'structural' | 'modular';
