// Turning untrusted input (JSON, a decoded wire message, a client's object) into an Architecture.
// Every service calls this before doing anything with an architecture, so it checks the shape as
// well as the values, stops at the first problem, and says which field and why.

import {
  BACKBONE_KINDS,
  HEAD_KINDS,
  RPN_KINDS,
  type Architecture,
  type Backbone,
  type BackboneKind,
  type Head,
  type HeadKind,
  type InputSize,
  type Neck,
  type RpnKind,
} from './architecture.js';
import { blockStringProblem } from './blocks.js';
import {
  STANDARD_BASE_CHANNELS,
  STANDARD_BLOCKS,
  STANDARD_HEAD_CHANNELS,
} from './defaults.js';
import { ANY_CHANNELS, channelsFor, describe, fail, integer, member, multipleInRange, object, type ValidationSpace } from './fields.js';
import { NECKS } from './modules/registry.js';
import {
  HEAD_STAGES,
  INPUT_SIZES,
  MODULAR_BASE_CHANNELS,
  MODULAR_HEAD_CHANNELS,
  RPNS_FOR_HEAD,
  rpnHeadRule,
  blockBoundsOf,
} from './space.js';

export type { ValidationSpace };

export interface ValidateOptions {
  space?: ValidationSpace;
}

/**
 * Limits of 'any'. Multiples of 8: what torchvision's `_make_divisible` rounds MobileNetV2 widths
 * to, and the widths GPU convolution kernels are tuned for (a width of 67 would make the profiler
 * time padding, not the architecture). Above the maxima one forward pass at 1333x800 no longer
 * fits a 16 GB GPU at batch 1; below the minima there is nothing left to search.
 */
export const ANY_BASE_CHANNELS = { min: 8, max: 256, multipleOf: 8 } as const;
export { ANY_CHANNELS };
/** Per side; 32 is one stride-32 cell, 4096 is 4K. */
export const ANY_INPUT_PX = { min: 32, max: 4096 } as const;

const backboneKinds: ReadonlySet<string> = new Set(BACKBONE_KINDS);
const rpnKinds: ReadonlySet<string> = new Set(RPN_KINDS);
const headKinds: ReadonlySet<string> = new Set(HEAD_KINDS);
const neckKinds: ReadonlySet<string> = new Set(Object.keys(NECKS));
const inputSizes: ReadonlySet<string> = new Set(INPUT_SIZES.map((s) => `${s.widthPx}x${s.heightPx}`));
const inputWidths: ReadonlySet<number> = new Set(INPUT_SIZES.map((s) => s.widthPx));
const inputList = INPUT_SIZES.map((s) => `${s.widthPx}x${s.heightPx}`).join(', ');

/**
 * Check `x` and return a fresh Architecture holding only the known fields. Throws
 * ArchValidationError naming the first bad field (wire names: `backbone.base_channels`, ...).
 */
export function validateArchitecture(x: unknown, options: ValidateOptions = {}): Architecture {
  const space = options.space ?? 'any';
  const root = object(x, 'architecture');
  const backbone = validateBackbone(root['backbone'], space);
  const neck = validateNeck(root['neck'], space);
  // rpn is checked on its own first (wire order), and against the head once the head is known.
  const rpn = member(root['rpn'], rpnKinds, 'rpn', 'proposal generator') as RpnKind;
  const head = validateHead(root['head'], space);
  checkRpnHead(rpn, head.kind);
  const input = validateInputSize(root['input'], 'input', space);
  return { backbone, neck, rpn, head, input };
}

