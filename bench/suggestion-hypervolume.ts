// Hypervolume at equal evaluation budget: our suggestion services (evolution, nsga2, random, each
// a real gRPC server driven through the SuggestionClient the controller uses, with a real
// searchspace service) against Optuna's NSGAIISampler (Debian python3-optuna, run by this bench
// in the same run), on the same fixed problem, over several seeds. And evolution with successive
// halving (the controller's rule) at equal compute: BENCH_BUDGET full trainings' worth, a candidate
// stopped at a rung charged the part of the budget it trained (learning curves: CURVE below).
//
// The problem: the whole structural space (standard modules) as a table of two
// objectives, AP (maximised) and latency (minimised). Neither is measured here:
// - latency: libs/flops' exact multiply-adds at the detector's input size (1000 proposals for
//   R-CNN heads) at an effective 3.5 TMAC/s, plus a fixed post-processing time per head type
//   (see LATENCY below). Calibrated so that Faster R-CNN R-50-FPN at 1333x800 takes ~48 ms, about
//   mmdetection's reported V100 time; a V100-class GPU is what the SM-NAS paper searched for.
// - AP: an additive proxy built from published COCO val APs (mmdetection model zoo, 1x schedule,
//   1333x800) where they exist and interpolations where they do not (ACCURACY below), plus a
//   deterministic +-0.4 AP per architecture standing for training noise.
// The hypervolume is computed on normalised objectives: (APmax - AP) / (APmax - APmin) and
// log-latency scaled to [0, 1] over the table, reference point (1, 1); 1.0 would be the whole
// square, and the table's own front gives the best reachable value.
//
// Run: pnpm exec tsx bench/suggestion-hypervolume.ts
// Knobs: BENCH_SEEDS (10), BENCH_BUDGET (60 evaluations), BENCH_GENERATION (10: suggestions per
// call and population size, Optuna's too), BENCH_ALGORITHMS (evolution,evolution+asha,nsga2,random,optuna),
// BENCH_SETTINGS_<ALGORITHM> (JSON settings map, e.g. BENCH_SETTINGS_EVOLUTION='{"crossover_rate":"0.9"}').
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { NECK_CHOICES, RPN_HEAD_CHOICES, INPUT_SIZES, BACKBONE_KINDS, enumerateStructural, parseCanonical, toCanonical, type Architecture, type BackboneKind } from '@sm-nas/arch';
import { countFlops } from '@sm-nas/flops';
import { hypervolume2d, paretoFront } from '@sm-nas/pareto';
import { common, controller } from '@sm-nas/proto';
import { startSearchSpaceServer } from '@sm-nas/searchspace';
import { startSuggestionServer, type AlgorithmName } from '@sm-nas/suggestion';
import { SuggestionClient } from '@sm-nas/suggestion/client';
import { evaluatedCandidate, searchSpec } from '@sm-nas/suggestion/testing';
import { rungSteps, successiveHalvingDecision } from '../services/controller/src/early-stopping.js';

const SEEDS = Number(process.env.BENCH_SEEDS ?? 10);
const BUDGET = Number(process.env.BENCH_BUDGET ?? 60);
const GENERATION = Number(process.env.BENCH_GENERATION ?? 10);
const ALGORITHMS_RUN = (process.env.BENCH_ALGORITHMS ?? 'evolution,evolution+asha,nsga2,random,optuna').split(',');
const settingsOf = (algorithm: string): Record<string, string> =>
  JSON.parse(process.env[`BENCH_SETTINGS_${algorithm.toUpperCase()}`] ?? '{}') as Record<string, string>;

// ---- the table ---------------------------------------------------------------------------------

/** Effective multiply-adds per second, and post-processing milliseconds per head type. */
const LATENCY = {
  macsPerSecond: 3.5e12,
  overheadMs: { retinanet: 8, fcos: 8, faster_rcnn: 10, cascade_rcnn: 12 } as Record<string, number>,
  guidedAnchoringMs: 3,
};

