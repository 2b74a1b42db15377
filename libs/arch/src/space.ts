// The two SM-NAS search spaces (Yao et al., "SM-NAS: Structural-to-Modular Neural Architecture
// Search for Object Detection", AAAI 2020, section 3) as data. Everything that samples, mutates,
// validates or counts reads these tables, so a choice added here is a choice everywhere.

import {
  BACKBONE_KINDS,
  type Architecture,
  type BackboneKind,
  type HeadKind,
  type InputSize,
  type Neck,
  type RpnKind,
} from './architecture.js';
import { STANDARD_HEAD_CHANNELS, standardBackbone } from './defaults.js';
import type { BlockBounds } from './modules/family.js';
import {
  BLOCK_STAGES, MAX_BLOCKS_PER_STAGE, MAX_TOTAL_BLOCKS, MIN_BLOCKS_PER_STAGE, MIN_DOUBLINGS, MIN_TOTAL_BLOCKS,
} from './modules/backbones/bounds.js';
import { FPN_MAX_LEVEL, FPN_MIN_LEVEL, FPN_TOP_BACKBONE_LEVEL, MODULAR_FPN_CHANNELS } from './modules/necks/fpn.js';
import type { NeckFamily } from './modules/family.js';
import { MAX_DOUBLINGS_MOBILENET_V2 } from './modules/backbones/mobilenet-v2.js';
import { MAX_DOUBLINGS_RESNET } from './modules/backbones/resnet.js';
import { BACKBONES, HEADS, NECKS } from './modules/registry.js';

// ---------------------------------------------------------------------------------------------
// Structural space
// ---------------------------------------------------------------------------------------------

/** Input sizes (width x height) of the structural space, as in the paper's Table 1. */
export const INPUT_SIZES: readonly Readonly<InputSize>[] = [
  { widthPx: 512, heightPx: 512 },
  { widthPx: 800, heightPx: 600 },
  { widthPx: 1080, heightPx: 720 },
  { widthPx: 1333, heightPx: 800 },
];

/** FPN levels: 1 <= startLevel <= 5, startLevel < endLevel <= 7 (P6, P7: extra stride-2 convolutions). */
export { FPN_MAX_LEVEL, FPN_MIN_LEVEL, FPN_TOP_BACKBONE_LEVEL };

const HEAD_KIND_LIST = Object.keys(HEADS) as HeadKind[];

/** R-CNN stages each head kind may have (0 = no R-CNN stage: RetinaNet is one-stage); from its family. */
export const HEAD_STAGES: Readonly<Record<HeadKind, readonly number[]>> = Object.fromEntries(
  HEAD_KIND_LIST.map((kind) => [kind, HEADS[kind].stages]),
) as Record<HeadKind, readonly number[]>;

/**
 * Which proposal generator a head may sit on, from its family. RetinaNet is one-stage, so an RPN
 * in front of it would only add cost; the R-CNN heads pool RoIs and cannot run without proposals.
 */
export const RPNS_FOR_HEAD: Readonly<Record<HeadKind, readonly RpnKind[]>> = Object.fromEntries(
  HEAD_KIND_LIST.map((kind) => [kind, HEADS[kind].rpns]),
) as Record<HeadKind, readonly RpnKind[]>;

/** Why `rpn` has no meaning in front of `head` (its family's rule). */
export function rpnHeadRule(head: HeadKind): string {
  return HEADS[head].rpnRule;
}

export function isValidRpnHead(rpn: RpnKind, head: HeadKind): boolean {
  return RPNS_FOR_HEAD[head].includes(rpn);
}

/** One valid (rpn, head kind, stages) combination: the structural gene "detection pipeline". */
export interface RpnHeadChoice {
  rpn: RpnKind;
  head: HeadKind;
  stages: number;
}

function rpnHeadChoices(): RpnHeadChoice[] {
  const out: RpnHeadChoice[] = [];
  for (const head of Object.keys(HEAD_STAGES) as HeadKind[]) {
    for (const rpn of RPNS_FOR_HEAD[head]) {
      for (const stages of HEAD_STAGES[head]) out.push({ rpn, head, stages });
    }
  }
  return out;
}

/** All valid (rpn, head, stages) combinations, derived from the two tables above. */
export const RPN_HEAD_CHOICES: readonly Readonly<RpnHeadChoice>[] = rpnHeadChoices();

/** Each neck family's structural choices, in registration order (C4, then every FPN level range and source of its extra levels). */
export const NECK_CHOICES: readonly Readonly<Neck>[] = Object.values(NECKS).flatMap((f: NeckFamily) => f.structuralChoices());

/** The independent structural genes; every combination of one value each is valid. */
export const STRUCTURAL_GENES = {
  backbones: BACKBONE_KINDS,
  necks: NECK_CHOICES,
  rpnHeads: RPN_HEAD_CHOICES,
  inputs: INPUT_SIZES,
} as const;

