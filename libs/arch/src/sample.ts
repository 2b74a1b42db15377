// Initial populations: random architectures of either stage, reproducible from a seed.

import type { Architecture, BackboneKind, SearchStage } from './architecture.js';
import { countDoublings, repairBlockStages } from './blocks.js';
import { STANDARD_BLOCKS } from './defaults.js';
import { ArchValidationError } from './errors.js';
import { architectureId } from './canonical.js';
import { Rng, checkSeed, type Seed } from './random.js';
import {
  MAX_BLOCKS_PER_STAGE,
  MIN_BLOCKS_PER_STAGE,
  MODULAR_BASE_CHANNELS,
  MODULAR_HEAD_CHANNELS,
  blockBoundsOf,
  structuralAt,
  structuralSpaceSize,
} from './space.js';
import { withWidth } from './structure.js';
import { validateArchitecture } from './validate.js';

/** Largest n one call may ask for (SampleRequest.count: 1 to 10000). */
export const MAX_SAMPLE_COUNT = 10_000;

export interface SampleOptions {
  /** Modular stage: keep this architecture's structure (it must be valid in the modular space). */
  base?: Architecture;
}

/**
 * n architectures of `stage`, the same list for the same arguments.
 *
 * Structural: uniform over the valid combinations, with the standard modules, drawn without
 * replacement (a partial Fisher-Yates shuffle of the combination indices).
 *
 * Modular: the structure (backbone kind, neck levels, rpn, head kind and stages, input) is
 * options.base's, or without a base a uniform structural sample drawn for each architecture.
 * Base channels, FPN channels and head channels are uniform over their choices; the block string
 * comes from `sampleBlockString`.
 *
 * Samples are distinct (by id) while the space and a budget of 50 n + 100 draws allow; past that
 * the list is filled with repeats, so it always has n entries.
 */
export function sampleArchitectures(
  stage: SearchStage,
  n: number,
  seed: Seed,
  options: SampleOptions = {},
): Architecture[] {
  checkStage(stage);
  if (!Number.isInteger(n) || n < 0 || n > MAX_SAMPLE_COUNT) {
    throw new ArchValidationError('count', `expected an integer from 0 to ${MAX_SAMPLE_COUNT}, got ${String(n)}`);
  }
  const rng = new Rng(checkSeed(seed));
  if (stage === 'structural') return sampleStructural(n, rng);
  const base = options.base === undefined ? undefined : validateArchitecture(options.base, { space: 'modular' });
  const out: Architecture[] = [];
  const seen = new Set<string>();
  let budget = 50 * n + 100;
  while (out.length < n) {
    const structure = base ?? structuralAt(rng.int(structuralSpaceSize()));
    const a = sampleModules(structure, rng);
    const id = architectureId(a);
    if (!seen.has(id) || budget <= 0) {
      seen.add(id);
      out.push(a);
    }
    budget--;
  }
  return out;
}

function sampleStructural(n: number, rng: Rng): Architecture[] {
  const size = structuralSpaceSize();
  const out: Architecture[] = [];
  // Sparse Fisher-Yates: swapped[i] is the index now at position i (identity when absent).
  const swapped = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const pos = i % size;
    if (pos === 0) swapped.clear(); // space exhausted: start another pass
    const j = pos + rng.int(size - pos);
    const atJ = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(pos) ?? pos);
    out.push(structuralAt(atJ));
  }
  return out;
}

/** `structure` with freshly drawn modular genes. */
export function sampleModules(structure: Architecture, rng: Rng): Architecture {
  const kind = structure.backbone.kind;
  return {
    backbone: { kind, baseChannels: rng.pick(MODULAR_BASE_CHANNELS), blocks: sampleBlockString(kind, rng) },
    neck: withWidth(structure.neck, (choices) => rng.pick(choices)),
    rpn: structure.rpn,
    head: { ...structure.head, channels: rng.pick(MODULAR_HEAD_CHANNELS) },
    input: { ...structure.input },
  };
}

/**
 * A block string near the backbone's standard one, because most strings of the space (long stages
 * of '1's with scattered '2's) are neither plausible nor worth training:
 * - each stage's depth is the standard depth times 2^u, u uniform in [-1, 1] (half to double),
 *   rounded and clamped to 1..30;
 * - the number of doublings is the standard number plus -1, 0 or +1 (uniform), within bounds;
 * - the standard doublings keep their relative place in their stage (the first block for
 *   ResNets), missing ones are dropped or added at random '1' blocks, and each '2' then moves to
 *   a uniformly random '1' block with probability 1/4;
 * - `repairBlockStages` brings the total back to at most 40 blocks.
 */
export function sampleBlockString(kind: BackboneKind, rng: Rng): string {
  const bounds = blockBoundsOf(kind);
  const standard = STANDARD_BLOCKS[kind].split('-');
  const stages: string[][] = standard.map((s) => {
    const depth = Math.round(s.length * 2 ** (rng.float() * 2 - 1));
    const len = Math.min(MAX_BLOCKS_PER_STAGE, Math.max(MIN_BLOCKS_PER_STAGE, depth));
    const st: string[] = new Array<string>(len).fill('1');
    for (let j = 0; j < s.length; j++) {
      if (s[j] !== '2') continue;
      let at = Math.min(len - 1, Math.floor((j / s.length) * len));
      while (at < len && st[at] === '2') at++;
      if (at < len) st[at] = '2';
    }
    return st;
  });
  const target = Math.min(
    bounds.maxDoublings,
    Math.max(bounds.minDoublings, countDoublings(STANDARD_BLOCKS[kind]) + rng.range(-1, 1)),
  );
  const positions = (c: string): [number, number][] =>
    stages.flatMap((st, s) => st.flatMap((x, j): [number, number][] => (x === c ? [[s, j]] : [])));
  let twos = positions('2');
  while (twos.length > target) {
    const [s, j] = rng.pick(twos);
    stages[s]![j] = '1';
    twos = positions('2');
  }
  while (twos.length < target) {
    const ones = positions('1');
    if (ones.length === 0) break;
    const [s, j] = rng.pick(ones);
    stages[s]![j] = '2';
    twos = positions('2');
  }
  for (const [s, j] of twos) {
    if (!rng.chance(0.25)) continue;
    const ones = positions('1');
    if (ones.length === 0) break;
    const [ts, tj] = rng.pick(ones);
    stages[s]![j] = '1';
    stages[ts]![tj] = '2';
  }
  return repairBlockStages(
    stages.map((st) => st.join('')),
    kind,
  );
}

export function checkStage(stage: unknown, field = 'stage'): SearchStage {
  if (stage !== 'structural' && stage !== 'modular') {
    throw new ArchValidationError(field, `expected "structural" or "modular", got ${JSON.stringify(stage) ?? 'nothing'}`);
  }
  return stage;
}