/**
 * AP proxy in points (COCO val, 1x schedule). Reference: Faster R-CNN R-50-FPN (P2-P6), 1333x800,
 * 37.4 (mmdetection model zoo). Backbone deltas from the same zoo's Faster R-CNN / RetinaNet rows
 * (R-101 +2.0, X-101-32x8d ~+4.6, R-18 -4.8 from RetinaNet R-18 31.7 vs R-50 36.5); R-34, X-50 and
 * MobileNetV2 interpolated from torchvision's ImageNet top-1 (73.3, 77.6, 71.9 vs R-50's 76.1).
 * Heads: RetinaNet -0.9 (36.5 vs 37.4), Cascade R-CNN 2/3/4 stages +2.0/+2.9/+2.8 (40.3 for 3;
 * Cai & Vasconcelos report 4 stages no better than 3), guided anchoring +2.2 (39.6 vs 37.4;
 * +1.5 on a cascade). Neck: R-50-C4 35.6 (-1.8) for R-CNN; a single C4 level costs RetinaNet
 * much more (-6, estimate); pyramid levels: estimates (missing fine levels hurt small objects,
 * missing coarse levels large ones). Input size: estimates of the usual drop with resolution.
 */
const ACCURACY = {
  reference: 37.4,
  backbone: { resnet18: -4.8, resnet34: -2.2, resnet50: 0, resnet101: 2.0, resnext50_32x4d: 1.2, resnext101_32x8d: 4.6, mobilenet_v2: -7.0 } as Record<BackboneKind, number>,
  head: (a: Architecture): number => {
    const ga = a.rpn === 'guided_anchoring';
    if (a.head.kind === 'retinanet') return -0.9;
    // mmdetection's FCOS R-50 (GN head, 1x): 36.6.
    if (a.head.kind === 'fcos') return -0.8;
    if (a.head.kind === 'faster_rcnn') return ga ? 2.2 : 0;
    const cascade = ({ 2: 2.0, 3: 2.9, 4: 2.8 } as Record<number, number>)[a.head.stages] ?? 2.9;
    return cascade + (ga ? 1.5 : 0);
  },
  neck: (a: Architecture): number => {
    const oneStage = a.head.kind === 'retinanet' || a.head.kind === 'fcos';
    if (a.neck.kind === 'c4') return oneStage ? -6 : -1.8;
    // The one-stage heads' standard pyramid starts at P3, the R-CNNs' at P2.
    const standardStart = oneStage ? 3 : 2;
    const start = ({ [-1]: -0.3, 0: 0, 1: -1.0, 2: -3.5, 3: -7 } as Record<number, number>)[a.neck.startLevel - standardStart] ?? -0.3;
    const end = ({ 7: 0, 6: 0, 5: -0.5, 4: -2.0, 3: -4.0, 2: -6.0 } as Record<number, number>)[a.neck.endLevel] ?? 0;
    return start + end;
  },
  input: { '1333x800': 0, '1080x720': -1.2, '800x600': -2.8, '512x512': -7.0 } as Record<string, number>,
  noise: 0.4,
};

interface Row {
  canonical: string;
  ap: number;
  latencyMs: number;
  macs: number;
}

function apProxy(a: Architecture, canonical: string): number {
  const h = createHash('sha256').update(canonical).digest().readUInt32BE(0) / 2 ** 32;
  const points =
    ACCURACY.reference +
    ACCURACY.backbone[a.backbone.kind] +
    ACCURACY.head(a) +
    ACCURACY.neck(a) +
    ACCURACY.input[`${a.input.widthPx}x${a.input.heightPx}`]! +
    (2 * h - 1) * ACCURACY.noise;
  return points / 100;
}

