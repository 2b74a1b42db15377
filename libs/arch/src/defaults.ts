import type { Backbone, BackboneKind } from './architecture.js';

/**
 * The torchvision definitions written as block strings (base 64). ResNet-34 and ResNet-50 share a
 * string: they differ in the block type (basic vs bottleneck), not in depth per stage.
 */
export const STANDARD_BLOCKS: Readonly<Record<BackboneKind, string>> = {
  resnet18: '11-21-21-21',
  resnet34: '111-2111-211111-211',
  resnet50: '111-2111-211111-211',
  resnet101: '111-2111-2' + '1'.repeat(22) + '-211',
  resnext50_32x4d: '111-2111-211111-211',
  resnext101_32x8d: '111-2111-2' + '1'.repeat(22) + '-211',
  // torchvision's inverted-residual setting after the t=1 block: 24x2 | 32x3 | 64x4, 96x3 | 160x3, 320x1
  mobilenet_v2: '21-211-2111211-2112',
};

export const STANDARD_BASE_CHANNELS = 64;

export type BlockType = 'basic' | 'bottleneck' | 'inverted_residual';

export function blockTypeOf(kind: BackboneKind): BlockType {
  switch (kind) {
    case 'resnet18':
    case 'resnet34':
      return 'basic';
    case 'mobilenet_v2':
      return 'inverted_residual';
    default:
      return 'bottleneck';
  }
}

/** ResNeXt cardinality and width per group (torchvision's `groups`, `width_per_group`). */
export function groupsOf(kind: BackboneKind): { groups: number; widthPerGroup: number } {
  switch (kind) {
    case 'resnext50_32x4d':
      return { groups: 32, widthPerGroup: 4 };
    case 'resnext101_32x8d':
      return { groups: 32, widthPerGroup: 8 };
    default:
      return { groups: 1, widthPerGroup: 64 };
  }
}

export function standardBackbone(kind: BackboneKind): Backbone {
  return { kind, baseChannels: STANDARD_BASE_CHANNELS, blocks: STANDARD_BLOCKS[kind] };
}

/**
 * Neck and head width of the standard (structural-stage) models: mmdetection's FPN
 * `out_channels=256`, RetinaHead `feat_channels=256`, Shared2FCBBoxHead `fc_out_channels=1024`
 * (= 4 x 256, see `Head.channels`).
 */
export const STANDARD_FPN_CHANNELS = 256;
export const STANDARD_HEAD_CHANNELS = 256;
