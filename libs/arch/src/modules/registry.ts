// The registry of module families: every backbone, neck, RPN and head kind, registered under its kind.
// A new family is its own file plus one line here (and its value in the proto enum; a neck's type
// also joins the Neck union in architecture.ts, and a neck with fields of its own adds them to the
// Neck message); the lowering, the spaces, validation, the canonical string, the wire form, the
// operators and the detector look it up instead of branching on kinds.

import type { Neck } from '../architecture.js';
import type { BackboneFamily, FpnExtraSourceFamily, HeadFamily, NeckFamily, RpnFamily } from './family.js';
import { MOBILENET_V2 } from './backbones/mobilenet-v2.js';
import { RESNET101, RESNET18, RESNET34, RESNET50, RESNEXT101_32X8D, RESNEXT50_32X4D } from './backbones/resnet.js';
import { C4 } from './necks/c4.js';
import { fpnNeck } from './necks/fpn.js';
import { FROM_C5 } from './necks/extras/c5.js';
import { FROM_P5 } from './necks/extras/p5.js';
import { GUIDED_ANCHORING } from './rpns/guided-anchoring.js';
import { NO_RPN } from './rpns/none.js';
import { RPN } from './rpns/rpn.js';
import { CASCADE_RCNN, FASTER_RCNN } from './heads/rcnn.js';
import { RETINANET } from './heads/retinanet.js';
import { FCOS } from './heads/fcos.js';

// Insertion order is the kinds' order (BACKBONE_KINDS, RPN_KINDS, HEAD_KINDS, FPN_EXTRA_SOURCE_KINDS).
export const BACKBONES = {
  resnet18: RESNET18,
  resnet34: RESNET34,
  resnet50: RESNET50,
  resnet101: RESNET101,
  resnext50_32x4d: RESNEXT50_32X4D,
  resnext101_32x8d: RESNEXT101_32X8D,
  mobilenet_v2: MOBILENET_V2,
} as const satisfies Record<string, BackboneFamily>;

/** Where an FPN's P6 comes from (the first is the default: what a neck without extra levels says). */
export const FPN_EXTRA_SOURCES = {
  c5: FROM_C5,
  p5: FROM_P5,
} as const satisfies Record<string, FpnExtraSourceFamily>;

export const NECKS: { readonly [K in Neck['kind']]: NeckFamily<Extract<Neck, { kind: K }>> } = {
  c4: C4,
  fpn: fpnNeck(FPN_EXTRA_SOURCES),
};

export const RPNS = {
  none: NO_RPN,
  rpn: RPN,
  guided_anchoring: GUIDED_ANCHORING,
} as const satisfies Record<string, RpnFamily>;

export const HEADS = {
  retinanet: RETINANET,
  faster_rcnn: FASTER_RCNN,
  cascade_rcnn: CASCADE_RCNN,
  fcos: FCOS,
} as const satisfies Record<string, HeadFamily>;

/** The neck's family, typed for the neck. */
export function neckFamily<N extends Neck>(neck: N): NeckFamily<N> {
  return NECKS[neck.kind] as unknown as NeckFamily<N>;
}