function buildTable(): Row[] {
  const rows: Row[] = [];
  for (const a of enumerateStructural()) {
    const canonical = toCanonical(a);
    const macs = countFlops(a).multiplyAdds;
    const latencyMs = (1000 * macs) / LATENCY.macsPerSecond + LATENCY.overheadMs[a.head.kind]! + (a.rpn === 'guided_anchoring' ? LATENCY.guidedAnchoringMs : 0);
    rows.push({ canonical, ap: apProxy(a, canonical), latencyMs, macs });
  }
  return rows;
}

// ---- hypervolume ---------------------------------------------------------------------------------

function normaliser(rows: readonly Row[]): (r: Row) => [number, number] {
  const aps = rows.map((r) => r.ap);
  const logs = rows.map((r) => Math.log(r.latencyMs));
  const [apMin, apMax] = [Math.min(...aps), Math.max(...aps)];
  const [lMin, lMax] = [Math.min(...logs), Math.max(...logs)];
  return (r) => [(apMax - r.ap) / (apMax - apMin), (Math.log(r.latencyMs) - lMin) / (lMax - lMin)];
}

// ---- learning curves (successive halving) -------------------------------------------------------

/**
 * The AP a candidate shows part-way through its training, for successive halving's rungs: its final
 * AP times t^a (t the fraction of the step budget done), a per head family, times a measurement
 * noise. The exponents come from this project's curves at the demo's proxy (64 px, width 0.25, lr
 * 1e-3, cosine over 300 steps; AP50 at step 100 over AP50 at step 300, 2026-12-08, bench/RESULTS.md
 * "Fidelity"): Faster R-CNN-R18 0.497 / 0.798 -> a = 0.43; FCOS-R18 0.160 / 0.337 -> a = 0.68;
 * RetinaNet-R18 0.058 / 0.193 -> a = 1.10 (one-stage detectors start slower: a rung early in the
 * budget under-rates them). Cascade R-CNN: Faster R-CNN's. The noise, +-15% uniform, deterministic
 * per (architecture, rung), stands for seed-to-seed spread this early.
 */
const CURVE = {
  exponent: { retinanet: 1.1, fcos: 0.68, faster_rcnn: 0.43, cascade_rcnn: 0.43 } as Record<string, number>,
  noise: 0.15,
};

function apAt(row: Row, fraction: number): number {
  if (fraction >= 1) return row.ap;
  const h = createHash('sha256').update(`${row.canonical}@${fraction}`).digest().readUInt32BE(0) / 2 ** 32;
  const kind = parseCanonical(row.canonical).head.kind;
  return row.ap * fraction ** CURVE.exponent[kind]! * (1 + (2 * h - 1) * CURVE.noise);
}

/** Successive halving as the controller runs it: rungs at min_steps x eta^k below the budget. */
const HALVING = { budgetSteps: 9, minSteps: 1, eta: 3 };

// ---- runs ------------------------------------------------------------------------------------------

/**
 * One of our algorithms for BUDGET full trainings' worth of compute. With `halving`, successive
 * halving stops trainings at its rungs, and a candidate stopped at a rung costs the fraction of the
 * budget it trained: candidates are trained one after another, and at each rung the controller's
 * own rule decides against the APs recorded there so far. Only candidates trained to the end count
 * on the front (the stopped ones have no final AP).
 */
