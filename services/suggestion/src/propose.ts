// What every algorithm shares: a response under construction that refuses duplicates (of the
// history and of itself), fresh random samples through the searchspace service, and a child made
// by the variation operators then mutated again while it is a duplicate.
import type { Rng} from '@sm-nas/arch';
import { type SearchStage } from '@sm-nas/arch';
import type { common } from '@sm-nas/proto';
import type { StageHistory, Individual } from './history.js';
import type { AlgorithmSettings } from './settings.js';
import type { SearchSpaceOps } from './searchspace-client.js';

export interface Proposal {
  described: common.DescribedArchitecture;
  /** Candidate ids of the parents in the history (architecture ids for seeds never evaluated). */
  parentIds: string[];
  /** "sample", "mutate", "crossover" or "crossover+mutate". */
  origin: string;
}

export interface ProposeContext {
  stage: SearchStage;
  wireStage: common.SearchStage;
  count: number;
  rng: Rng;
  ops: SearchSpaceOps;
  history: StageHistory;
  settings: AlgorithmSettings;
}

/** Attempts at making one child unique by mutating it again before giving it up. */
export const MAX_REMUTATIONS = 5;
/** Rounds of sampling before accepting that the space has no more unseen architectures. */
const MAX_SAMPLE_ROUNDS = 8;

/** A seed for a searchspace call: 32 fresh bits of the request's generator. */
export function nextSeed(rng: Rng): number {
  return rng.nextUint32();
}

export class Proposals {
  readonly list: Proposal[] = [];
  private readonly ids = new Set<string>();

  constructor(
    private readonly seen: ReadonlySet<string>,
    readonly wanted: number,
  ) {}

  get full(): boolean {
    return this.list.length >= this.wanted;
  }

  get missing(): number {
    return Math.max(0, this.wanted - this.list.length);
  }

  isNew(id: string): boolean {
    return !this.seen.has(id) && !this.ids.has(id);
  }

  /** Adds `p` unless the response is full or it is a duplicate; says whether it was added. */
  add(p: Proposal): boolean {
    if (this.full || !this.isNew(p.described.id)) return false;
    this.ids.add(p.described.id);
    this.list.push(p);
    return true;
  }
}

function parentId(i: Individual): string {
  return i.candidateId || i.described.id;
}

/**
 * Fills up to `n` more slots with unseen random architectures. Modular stage: the structure comes
 * from the stage seeds in turn, starting after the `offset`-th (so that successive requests share
 * the seeds out evenly). Returns fewer only if repeated sampling finds nothing new.
 */
export async function addSamples(ctx: ProposeContext, out: Proposals, n: number, offset = ctx.history.stageCount): Promise<void> {
  const target = Math.min(out.wanted, out.list.length + n);
  const bases: (common.DescribedArchitecture | undefined)[] = ctx.stage === 'modular' ? ctx.history.seeds : [undefined];
  let turn = offset;
  for (let round = 0; round < MAX_SAMPLE_ROUNDS && out.list.length < target; round++) {
    // How many slots each base fills this round (round-robin over the bases).
    const share = new Map<number, number>();
    for (let k = out.list.length; k < target; k++) {
      const b = turn++ % bases.length;
      share.set(b, (share.get(b) ?? 0) + 1);
    }
    for (const [b, k] of [...share.entries()].sort((x, y) => x[0] - y[0])) {
      // Ask for more than needed: some will be duplicates of the history.
      const sampled = await ctx.ops.sample(ctx.wireStage, Math.min(10_000, 2 * k + 4 * (round + 1)), nextSeed(ctx.rng), bases[b]?.architecture);
      let added = 0;
      for (const d of sampled) {
        if (added >= k) break;
        // A modular sample keeps its seed's structure: the seed is its parent.
        const parentIds = ctx.stage === 'modular' ? [ctx.history.seedParents[b]!] : [];
        if (out.add({ described: d, parentIds, origin: 'sample' })) added++;
      }
    }
  }
}

/**
 * One child of `first` (and `second`, for a crossover), made unique: crossover with probability
 * crossover_rate when there is a second parent, then mutation (always for a copy, with probability
 * mutation_rate for a crossover child), then up to MAX_REMUTATIONS more mutations while the child
 * is a duplicate. Returns undefined if it stays a duplicate.
 */
export async function makeChild(
  ctx: ProposeContext,
  out: Proposals,
  first: Individual,
  second: Individual | undefined,
): Promise<Proposal | undefined> {
  const { rng, ops, wireStage, settings } = ctx;
  let child: common.DescribedArchitecture;
  let origin: string;
  const parents = [first];
  if (second && rng.chance(settings.crossoverRate)) {
    parents.push(second);
    child = await ops.crossover(first.described.architecture!, second.described.architecture!, wireStage, nextSeed(rng));
    origin = 'crossover';
    if (rng.chance(settings.mutationRate) || !out.isNew(child.id)) {
      child = await ops.mutate(child.architecture!, wireStage, nextSeed(rng));
      origin = 'crossover+mutate';
    }
  } else {
    child = await ops.mutate(first.described.architecture!, wireStage, nextSeed(rng));
    origin = 'mutate';
  }
  for (let i = 0; i < MAX_REMUTATIONS && !out.isNew(child.id); i++) {
    child = await ops.mutate(child.architecture!, wireStage, nextSeed(rng));
  }
  if (!out.isNew(child.id)) return undefined;
  return { described: child, parentIds: parents.map(parentId), origin };
}