function validateBackbone(x: unknown, space: ValidationSpace): Backbone {
  const o = object(x, 'backbone');
  const kind = member(o['kind'], backboneKinds, 'backbone.kind', 'backbone') as BackboneKind;
  const baseChannels = integer(o['baseChannels'], 'backbone.base_channels');
  if (space === 'structural') {
    if (baseChannels !== STANDARD_BASE_CHANNELS) {
      fail('backbone.base_channels', `the structural space uses the standard ${STANDARD_BASE_CHANNELS}, got ${baseChannels}`);
    }
  } else if (space === 'modular') {
    if (!MODULAR_BASE_CHANNELS.includes(baseChannels)) {
      fail('backbone.base_channels', `the modular space allows ${MODULAR_BASE_CHANNELS.join(', ')}, got ${baseChannels}`);
    }
  } else {
    multipleInRange(baseChannels, ANY_BASE_CHANNELS, 'backbone.base_channels');
  }
  const blocks = o['blocks'];
  if (typeof blocks !== 'string') fail('backbone.blocks', `expected a block string such as "111-2111-211111-211", got ${describe(blocks)}`);
  if (space === 'structural' && blocks !== STANDARD_BLOCKS[kind]) {
    fail('backbone.blocks', `the structural space uses ${kind}'s standard "${STANDARD_BLOCKS[kind]}", got ${JSON.stringify(blocks)}`);
  }
  // 'any' uses the modular bounds too: they are what the detector and the FLOPs counter are sized
  // for (past 4 ResNet doublings a bottleneck is 4096 channels wide at base 64).
  const problem = blockStringProblem(blocks, blockBoundsOf(kind), kind);
  if (problem !== undefined) fail('backbone.blocks', problem);
  return { kind, baseChannels, blocks };
}

function validateNeck(x: unknown, space: ValidationSpace): Neck {
  const o = object(x, 'neck');
  const kind = member(o['kind'], neckKinds, 'neck.kind', 'neck') as Neck['kind'];
  return NECKS[kind].validate(o, space);
}

function validateHead(x: unknown, space: ValidationSpace): Head {
  const o = object(x, 'head');
  const kind = member(o['kind'], headKinds, 'head.kind', 'head') as HeadKind;
  const stages = integer(o['stages'], 'head.stages');
  const allowed = HEAD_STAGES[kind];
  if (!allowed.includes(stages)) {
    const range = allowed.length === 1 ? `${allowed[0]}` : `${allowed[0]} to ${allowed[allowed.length - 1]}`;
    fail('head.stages', `${kind} has ${range} R-CNN stage(s), got ${stages}`);
  }
  const channels = channelsFor(o['channels'], 'head.channels', space, MODULAR_HEAD_CHANNELS, STANDARD_HEAD_CHANNELS);
  return { kind, stages, channels };
}

function checkRpnHead(rpn: RpnKind, head: HeadKind): void {
  const allowed = RPNS_FOR_HEAD[head];
  if (!allowed.includes(rpn)) {
    const why = rpnHeadRule(head);
    fail('rpn', `${why}: expected ${allowed.map((r) => `"${r}"`).join(' or ')}, got "${rpn}"`);
  }
}

/**
 * Check an input size. `fieldPrefix` is the path of the InputSize message in the request
 * (`input`, or e.g. `fidelity.input` elsewhere). The search spaces also require a listed size.
 */
export function validateInputSize(x: unknown, fieldPrefix = 'input', space: ValidationSpace = 'any'): InputSize {
  const o = object(x, fieldPrefix);
  const widthPx = integer(o['widthPx'], `${fieldPrefix}.width_px`);
  const heightPx = integer(o['heightPx'], `${fieldPrefix}.height_px`);
  const { min, max } = ANY_INPUT_PX;
  if (widthPx < min || widthPx > max) fail(`${fieldPrefix}.width_px`, `must be from ${min} to ${max} px, got ${widthPx}`);
  if (heightPx < min || heightPx > max) fail(`${fieldPrefix}.height_px`, `must be from ${min} to ${max} px, got ${heightPx}`);
  if (space !== 'any' && !inputSizes.has(`${widthPx}x${heightPx}`)) {
    const field = inputWidths.has(widthPx) ? `${fieldPrefix}.height_px` : `${fieldPrefix}.width_px`;
    fail(field, `the ${space} space uses the input sizes ${inputList} (width x height), got ${widthPx}x${heightPx}`);
  }
  return { widthPx, heightPx };
}