async function runOurs(
  client: SuggestionClient,
  algorithm: AlgorithmName,
  seed: number,
  rows: Row[],
  byCanonical: Map<string, number>,
  searchspaceAddress: string,
  halving = false,
): Promise<{ indices: number[]; candidates: number }> {
  const name = halving ? `${algorithm}+asha` : algorithm;
  const spec = searchSpec(algorithm, { settings: settingsOf(algorithm), structural: { populationSize: GENERATION, maxCandidates: halving ? 10 * BUDGET : BUDGET } });
  await client.validateSettings(spec);
  const rungs = halving ? rungSteps(HALVING.minSteps, HALVING.eta, HALVING.budgetSteps) : [];
  const recorded = new Map<number, number[]>(rungs.map((r) => [r, []]));
  const history: controller.Candidate[] = [];
  const indices: number[] = [];
  let spent = 0;
  for (let g = 0; spent < BUDGET; g++) {
    const count = halving ? GENERATION : Math.min(GENERATION, BUDGET - indices.length);
    const { accepted, rejected } = await client.getSuggestions({ spec, stage: 'structural', history, count, seed: seed * 1000 + g, searchspaceAddress });
    if (rejected.length > 0) throw new Error(`${name}: rejected suggestions: ${JSON.stringify(rejected)}`);
    if (accepted.length === 0) throw new Error(`${name}: no suggestion`);
    for (const s of accepted) {
      if (spent >= BUDGET) break;
      const index = byCanonical.get(s.described.canonical);
      if (index === undefined) throw new Error(`${name}: ${s.described.canonical} is not in the table`);
      const row = rows[index]!;
      let stoppedAt: number | undefined;
      for (const rung of rungs) {
        const ap = apAt(row, rung / HALVING.budgetSteps);
        const decision = successiveHalvingDecision(ap, recorded.get(rung)!, HALVING.eta);
        recorded.get(rung)!.push(ap);
        if (decision.stop) {
          stoppedAt = rung;
          break;
        }
      }
      spent += stoppedAt === undefined ? 1 : stoppedAt / HALVING.budgetSteps;
      const candidate = evaluatedCandidate(`c${history.length}`, common.SearchStage.SEARCH_STAGE_STRUCTURAL, s.described, { ap: row.ap, latencyMs: row.latencyMs });
      if (stoppedAt === undefined) {
        indices.push(index);
        history.push(candidate);
      } else {
        history.push({ ...candidate, state: controller.CandidateState.CANDIDATE_STATE_EARLY_STOPPED, metrics: { ...candidate.metrics!, accuracy: undefined } });
      }
    }
  }
  return { indices, candidates: history.length };
}

