// What an architecture is. One place for the fact: every service, the CLI and the detector read
// these types; the wire form (nas.common.v1.Architecture) is converted to and from them in
// `wire.ts`, and the canonical string in `canonical.ts`.

/** Backbones of the SM-NAS structural space (paper, section 3.1). */
export const BACKBONE_KINDS = [
  'resnet18',
  'resnet34',
  'resnet50',
  'resnet101',
  'resnext50_32x4d',
  // torchvision's ResNeXt-101 (32 groups of width 8): the one whose classification form we can
  // check against torchvision to the unit.
  'resnext101_32x8d',
  'mobilenet_v2',
] as const;
export type BackboneKind = (typeof BACKBONE_KINDS)[number];

export const RPN_KINDS = ['none', 'rpn', 'guided_anchoring'] as const;
export type RpnKind = (typeof RPN_KINDS)[number];

export const HEAD_KINDS = ['retinanet', 'faster_rcnn', 'cascade_rcnn'] as const;
export type HeadKind = (typeof HEAD_KINDS)[number];

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

/** FPN entering at P_start and leaving at P_end; levels above 5 are extra stride-2 convolutions. */
export interface FpnNeck {
  kind: 'fpn';
  startLevel: number;
  endLevel: number;
  channels: number;
}

export type Neck = C4Neck | FpnNeck;

export interface Head {
  kind: HeadKind;
  /** Number of R-CNN stages: 0 for RetinaNet, 1 for Faster R-CNN, 2..4 for Cascade R-CNN. */
  stages: number;
  /**
   * RetinaNet: width of its 4-conv towers. R-CNN with FPN: the two shared FC layers have
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
