// Hypervolume at equal evaluation budget: our suggestion services (evolution, nsga2, random, each
// a real gRPC server driven through the SuggestionClient the controller uses, with a real
// searchspace service) against Optuna's NSGAIISampler (Debian python3-optuna, run by this bench
// in the same run), on the same fixed problem, over several seeds.
//
// The problem: the whole structural space (4032 detectors, standard modules) as a table of two
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
// call and population size, Optuna's too), BENCH_ALGORITHMS (evolution,nsga2,random,optuna),
// BENCH_SETTINGS_<ALGORITHM> (JSON settings map, e.g. BENCH_SETTINGS_EVOLUTION='{"crossover_rate":"0.9"}').
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { NECK_CHOICES, RPN_HEAD_CHOICES, INPUT_SIZES, BACKBONE_KINDS, enumerateStructural, toCanonical, type Architecture, type BackboneKind } from '@sm-nas/arch';
import { countFlops } from '@sm-nas/flops';
import { hypervolume2d, paretoFront } from '@sm-nas/pareto';
import { common, type controller } from '@sm-nas/proto';
import { startSearchSpaceServer } from '@sm-nas/searchspace';
import { startSuggestionServer, type AlgorithmName } from '@sm-nas/suggestion';
import { SuggestionClient } from '@sm-nas/suggestion/client';
import { evaluatedCandidate, searchSpec } from '@sm-nas/suggestion/testing';

const SEEDS = Number(process.env.BENCH_SEEDS ?? 10);
const BUDGET = Number(process.env.BENCH_BUDGET ?? 60);
const GENERATION = Number(process.env.BENCH_GENERATION ?? 10);
const ALGORITHMS_RUN = (process.env.BENCH_ALGORITHMS ?? 'evolution,nsga2,random,optuna').split(',');
const settingsOf = (algorithm: string): Record<string, string> =>
  JSON.parse(process.env[`BENCH_SETTINGS_${algorithm.toUpperCase()}`] ?? '{}') as Record<string, string>;

// ---- the table ---------------------------------------------------------------------------------

/** Effective multiply-adds per second, and post-processing milliseconds per head type. */
const LATENCY = {
  macsPerSecond: 3.5e12,
  overheadMs: { retinanet: 8, faster_rcnn: 10, cascade_rcnn: 12 } as Record<string, number>,
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
    if (a.head.kind === 'faster_rcnn') return ga ? 2.2 : 0;
    const cascade = ({ 2: 2.0, 3: 2.9, 4: 2.8 } as Record<number, number>)[a.head.stages] ?? 2.9;
    return cascade + (ga ? 1.5 : 0);
  },
  neck: (a: Architecture): number => {
    if (a.neck.kind === 'c4') return a.head.kind === 'retinanet' ? -6 : -1.8;
    // RetinaNet's standard pyramid starts at P3, the R-CNNs' at P2.
    const standardStart = a.head.kind === 'retinanet' ? 3 : 2;
    const start = ({ [-1]: -0.3, 0: 0, 1: -1.0, 2: -3.5, 3: -7 } as Record<number, number>)[a.neck.startLevel - standardStart] ?? -0.3;
    const end = ({ 6: 0, 5: -0.5, 4: -2.0, 3: -4.0, 2: -6.0 } as Record<number, number>)[a.neck.endLevel] ?? 0;
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

// ---- runs ------------------------------------------------------------------------------------------

async function runOurs(client: SuggestionClient, algorithm: AlgorithmName, seed: number, rows: Row[], byCanonical: Map<string, number>, searchspaceAddress: string): Promise<number[]> {
  const spec = searchSpec(algorithm, { settings: settingsOf(algorithm), structural: { populationSize: GENERATION, maxCandidates: BUDGET } });
  await client.validateSettings(spec);
  const history: controller.Candidate[] = [];
  const indices: number[] = [];
  for (let g = 0; indices.length < BUDGET; g++) {
    const { accepted, rejected } = await client.getSuggestions({
      spec, stage: 'structural', history, count: Math.min(GENERATION, BUDGET - indices.length), seed: seed * 1000 + g, searchspaceAddress,
    });
    if (rejected.length > 0) throw new Error(`${algorithm}: rejected suggestions: ${JSON.stringify(rejected)}`);
    if (accepted.length === 0) throw new Error(`${algorithm}: no suggestion`);
    for (const s of accepted) {
      const index = byCanonical.get(s.described.canonical);
      if (index === undefined) throw new Error(`${algorithm}: ${s.described.canonical} is not in the table`);
      const row = rows[index]!;
      indices.push(index);
      history.push(evaluatedCandidate(`c${history.length}`, common.SearchStage.SEARCH_STAGE_STRUCTURAL, s.described, { ap: row.ap, latencyMs: row.latencyMs }));
    }
  }
  return indices;
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
    for (const seed of seeds) results[algorithm].push(hv(await runOurs(client, algorithm, seed, rows, byCanonical, space.address)) / optimum);
    seconds[algorithm] = (Date.now() - t0) / 1000;
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
  for (const ours of ['evolution', 'nsga2']) {
    for (const peer of [label, 'random']) {
      const a = results[ours];
      const b = results[peer];
      if (!a || !b) continue;
      const name = peer === 'random' ? 'random' : 'optuna NSGA-II';
      console.log(`  ${`${ours} / ${name}:`.padEnd(28)} ${ratio(a, b).toFixed(3)} (${ours} higher on ${wins(a, b)}/${SEEDS} seeds)`);
    }
  }
  console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await main();
