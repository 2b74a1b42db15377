// Block strings ("111-2111-211111-211"): checking one against the modular bounds and repairing
// one that an edit or a crossover pushed out of them.

import type { BackboneKind } from './architecture.js';
import { type BlockBounds, blockBoundsOf } from './space.js';

/**
 * Why `blocks` is outside `bounds`, as a sentence for the user, or undefined when it is inside.
 * One pass over the characters: validation runs per request and must stay in microseconds.
 */
export function blockStringProblem(
  blocks: string,
  bounds: Readonly<BlockBounds>,
  kind?: BackboneKind,
): string | undefined {
  const shown = blocks.length > 60 ? `${JSON.stringify(blocks.slice(0, 60))}...` : JSON.stringify(blocks);
  let stages = 1;
  for (let i = 0; i < blocks.length; i++) if (blocks.charCodeAt(i) === 45 /* - */) stages++;
  if (stages !== bounds.stages) {
    return `expected ${bounds.stages} stages separated by '-', got ${stages} (${shown})`;
  }
  let stage = 1;
  let inStage = 0;
  let total = 0;
  let doublings = 0;
  for (let i = 0; i <= blocks.length; i++) {
    const c = i < blocks.length ? blocks.charCodeAt(i) : 45;
    if (c === 45) {
      if (inStage < bounds.minBlocksPerStage) {
        return inStage === 0
          ? `stage ${stage} is empty (${shown})`
          : `stage ${stage} has ${inStage} blocks, at least ${bounds.minBlocksPerStage} needed (${shown})`;
      }
      if (inStage > bounds.maxBlocksPerStage) {
        return `stage ${stage} has ${inStage} blocks, at most ${bounds.maxBlocksPerStage} allowed (${shown})`;
      }
      stage++;
      inStage = 0;
    } else if (c === 49 /* 1 */ || c === 50 /* 2 */) {
      inStage++;
      total++;
      if (c === 50) doublings++;
    } else {
      return `only '1', '2' and '-' are allowed, got ${JSON.stringify(blocks[i])} at position ${i} (${shown})`;
    }
  }
  if (total < bounds.minTotalBlocks || total > bounds.maxTotalBlocks) {
    return `${total} blocks in total, allowed ${bounds.minTotalBlocks} to ${bounds.maxTotalBlocks} (${shown})`;
  }
  if (doublings < bounds.minDoublings || doublings > bounds.maxDoublings) {
    const who = kind ?? 'this backbone';
    return `${doublings} doublings ('2'), ${who} allows ${bounds.minDoublings} to ${bounds.maxDoublings} (${shown})`;
  }
  return undefined;
}

export function countDoublings(blocks: string): number {
  let d = 0;
  for (let i = 0; i < blocks.length; i++) if (blocks.charCodeAt(i) === 50) d++;
  return d;
}

/**
 * Bring per-stage substrings (each made of '1'/'2', possibly from different parents) back inside
 * the bounds of `kind`, changing as little as possible and deterministically:
 * - a stage that is too long or a string that is too long loses '1' blocks from the end of its
 *   longest stage ('1's first, because a '2' carries a width change the parents chose);
 * - an empty or too short stage gains '1' blocks;
 * - too many doublings: the last '2's become '1'; too few: the first block of the last stage
 *   that starts with '1' becomes '2' (where torchvision puts its doublings).
 */
export function repairBlockStages(stages: readonly string[], kind: BackboneKind): string {
  const b = blockBoundsOf(kind);
  const s = stages.slice(0, b.stages).map((x) => x.replace(/[^12]/g, ''));
  while (s.length < b.stages) s.push('1');
  for (let i = 0; i < s.length; i++) {
    let st = s[i]!;
    while (st.length < b.minBlocksPerStage) st += '1';
    while (st.length > b.maxBlocksPerStage) st = dropOneBlock(st);
    s[i] = st;
  }
  let total = s.reduce((n, x) => n + x.length, 0);
  while (total > b.maxTotalBlocks) {
    let longest = 0;
    for (let i = 1; i < s.length; i++) if (s[i]!.length > s[longest]!.length) longest = i;
    s[longest] = dropOneBlock(s[longest]!);
    total--;
  }
  while (total < b.minTotalBlocks) {
    s[s.length - 1] += '1';
    total++;
  }
  let joined = s.join('-');
  let d = countDoublings(joined);
  while (d > b.maxDoublings) {
    const i = joined.lastIndexOf('2');
    joined = joined.slice(0, i) + '1' + joined.slice(i + 1);
    d--;
  }
  while (d < b.minDoublings) {
    // Stage starts, last stage first; the first stage's start is the stem's own width.
    const starts: number[] = [];
    for (let i = 0, pos = 0; i < s.length; pos += s[i]!.length + 1, i++) starts.push(pos);
    let at = starts.reverse().find((p) => joined[p] === '1');
    if (at === undefined) at = joined.indexOf('1');
    joined = joined.slice(0, at) + '2' + joined.slice(at + 1);
    d++;
  }
  return joined;
}

/** One block fewer: the last '1' if there is one, else the last block. */
function dropOneBlock(stage: string): string {
  const i = stage.lastIndexOf('1');
  const at = i >= 0 ? i : stage.length - 1;
  return stage.slice(0, at) + stage.slice(at + 1);
}
