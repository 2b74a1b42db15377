// SM-NAS's evolutionary search (Yao et al., AAAI 2020): a random initial population, then children
// of the current Pareto-optimal models by crossover and mutation. Selection is Pareto-based and
// elitist over the whole history: parents are drawn uniformly from the non-dominated set of every
// evaluated candidate of the stage (the next fronts join only while the pool has fewer than two).
// Modular stage: each child refines one of the structural Pareto models, taken in turn, from the
// non-dominated set of that structure's own candidates (accuracy vs FLOPs), so every structure
// is searched rather than only the cheapest one.
import { nonDominatedSort } from '@sm-nas/pareto';
import { structureKeyOfDescribed, type Individual } from './history.js';
import { addSamples, makeChild, Proposals, type ProposeContext } from './propose.js';

/** The Pareto front of `individuals`, extended by the next fronts while it has fewer than two members. */
export function parentPool(individuals: readonly Individual[]): Individual[] {
  const pool: Individual[] = [];
  for (const front of nonDominatedSort(individuals.map((i) => i.objectives))) {
    if (pool.length >= 2) break;
    pool.push(...front.map((i) => individuals[i]!));
  }
  return pool;
}

export async function proposeEvolution(ctx: ProposeContext): Promise<Proposals> {
  const { history, rng, count } = ctx;
  const out = new Proposals(history.seen, count);
  const populationSize = ctx.settings.populationSize[ctx.stage];
  const initial = history.evaluated.length === 0 ? count : Math.max(0, populationSize - history.stageCount);
  await addSamples(ctx, out, initial);

  const pools = new Map<string, Individual[]>();
  if (ctx.stage === 'structural') {
    pools.set('', parentPool(history.evaluated));
  } else {
    for (const seed of history.seeds) {
      const key = structureKeyOfDescribed(seed);
      pools.set(key, parentPool(history.evaluated.filter((i) => i.structureKey === key)));
    }
  }
  const keys = [...pools.keys()];
  let turn = history.stageCount + out.list.length;
  let failures = 0;
  while (!out.full && failures < 3 * count) {
    const slot = turn++;
    const pool = pools.get(keys[slot % keys.length]!)!;
    if (pool.length === 0) {
      // A structure with no evaluated candidate yet: sample its modules.
      const before = out.list.length;
      await addSamples(ctx, out, 1, slot);
      if (out.list.length === before) failures++;
      continue;
    }
    const first = rng.pick(pool);
    const others = pool.filter((i) => i !== first);
    const second = others.length > 0 ? rng.pick(others) : undefined;
    const child = await makeChild(ctx, out, first, second);
    if (!child || !out.add(child)) failures++;
  }
  // Every child a duplicate (a small, well-explored space): fall back to unseen samples.
  if (!out.full) await addSamples(ctx, out, out.missing);
  return out;
}
