// Block-string bounds shared by the backbone families (the reasons are in space.ts).

import type { BlockBounds } from '../family.js';

export const BLOCK_STAGES = 4;
export const MIN_BLOCKS_PER_STAGE = 1;
export const MAX_BLOCKS_PER_STAGE = 30;
export const MIN_TOTAL_BLOCKS = 4;
export const MAX_TOTAL_BLOCKS = 40;
export const MIN_DOUBLINGS = 1;

/** The bounds every backbone shares, with its own most doublings. */
export function blockBounds(maxDoublings: number): Readonly<BlockBounds> {
  return Object.freeze({
    stages: BLOCK_STAGES,
    minBlocksPerStage: MIN_BLOCKS_PER_STAGE,
    maxBlocksPerStage: MAX_BLOCKS_PER_STAGE,
    minTotalBlocks: MIN_TOTAL_BLOCKS,
    maxTotalBlocks: MAX_TOTAL_BLOCKS,
    minDoublings: MIN_DOUBLINGS,
    maxDoublings,
  });
}
