// NSGA-II (Deb, Pratap, Agarwal, Meyarivan, IEEE TEC 2002) over the history: a random initial
// population; then the population is the best `population_size` evaluated candidates of the stage
// by (front rank, larger crowding distance), the elitist survivor selection of NSGA-II applied to
// the whole history (a stateless service cannot keep generations; the best N of everything
// evaluated is what the generational merge converges to). Parents come from binary tournaments
// with the crowded-comparison operator; children from the searchspace's crossover and mutation.
import { crowdingDistance, nonDominatedSort } from '@sm-nas/pareto';
import type { Individual } from './history.js';
import { addSamples, makeChild, Proposals, type ProposeContext } from './propose.js';

interface Ranked {
  individual: Individual;
  rank: number;
  crowding: number;
}

/** The best `size` individuals by (rank ascending, crowding distance descending, history order). */
export function nsga2Population(individuals: readonly Individual[], size: number): Ranked[] {
  const points = individuals.map((i) => i.objectives);
  const ranked: Ranked[] = [];
  for (const [rank, front] of nonDominatedSort(points).entries()) {
    const crowding = crowdingDistance(points, front);
    const order = front.map((index, k) => ({ index, crowding: crowding[k]! }));
    order.sort((a, b) => b.crowding - a.crowding || a.index - b.index);
    for (const { index, crowding: c } of order) ranked.push({ individual: individuals[index]!, rank, crowding: c });
    if (ranked.length >= size) break;
  }
  return ranked.slice(0, size);
}

/** Binary tournament with the crowded-comparison operator (lower rank, then larger crowding). */
function tournament(population: readonly Ranked[], rng: ProposeContext['rng']): Ranked {
  const a = rng.pick(population);
  const b = rng.pick(population);
  if (b.rank < a.rank || (b.rank === a.rank && b.crowding > a.crowding)) return b;
  return a;
}

export async function proposeNsga2(ctx: ProposeContext): Promise<Proposals> {
  const { history, rng, count } = ctx;
  const out = new Proposals(history.seen, count);
  const populationSize = ctx.settings.populationSize[ctx.stage];
  const initial = history.evaluated.length === 0 ? count : Math.max(0, populationSize - history.stageCount);
  await addSamples(ctx, out, initial);

  const population = nsga2Population(history.evaluated, populationSize);
  let failures = 0;
  while (!out.full && population.length > 0 && failures < 3 * count) {
    const first = tournament(population, rng);
    // The modular stage crosses modules within one structure: the mate comes from first's.
    const mates = ctx.stage === 'modular' ? population.filter((r) => r.individual.structureKey === first.individual.structureKey) : population;
    let second = tournament(mates, rng);
    // A crossover of a parent with itself is a copy; try once for a distinct mate.
    if (second === first && mates.length > 1) second = tournament(mates, rng);
    const child = await makeChild(ctx, out, first.individual, second === first ? undefined : second.individual);
    if (!child || !out.add(child)) failures++;
  }
  if (!out.full) await addSamples(ctx, out, out.missing);
  return out;
}
