import { BACKBONE_KINDS, type Backbone, type BackboneKind } from './architecture.js';
import type { BlockType } from './modules/family.js';
import { BACKBONES } from './modules/registry.js';

/**
 * The torchvision definitions written as block strings (base 64), from each backbone family.
 * ResNet-34 and ResNet-50 share a string: they differ in the block type (basic vs bottleneck), not
 * in depth per stage.
 */
export const STANDARD_BLOCKS: Readonly<Record<BackboneKind, string>> = Object.fromEntries(
  BACKBONE_KINDS.map((kind) => [kind, BACKBONES[kind].standardBlocks]),
) as Record<BackboneKind, string>;

export const STANDARD_BASE_CHANNELS = 64;

export type { BlockType };

export function blockTypeOf(kind: BackboneKind): BlockType {
  return BACKBONES[kind].blockType;
}

export function standardBackbone(kind: BackboneKind): Backbone {
  return { kind, baseChannels: STANDARD_BASE_CHANNELS, blocks: STANDARD_BLOCKS[kind] };
}

/**
 * Neck and head width of the standard (structural-stage) models: mmdetection's FPN
 * `out_channels=256`, RetinaHead `feat_channels=256`, Shared2FCBBoxHead `fc_out_channels=1024`
 * (= 4 x 256, see `Head.channels`).
 */
export { STANDARD_FPN_CHANNELS } from './modules/necks/fpn.js';
export const STANDARD_HEAD_CHANNELS = 256;