/**
 * Number of valid structural combinations, counted from the tables (8680 with the rules above:
 * 7 backbones x 31 necks x 10 rpn/head pairs x 4 inputs; the necks are C4 and 20 FPN level ranges,
 * the 10 that reach P6 or P7 with either source of their extra levels). The paper reports "about 11,000"
 * combinations without giving its counting rule; we count only pipelines that can run.
 */
export function structuralSpaceSize(): number {
  return (
    STRUCTURAL_GENES.backbones.length *
    STRUCTURAL_GENES.necks.length *
    STRUCTURAL_GENES.rpnHeads.length *
    STRUCTURAL_GENES.inputs.length
  );
}

/**
 * The structural combination with this index in [0, structuralSpaceSize()), decoded in mixed
 * radix (input fastest, then rpn/head, neck, backbone), with the standard modules. A uniform index
 * is a uniform sample; consecutive indices enumerate the space.
 */
export function structuralAt(index: number): Architecture {
  const size = structuralSpaceSize();
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`structural index must be an integer in [0, ${size}), got ${index}`);
  }
  const g = STRUCTURAL_GENES;
  let i = index;
  const input = g.inputs[i % g.inputs.length]!;
  i = Math.floor(i / g.inputs.length);
  const pair = g.rpnHeads[i % g.rpnHeads.length]!;
  i = Math.floor(i / g.rpnHeads.length);
  const neck = g.necks[i % g.necks.length]!;
  i = Math.floor(i / g.necks.length);
  const kind = g.backbones[i]!;
  return {
    backbone: standardBackbone(kind),
    neck: { ...neck },
    rpn: pair.rpn,
    head: { kind: pair.head, stages: pair.stages, channels: STANDARD_HEAD_CHANNELS },
    input: { ...input },
  };
}

/** Every valid structural combination, with the standard modules, in index order. */
export function* enumerateStructural(): Generator<Architecture> {
  const size = structuralSpaceSize();
  for (let i = 0; i < size; i++) yield structuralAt(i);
}

// ---------------------------------------------------------------------------------------------
// Modular space
// ---------------------------------------------------------------------------------------------

/** Base channels of the modular space (the paper's 48..72 around torchvision's 64, step 8). */
export const MODULAR_BASE_CHANNELS: readonly number[] = [48, 56, 64, 72];
export { MODULAR_FPN_CHANNELS };
export const MODULAR_HEAD_CHANNELS: readonly number[] = [128, 256, 512];

/** Limits on a block string. */
export type { BlockBounds };

/**
 * Block-string bounds of the modular space.
 * - 4 stages: the detector's necks read C2..C5, one per stage.
 * - 1..30 blocks per stage, 4..40 in total: ResNet-101's 23-block stage and 33 blocks must fit,
 *   with room to grow; past 40 the modular stage would only rediscover deeper standard nets.
 * - At least one doubling, or the last stage is as narrow as the stem and C5 carries no more
 *   features than C2. ResNet/ResNeXt: at most 4 doublings (torchvision has 3: 64 -> 512 planes;
 *   a fourth reaches 1024 planes, 4096 channels out of a bottleneck, the widest we build).
 *   MobileNetV2: at most 6, the rungs of its width ladder 24, 32, 64, 96, 160, 320.
 */
export {
  BLOCK_STAGES, MAX_BLOCKS_PER_STAGE, MAX_TOTAL_BLOCKS, MIN_BLOCKS_PER_STAGE, MIN_DOUBLINGS, MIN_TOTAL_BLOCKS,
  MAX_DOUBLINGS_MOBILENET_V2, MAX_DOUBLINGS_RESNET,
};

export function maxDoublingsOf(kind: BackboneKind): number {
  return BACKBONES[kind].bounds.maxDoublings;
}

/** The block-string bounds of a backbone, from its family. */
export function blockBoundsOf(kind: BackboneKind): Readonly<BlockBounds> {
  return BACKBONES[kind].bounds;
}

/**
 * Number of block strings within `bounds`, by dynamic programming over stages: ways[t][d] is the
 * number of prefixes of t blocks holding d doublings. A stage of length L with k doublings can be
 * written C(L, k) ways. Exact (bigint): the count passes 2^53 for wide bounds.
 */