function runOptuna(objectives: [number, number][], seeds: number[]): { runs: { seed: number; indices: number[]; trials: number }[]; optuna: string } {
  const script = fileURLToPath(new URL('./suggestion_optuna.py', import.meta.url));
  const problem = {
    genes: [BACKBONE_KINDS.length, NECK_CHOICES.length, RPN_HEAD_CHOICES.length, INPUT_SIZES.length],
    objectives,
    budget: BUDGET,
    population: GENERATION,
    seeds,
  };
  const out = spawnSync('/usr/bin/python3', [script], { input: JSON.stringify(problem), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (out.status !== 0) throw new Error(`optuna run failed (is python3-optuna installed?): ${out.stderr}`);
  return JSON.parse(out.stdout) as ReturnType<typeof runOptuna>;
}

function stats(xs: number[]): { mean: number; sd: number; min: number; max: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

async function main(): Promise<void> {
  const started = Date.now();
  const rows = buildTable();
  const norm = normaliser(rows);
  const objectives = rows.map(norm);
  const byCanonical = new Map(rows.map((r, i) => [r.canonical, i]));
  const hv = (indices: number[]) => hypervolume2d(indices.map((i) => objectives[i]!), [1, 1]);
  const optimum = hv([...rows.keys()]);
  const front = paretoFront(objectives);
  console.log(`table: ${rows.length} structural detectors, ${front.length} on the true front, best hypervolume ${optimum.toFixed(4)}`);
  console.log(`budget ${BUDGET} evaluations, generations of ${GENERATION}, ${SEEDS} seeds`);

  const quiet = { info: () => {}, error: () => {} };
  const space = await startSearchSpaceServer({ host: '127.0.0.1', port: 0, logger: quiet });
  const seeds = [...Array(SEEDS).keys()].map((s) => s + 1);
  const results: Record<string, number[]> = {};
  const seconds: Record<string, number> = {};
  for (const algorithm of (['evolution', 'nsga2', 'random'] as const).filter((a) => ALGORITHMS_RUN.includes(a))) {
    if (Object.keys(settingsOf(algorithm)).length > 0) console.log(`${algorithm} settings: ${JSON.stringify(settingsOf(algorithm))}`);
    const server = await startSuggestionServer({ algorithm, host: '127.0.0.1', port: 0, logger: quiet });
    const client = new SuggestionClient(server.address);
    const t0 = Date.now();
    results[algorithm] = [];
    for (const seed of seeds) results[algorithm].push(hv((await runOurs(client, algorithm, seed, rows, byCanonical, space.address)).indices) / optimum);
    seconds[algorithm] = (Date.now() - t0) / 1000;
    client.close();
    await server.shutdown({ graceMs: 1000 });
  }
  if (ALGORITHMS_RUN.includes('evolution+asha')) {
    const server = await startSuggestionServer({ algorithm: 'evolution', host: '127.0.0.1', port: 0, logger: quiet });
    const client = new SuggestionClient(server.address);
    const t0 = Date.now();
    const name = 'evolution+asha';
    results[name] = [];
    const trained: number[] = [];
    for (const seed of seeds) {
      const run = await runOurs(client, 'evolution', seed, rows, byCanonical, space.address, true);
      results[name].push(hv(run.indices) / optimum);
      trained.push(run.candidates);
    }
    seconds[name] = (Date.now() - t0) / 1000;
    console.log(`evolution+asha: ${stats(trained).mean.toFixed(1)} candidates started on average for the compute of ${BUDGET} full trainings (rungs ${rungSteps(HALVING.minSteps, HALVING.eta, HALVING.budgetSteps).map((r) => `${r}/${HALVING.budgetSteps}`).join(', ')}, eta ${HALVING.eta})`);
    client.close();
    await server.shutdown({ graceMs: 1000 });
  }
  await space.shutdown({ graceMs: 1000 });
  let trials: number[] = [];
  let label = 'optuna NSGAIISampler';
  if (ALGORITHMS_RUN.includes('optuna')) {
    const t0 = Date.now();
    const optuna = runOptuna(objectives, seeds);
    seconds.optuna = (Date.now() - t0) / 1000;
    label = `optuna ${optuna.optuna} NSGAIISampler`;
    results[label] = optuna.runs.map((r) => {
      if (r.indices.length < BUDGET) throw new Error(`optuna seed ${r.seed}: only ${r.indices.length} distinct architectures in ${r.trials} trials`);
      return hv(r.indices) / optimum;
    });
    trials = optuna.runs.map((r) => r.trials);
  }
  console.log('\nhypervolume / best reachable (mean ± sd over seeds, min, max):');
  for (const [name, xs] of Object.entries(results)) {
    const s = stats(xs);
    const time = seconds[name.startsWith('optuna') ? 'optuna' : name]!;
    console.log(`  ${name.padEnd(30)} ${s.mean.toFixed(4)} ± ${s.sd.toFixed(4)}  [${s.min.toFixed(4)}, ${s.max.toFixed(4)}]  ${time.toFixed(1)} s`);
  }
  if (trials.length > 0) console.log(`  (optuna needed ${stats(trials).mean.toFixed(1)} trials on average for ${BUDGET} distinct architectures)`);
  const ratio = (a: number[], b: number[]) => stats(a).mean / stats(b).mean;
  const wins = (a: number[], b: number[]) => a.filter((x, i) => x > b[i]!).length;
  console.log('\nratios of mean hypervolume (same seeds, same run):');
  for (const ours of ['evolution+asha', 'evolution', 'nsga2']) {
    for (const peer of [label, 'random', ...(ours === 'evolution+asha' ? ['evolution'] : [])]) {
      const a = results[ours];
      const b = results[peer];
      if (!a || !b) continue;
      const name = peer === label ? 'optuna NSGA-II' : peer;
      console.log(`  ${`${ours} / ${name}:`.padEnd(28)} ${ratio(a, b).toFixed(3)} (${ours} higher on ${wins(a, b)}/${SEEDS} seeds)`);
    }
  }
  console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await main();
