// A latency predictor per hardware class, learned from that class's own measurements in the spirit
// of nn-Meter (Zhang et al., MobiSys 2021): a detector's latency is the sum of its modules'
// (backbone, neck, rpn, head, post-processing), each predicted by
//   1. lookup: a module with exactly the same layers (same ops, shapes, batch) measured before
//      takes its measured mean time;
//   2. otherwise a least-squares fit for that module kind: ms ~ a * GMACs + b * M activation
//      elements + c (pooled over all module kinds while a kind has too few samples).
// Its quality is reported as Spearman's rho of leave-one-out predictions (each measurement predicted
// by the model fitted on all the others), so it is always a held-out number. A prediction is only
// ever returned as `latency_ms_predicted`; it never enters the cache of measurements.
import { createHash } from 'node:crypto';
import type { Architecture } from '@sm-nas/arch';
import { buildGraph } from '@sm-nas/arch/graph';
import { nodeMultiplyAdds } from '@sm-nas/flops';
import { DETECTION_CLASSES, moduleGroup } from './model.js';
import { spearman } from './stats.js';

export interface ModuleFeatures {
  /** Multiply-adds of one batch, in billions. */
  gmacs: number;
  /** Output elements of its layers for one batch, in millions (memory traffic). */
  melements: number;
  /** Exact identity of the module's layers and batch (the lookup key). */
  fingerprint: string;
}

export interface Sample {
  key: string;
  features: Map<string, ModuleFeatures>;
  /** Measured mean per module (ms). */
  modules: Map<string, number>;
  /** Measured p50 of the whole (ms): what the predictor is judged against. */
  latencyMs: number;
}

/** Features of each module of `arch` (detection form) at batch `batch`. */
export function moduleFeatures(arch: Architecture, batch: number): Map<string, ModuleFeatures> {
  const graph = buildGraph(arch, { form: 'detection', numClasses: DETECTION_CLASSES, norm: 'batch_norm' });
  const acc = new Map<string, { macs: number; elements: number; hash: ReturnType<typeof createHash> }>();
  for (const node of graph.nodes) {
    if (node.op === 'input') continue;
    const g = moduleGroup(node);
    let a = acc.get(g);
    if (!a) acc.set(g, (a = { macs: 0, elements: 0, hash: createHash('sha256').update(`b${batch}`) }));
    // Per-RoI layers run once per proposal.
    const times = node.perRoi ? graph.proposals : 1;
    a.macs += nodeMultiplyAdds(node) * times;
    a.elements += node.shape[0] * node.shape[1] * node.shape[2] * times;
    const { id: _id, path: _path, inputs, ...rest } = node;
    a.hash.update(JSON.stringify([rest, inputs.map((i) => node.id - i)]));
  }
  const out = new Map<string, ModuleFeatures>();
  for (const [g, a] of acc) out.set(g, { gmacs: (a.macs * batch) / 1e9, melements: (a.elements * batch) / 1e6, fingerprint: a.hash.digest('hex').slice(0, 24) });
  // Post-processing scales with the dense outputs it decodes (the head's output elements).
  const head = out.get('head');
  if (head) {
    const outputs = graph.outputs.filter((o) => o.role === 'head.cls').reduce((s, o) => s + graph.nodes[o.node]!.shape.reduce((p, d) => p * d, 1), 0);
    out.set('postprocess', { gmacs: 0, melements: (outputs * batch) / 1e6, fingerprint: `${head.fingerprint}/post` });
  }
  return out;
}

type Fit = [number, number, number];

/** Ridge-regularised least squares for y ~ a*x1 + b*x2 + c (3x3 normal equations). */
export function fitLinear(xs: readonly [number, number][], ys: readonly number[], ridge = 1e-6): Fit {
  const m = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]];
  for (let i = 0; i < xs.length; i++) {
    const row = [xs[i]![0], xs[i]![1], 1];
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) m[r]![c]! += row[r]! * row[c]!;
      m[r]![3]! += row[r]! * ys[i]!;
    }
  }
  for (let r = 0; r < 3; r++) m[r]![r]! += ridge * (1 + m[r]![r]!);
  for (let col = 0; col < 3; col++) {
    let pivot = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    const p = m[col]![col]!;
    if (Math.abs(p) < 1e-12) continue;
    for (let r = 0; r < 3; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / p;
      for (let c = col; c < 4; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  const solve = (r: number) => (Math.abs(m[r]![r]!) < 1e-12 ? 0 : m[r]![3]! / m[r]![r]!);
  return [solve(0), solve(1), solve(2)];
}

const apply = (fit: Fit, f: ModuleFeatures) => Math.max(0, fit[0] * f.gmacs + fit[1] * f.melements + fit[2]);

/** Fewer samples of a module kind than this, and its kind is predicted by the pooled fit. */
const MIN_SAMPLES_PER_KIND = 4;

export class LatencyModel {
  private readonly lookup = new Map<string, { sum: number; n: number }>();
  private readonly fits = new Map<string, Fit>();
  private readonly pooled: Fit;

  constructor(readonly samples: readonly Sample[]) {
    const byKind = new Map<string, { xs: [number, number][]; ys: number[] }>();
    const all = { xs: [] as [number, number][], ys: [] as number[] };
    for (const s of samples) {
      for (const [kind, ms] of s.modules) {
        const f = s.features.get(kind);
        if (!f) continue;
        const l = this.lookup.get(f.fingerprint) ?? { sum: 0, n: 0 };
        l.sum += ms;
        l.n++;
        this.lookup.set(f.fingerprint, l);
        let k = byKind.get(kind);
        if (!k) byKind.set(kind, (k = { xs: [], ys: [] }));
        k.xs.push([f.gmacs, f.melements]);
        k.ys.push(ms);
        all.xs.push([f.gmacs, f.melements]);
        all.ys.push(ms);
      }
    }
    this.pooled = fitLinear(all.xs, all.ys);
    for (const [kind, k] of byKind) if (k.ys.length >= MIN_SAMPLES_PER_KIND) this.fits.set(kind, fitLinear(k.xs, k.ys));
  }

  predict(features: Map<string, ModuleFeatures>): { totalMs: number; modules: { name: string; ms: number; lookedUp: boolean }[] } {
    const modules = [...features].map(([name, f]) => {
      const l = this.lookup.get(f.fingerprint);
      if (l) return { name, ms: l.sum / l.n, lookedUp: true };
      return { name, ms: apply(this.fits.get(name) ?? this.pooled, f), lookedUp: false };
    });
    return { totalMs: modules.reduce((s, m) => s + m.ms, 0), modules };
  }
}

/**
 * The fewest measurements (distinct architectures) a held-out Spearman is reported over. Below five,
 * not even a perfect ranking tells the predictor from chance: of the n! orderings of n latencies,
 * two give rho = +-1, so a chance perfect score has probability 2/n!, 1/12 at n = 4 (over the 5%
 * level, two-sided) and 1/60 at n = 5. With three, a rho of -0.5 or 1 was reported as if it meant
 * something.
 */
export const MIN_PREDICTOR_MEASUREMENTS = 5;

/** Spearman's rho of leave-one-out predictions against the measured p50s; NaN below MIN_PREDICTOR_MEASUREMENTS samples. */
export function heldOutSpearman(samples: readonly Sample[]): number {
  if (samples.length < MIN_PREDICTOR_MEASUREMENTS) return NaN;
  const predicted = samples.map((s, i) => new LatencyModel(samples.filter((_, j) => j !== i)).predict(s.features).totalMs);
  return spearman(predicted, samples.map((s) => s.latencyMs));
}