export function countBlockStrings(bounds: Readonly<BlockBounds>): bigint {
  const { stages, minBlocksPerStage: lo, maxBlocksPerStage: hi, maxTotalBlocks: maxT } = bounds;
  const maxD = bounds.maxDoublings;
  const binom = binomialTable(Math.max(hi, 1), maxD);
  let ways: bigint[][] = [[1n]]; // ways[t][d], t blocks so far
  for (let s = 0; s < stages; s++) {
    const next: bigint[][] = [];
    for (let t = 0; t < ways.length; t++) {
      const row = ways[t];
      if (row === undefined) continue;
      for (let d = 0; d < row.length; d++) {
        const w = row[d] ?? 0n;
        if (w === 0n) continue;
        for (let len = lo; len <= hi && t + len <= maxT; len++) {
          const nt = t + len;
          const nrow = (next[nt] ??= []);
          for (let k = 0; k <= len && d + k <= maxD; k++) {
            nrow[d + k] = (nrow[d + k] ?? 0n) + w * (binom[len]?.[k] ?? 0n);
          }
        }
      }
    }
    ways = next;
  }
  let total = 0n;
  for (let t = bounds.minTotalBlocks; t < ways.length; t++) {
    const row = ways[t] ?? [];
    for (let d = bounds.minDoublings; d < row.length && d <= maxD; d++) total += row[d] ?? 0n;
  }
  return total;
}

function binomialTable(n: number, k: number): bigint[][] {
  const c: bigint[][] = [];
  for (let i = 0; i <= n; i++) {
    const row: bigint[] = [];
    for (let j = 0; j <= Math.min(i, k); j++) {
      row.push(j === 0 || j === i ? 1n : (c[i - 1]?.[j - 1] ?? 0n) + (c[i - 1]?.[j] ?? 0n));
    }
    c.push(row);
  }
  return c;
}

const blockStringCounts = new Map<BackboneKind, bigint>();

/** Number of valid block strings for a backbone (memoised: the DP is a few milliseconds). */
export function blockStringCount(kind: BackboneKind): bigint {
  let n = blockStringCounts.get(kind);
  if (n === undefined) {
    n = countBlockStrings(blockBoundsOf(kind));
    blockStringCounts.set(kind, n);
  }
  return n;
}

/**
 * Size of the modular space around one structure: block strings x base channels x neck widths
 * x head channels. A neck without a width (C4) contributes a factor of 1.
 */
export function modularSpaceSize(kind: BackboneKind, neck: Neck['kind'] = 'fpn'): bigint {
  const fpn = BigInt(NECKS[neck].width?.choices.length ?? 1);
  return (
    blockStringCount(kind) *
    BigInt(MODULAR_BASE_CHANNELS.length) *
    fpn *
    BigInt(MODULAR_HEAD_CHANNELS.length)
  );
}

// ---------------------------------------------------------------------------------------------
// Description (GetSpace)
// ---------------------------------------------------------------------------------------------

/**
 * Both spaces as plain JSON, shaped after nas.searchspace.v1.GetSpaceResponse (camelCase, as
 * ts-proto names fields); sizes that can pass 2^53 are decimal strings.
 */
export interface SpaceDescription {
  structural: {
    backbones: BackboneKind[];
    c4Neck: boolean;
    fpnMinLevel: number;
    fpnMaxLevel: number;
    rpnHeads: RpnHeadChoice[];
    inputs: InputSize[];
    validCombinations: number;
    necks: Neck[];
  };
  modular: {
    baseChannels: number[];
    fpnChannels: number[];
    headChannels: number[];
    /** Each backbone's block-string bounds, from its family. */
    backboneBlockBounds: Array<{ backbone: BackboneKind; bounds: BlockBounds }>;
    /** Per backbone with an FPN neck: modularSpaceSize(kind, 'fpn'), in decimal. */
    sizeWithFpn: Record<BackboneKind, string>;
  };
}

export function describeSpaces(): SpaceDescription {
  const sizeWithFpn = {} as Record<BackboneKind, string>;
  for (const kind of BACKBONE_KINDS) sizeWithFpn[kind] = modularSpaceSize(kind, 'fpn').toString();
  return {
    structural: {
      backbones: [...BACKBONE_KINDS],
      c4Neck: NECK_CHOICES.some((n) => n.kind === 'c4'),
      fpnMinLevel: FPN_MIN_LEVEL,
      fpnMaxLevel: FPN_MAX_LEVEL,
      rpnHeads: RPN_HEAD_CHOICES.map((c) => ({ ...c })),
      inputs: INPUT_SIZES.map((i) => ({ ...i })),
      validCombinations: structuralSpaceSize(),
      necks: NECK_CHOICES.map((n) => ({ ...n })),
    },
    modular: {
      baseChannels: [...MODULAR_BASE_CHANNELS],
      fpnChannels: [...MODULAR_FPN_CHANNELS],
      headChannels: [...MODULAR_HEAD_CHANNELS],
      backboneBlockBounds: BACKBONE_KINDS.map((backbone) => ({ backbone, bounds: { ...blockBoundsOf(backbone) } })),
      sizeWithFpn,
    },
  };
}
