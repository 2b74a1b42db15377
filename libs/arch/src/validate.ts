// Turning untrusted input (JSON, a decoded wire message, a client's object) into an Architecture.
// Every service calls this before doing anything with an architecture, so it checks the shape as
// well as the values, stops at the first problem, and says which field and why.

import {
  BACKBONE_KINDS,
  FPN_EXTRA_SOURCE_KINDS,
  HEAD_KINDS,
  RPN_KINDS,
  type Architecture,
  type Backbone,
  type BackboneKind,
  type FpnExtraSource,
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
  STANDARD_FPN_CHANNELS,
  STANDARD_HEAD_CHANNELS,
} from './defaults.js';
import { ArchValidationError } from './errors.js';
import {
  FPN_MAX_LEVEL,
  FPN_MIN_LEVEL,
  FPN_TOP_BACKBONE_LEVEL,
  HEAD_STAGES,
  INPUT_SIZES,
  MODULAR_BASE_CHANNELS,
  MODULAR_FPN_CHANNELS,
  MODULAR_HEAD_CHANNELS,
  RPNS_FOR_HEAD,
  rpnHeadRule,
  blockBoundsOf,
} from './space.js';

/**
 * Which space an architecture must belong to. 'any' is what the detector can build, wider than
 * both search spaces so that hand-written architectures (a baseline, an exported model) validate.
 */
export type ValidationSpace = 'structural' | 'modular' | 'any';

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
export const ANY_CHANNELS = { min: 16, max: 1024, multipleOf: 8 } as const;
/** Per side; 32 is one stride-32 cell, 4096 is 4K. */
export const ANY_INPUT_PX = { min: 32, max: 4096 } as const;

const backboneKinds: ReadonlySet<string> = new Set(BACKBONE_KINDS);
const rpnKinds: ReadonlySet<string> = new Set(RPN_KINDS);
const headKinds: ReadonlySet<string> = new Set(HEAD_KINDS);
const extraSources: ReadonlySet<string> = new Set(FPN_EXTRA_SOURCE_KINDS);
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
  const kind = o['kind'];
  if (kind === 'c4') return { kind: 'c4' };
  if (kind !== 'fpn') fail('neck.kind', `expected "c4" or "fpn", got ${describe(kind)}`);
  const startLevel = integer(o['startLevel'], 'neck.start_level');
  const endLevel = integer(o['endLevel'], 'neck.end_level');
  if (startLevel < FPN_MIN_LEVEL || startLevel > FPN_TOP_BACKBONE_LEVEL) {
    fail('neck.start_level', `must be from ${FPN_MIN_LEVEL} to ${FPN_TOP_BACKBONE_LEVEL} (the pyramid starts on a backbone level), got ${startLevel}`);
  }
  if (endLevel <= FPN_MIN_LEVEL || endLevel > FPN_MAX_LEVEL) {
    fail('neck.end_level', `must be from ${FPN_MIN_LEVEL + 1} to ${FPN_MAX_LEVEL}, got ${endLevel}`);
  }
  if (startLevel >= endLevel) {
    fail('neck.end_level', `must be above neck.start_level (${startLevel}), got ${endLevel}: the pyramid runs from P${startLevel} up`);
  }
  const channels = channelsFor(o['channels'], 'neck.channels', space, MODULAR_FPN_CHANNELS, STANDARD_FPN_CHANNELS);
  // Absent: the first registered source (C5), what a neck without extra levels says.
  const source = o['extraSource'] === undefined ? FPN_EXTRA_SOURCE_KINDS[0]! : member(o['extraSource'], extraSources, 'neck.extra_source', 'fpn extra source') as FpnExtraSource;
  if (endLevel <= FPN_TOP_BACKBONE_LEVEL && source !== FPN_EXTRA_SOURCE_KINDS[0]) {
    fail('neck.extra_source', `${source} is where P6 and P7 come from: it needs neck.end_level 6 or 7, got ${endLevel}`);
  }
  return { kind: 'fpn', startLevel, endLevel, channels, extraSource: source };
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

// ---------------------------------------------------------------------------------------------

function channelsFor(
  x: unknown,
  field: string,
  space: ValidationSpace,
  modular: readonly number[],
  standard: number,
): number {
  const c = integer(x, field);
  if (space === 'structural') {
    if (c !== standard) fail(field, `the structural space uses the standard ${standard}, got ${c}`);
  } else if (space === 'modular') {
    if (!modular.includes(c)) fail(field, `the modular space allows ${modular.join(', ')}, got ${c}`);
  } else {
    multipleInRange(c, ANY_CHANNELS, field);
  }
  return c;
}

function multipleInRange(v: number, r: { min: number; max: number; multipleOf: number }, field: string): void {
  if (v < r.min || v > r.max || v % r.multipleOf !== 0) {
    fail(field, `must be a multiple of ${r.multipleOf} from ${r.min} to ${r.max}, got ${v}`);
  }
}

function object(x: unknown, field: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    fail(field, x === undefined ? 'missing' : `expected an object, got ${describe(x)}`);
  }
  return x as Record<string, unknown>;
}

function integer(x: unknown, field: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x)) {
    fail(field, x === undefined ? 'missing (expected an integer)' : `expected an integer, got ${describe(x)}`);
  }
  return x;
}

function member(x: unknown, set: ReadonlySet<string>, field: string, what: string): string {
  if (typeof x !== 'string' || !set.has(x)) {
    const known = [...set].join(', ');
    fail(field, x === undefined ? `missing (expected one of ${known})` : `unknown ${what} ${describe(x)}, expected one of ${known}`);
  }
  return x;
}

function describe(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (typeof x === 'string') return JSON.stringify(x.length > 60 ? `${x.slice(0, 60)}...` : x);
  if (typeof x === 'number' || typeof x === 'boolean' || x === null) return String(x);
  if (typeof x === 'bigint') return `${x}n`;
  return Array.isArray(x) ? 'an array' : `a ${typeof x}`;
}

function fail(field: string, reason: string): never {
  throw new ArchValidationError(field, reason);
}
