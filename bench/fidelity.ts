// Fidelity calibration: does a cheap proxy training rank detectors the way the task the user cares
// about does? Trains each architecture below at a reference fidelity (long, wide, at the
// architecture's own input size where the machine allows it) and at each candidate proxy, then
// reports, per proxy, Spearman's rho and Kendall's tau-b between its AP and the reference's, over
// all architectures and within each head family, what the proxy costs, and which proxy a search
// should use (the cheapest that ranks well enough and leaves no family's baseline near AP 0).
//
// Every run is kept in FIDELITY_CACHE as soon as it ends, keyed by architecture and fidelity, so the
// reference can be built over several invocations (or on another machine, with the file copied):
// what is there is not trained again. Budgets are steps, so AP does not depend on the load; the
// seconds do, and each run records the load average it saw.
//
//   flock -s /tmp/sm-nas-cpu.lock pnpm exec tsx bench/fidelity.ts
//
// Environment: FIDELITY_CACHE [bench/fidelity-runs.json]; FIDELITY_RUN (comma-separated fidelity
// names to train now; default every proxy, then the reference); FIDELITY_ARCHS (indices into ARCHS,
// default all); FIDELITY_REFERENCE [cpu]: `task` is the real task (the architecture's input size at
// full width; for a GPU backend, with SM_NAS_TFJS_BACKEND), `cpu` what 2 CPU cores can do (below).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseCanonical, toCanonical } from '@sm-nas/arch';
import { DEMO_FIDELITY, runTrainJob, type DemoFidelity } from '@sm-nas/trainer';
import { kendall, spearman } from '../services/profiler/src/stats.js';

/**
 * The calibration set: every head family of the demo's space (RetinaNet, FCOS, Faster and Cascade
 * R-CNN, at least three of each, so each family has its own ranking), RPN and guided anchoring, the
 * four demo backbones plus ResNeXt, widths and pyramid ranges; the hand-made baselines first.
 */
export const ARCHS = [
  'resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512',
  'resnet18:64:11-21-21-21/fpn:2-6:256/rpn/faster_rcnn:256/512x512',
  'resnet18:64:11-21-21-21/fpn:3-7:256:p5/none/fcos:256/512x512',
  'resnet34:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256/512x512',
  'mobilenet_v2:64:21-211-2111211-2112/fpn:3-6:128/none/retinanet:128/512x512',
  'mobilenet_v2:64:21-211-2111211-2112/fpn:2-6:128/rpn/faster_rcnn:128/512x512',
  'resnet50:64:111-2111-211111-211/fpn:2-6:256/guided_anchoring/faster_rcnn:256/512x512',
  'resnext50_32x4d:64:111-2111-211111-211/fpn:3-7:256:p5/none/fcos:256/512x512',
  'resnet18:48:11-21-21-21/fpn:3-6:128/none/retinanet:128/512x512',
  'resnet34:64:111-2111-211111-211/fpn:4-6:256/none/retinanet:256/512x512',
  'resnet18:64:11-21-21-21/fpn:2-5:256/rpn/cascade_rcnn.2:256/512x512',
  'mobilenet_v2:64:21-211-2111211-2112/fpn:3-7:128:p5/none/fcos:128/512x512',
  'mobilenet_v2:64:21-211-2111211-2112/fpn:2-6:128/guided_anchoring/cascade_rcnn.2:128/512x512',
];

/** What a run trains with (the demo fidelity's fields: one shape for proxies and references). */
type Setting = Omit<DemoFidelity, 'dataset'> & { dataset: DemoFidelity['dataset']; evalAtSteps: number[] };

const at = (steps: number, fractions: number[]) => fractions.map((f) => Math.round(f * steps));

/**
 * The proxies to compare: the demo's own (DEMO_FIDELITY: 300 steps or what fits in 30 s), equal
 * steps, equal seconds, and the 60-step proxy it replaced (lr 4e-3).
 */
const PROXIES: Record<string, Setting> = {
  demo: { ...DEMO_FIDELITY, evalAtSteps: [] },
  'steps-300': { ...DEMO_FIDELITY, maxSteps: 300, maxSeconds: 0, evalAtSteps: [100, 200] },
  'seconds-25': { ...DEMO_FIDELITY, maxSteps: 0, maxSeconds: 25, evalAtSteps: [] },
  'before-60-steps': { ...DEMO_FIDELITY, learningRate: 4e-3, maxSteps: 60, maxSeconds: 0, evalAtSteps: [] },
};

/** Steps of the references: long enough that AP has mostly stopped moving (the report shows its last quarter). */
const REFERENCE_STEPS = 1200;

/**
 * References. `task`: the architecture's own input size at full width (what the user deploys);
 * hours a run on 2 CPU cores, so for a GPU backend. `cpu`: what this machine can build in an
 * evening: the data's native 64 px (the built-in images are 64x64, resized to the input), twice the
 * proxy's width. Both REFERENCE_STEPS at lr 1e-3, cosine.
 */
const REFERENCES: Record<string, Setting> = {
  task: { ...DEMO_FIDELITY, inputScale: 1, widthMultiplier: 1, batchSize: 8, maxSteps: REFERENCE_STEPS, maxSeconds: 0, evalAtSteps: at(REFERENCE_STEPS, [0.25, 0.5, 0.75]) },
  cpu: { ...DEMO_FIDELITY, widthMultiplier: 2 * DEMO_FIDELITY.widthMultiplier, maxSteps: REFERENCE_STEPS, maxSeconds: 0, evalAtSteps: at(REFERENCE_STEPS, [0.25, 0.5, 0.75]) },
};

interface Point { steps: number; ap: number; ap50: number }
interface Run {
  arch: string;
  fidelity: string;
  /** The setting's JSON: a changed setting is a different run. */
  key: string;
  curve: Point[];
  final: Point;
  trainSeconds: number;
  loadBefore: number;
  loadAfter: number;
  date: string;
}

const cachePath = process.env.FIDELITY_CACHE ?? new URL('./fidelity-runs.json', import.meta.url).pathname;
const referenceName = process.env.FIDELITY_REFERENCE ?? 'cpu';
const reference = REFERENCES[referenceName];
if (!reference) throw new Error(`FIDELITY_REFERENCE: one of ${Object.keys(REFERENCES).join(', ')}`);
const settings: Record<string, Setting> = { ...PROXIES, [`reference-${referenceName}`]: reference };
const toRun = (process.env.FIDELITY_RUN ?? Object.keys(settings).join(',')).split(',');
for (const name of toRun) if (!settings[name]) throw new Error(`FIDELITY_RUN: unknown fidelity ${name}; known: ${Object.keys(settings).join(', ')}`);
const archIndices = process.env.FIDELITY_ARCHS ? process.env.FIDELITY_ARCHS.split(',').map(Number) : ARCHS.map((_, i) => i);
const runs: Run[] = existsSync(cachePath) ? (JSON.parse(readFileSync(cachePath, 'utf8')) as Run[]) : [];

const keyOf = (s: Setting) => JSON.stringify(s);
const find = (arch: string, name: string) => runs.find((r) => r.arch === arch && r.key === keyOf(settings[name]!));

async function train(arch: string, name: string): Promise<Run> {
  const s = settings[name]!;
  const curve: Point[] = [];
  const loadBefore = loadavg()[0]!;
  for await (const e of runTrainJob({
    jobId: `fidelity-${name}`,
    arch: parseCanonical(arch),
    dataset: s.dataset,
    init: 'scratch',
    batchSize: s.batchSize,
    learningRate: s.learningRate,
    weightDecay: s.weightDecay,
    lrSchedule: s.lrSchedule,
    seed: 0,
    evalEverySteps: 0,
    evalAtSteps: s.evalAtSteps,
    inputScale: s.inputScale,
    widthMultiplier: s.widthMultiplier,
    maxSteps: s.maxSteps,
    maxSeconds: s.maxSeconds,
  })) {
    if (e.kind === 'progress' && e.validation) {
      curve.push({ steps: e.step, ap: e.validation.ap, ap50: e.validation.ap50 });
      console.log(`    step ${e.step}: AP ${e.validation.ap.toFixed(4)} AP50 ${e.validation.ap50.toFixed(4)}`);
    } else if (e.kind === 'result') {
      if (e.status !== 'succeeded') throw new Error(`${arch} at ${name}: ${e.status}: ${e.failureReason}`);
      const final = { steps: e.steps, ap: e.metrics!.ap, ap50: e.metrics!.ap50 };
      return { arch, fidelity: name, key: keyOf(s), curve, final, trainSeconds: e.trainSeconds, loadBefore, loadAfter: loadavg()[0]!, date: new Date().toISOString() };
    }
  }
  throw new Error(`${arch} at ${name}: no result`);
}

const budgetOf = (s: Setting) => (s.maxSteps > 0 ? `${s.maxSteps} steps` : `${s.maxSeconds} s`);
const family = (arch: string) => parseCanonical(arch).head.kind;
const f3 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(3));
const f4 = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));

/** Rank agreement of a proxy with the reference, over the architectures both have. */
function agreement(name: string, refName: string, archs: string[]) {
  const pairs = archs.map((a) => [find(a, name), find(a, refName)] as const).filter((p): p is readonly [Run, Run] => !!p[0] && !!p[1]);
  const rho = (ps: (readonly [Run, Run])[]) => spearman(ps.map((p) => p[0].final.ap), ps.map((p) => p[1].final.ap));
  const tau = (ps: (readonly [Run, Run])[]) => kendall(ps.map((p) => p[0].final.ap), ps.map((p) => p[1].final.ap));
  const families = [...new Set(pairs.map((p) => family(p[0].arch)))].map((f) => {
    const ps = pairs.filter((p) => family(p[0].arch) === f);
    return { family: f, n: ps.length, rho: ps.length >= 3 ? rho(ps) : NaN, tau: ps.length >= 3 ? tau(ps) : NaN };
  });
  const seconds = pairs.reduce((s, p) => s + p[0].trainSeconds, 0);
  return { n: pairs.length, rho: rho(pairs), tau: tau(pairs), families, seconds };
}

function report(): void {
  const refName = `reference-${referenceName}`;
  const archs = archIndices.map((i) => toCanonical(parseCanonical(ARCHS[i]!)));
  const names = Object.keys(PROXIES);
  console.log(`\n| architecture | ${refName} AP (AP50) | ${names.map((n) => `${n} AP (AP50)`).join(' | ')} |`);
  console.log(`|---|---|${names.map(() => '---|').join('')}`);
  for (const a of archs) {
    const cell = (name: string) => {
      const r = find(a, name);
      return r ? `${f4(r.final.ap)} (${f4(r.final.ap50)})` : '-';
    };
    console.log(`| ${a} | ${cell(refName)} | ${names.map(cell).join(' | ')} |`);
  }
  // How settled the reference is: AP over its last quarter.
  const settled = archs.map((a) => find(a, refName)).filter((r): r is Run => !!r && r.curve.length > 0);
  if (settled.length > 0) {
    console.log(`\n${refName}, AP at 3/4 of its steps -> at the end:`);
    for (const r of settled) {
      const q = r.curve.find((p) => p.steps === Math.round(0.75 * settings[refName]!.maxSteps));
      console.log(`  ${r.arch}: ${f4(q?.ap)} -> ${f4(r.final.ap)}`);
    }
  }
  const FAMILIES = ['retinanet', 'fcos', 'faster_rcnn', 'cascade_rcnn'];
  console.log(`\n| proxy | budget | archs | Spearman | Kendall | ${FAMILIES.map((f) => `${f} rho (tau)`).join(' | ')} | train s per arch | min baseline AP50 |`);
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const baselines = archs.slice(0, 2).concat(archs.filter((a) => family(a) === 'fcos').slice(0, 1));
  const scored = names.map((name) => ({ name, g: agreement(name, refName, archs), minBaseline: Math.min(...baselines.map((a) => find(a, name)?.final.ap50 ?? NaN)) }));
  for (const { name, g, minBaseline } of scored) {
    const fam = (f: string) => {
      const x = g.families.find((y) => y.family === f);
      return x ? `${f3(x.rho)} (${f3(x.tau)}), n=${x.n}` : '-';
    };
    console.log(`| ${name} | ${budgetOf(settings[name]!)} | ${g.n} | ${f3(g.rho)} | ${f3(g.tau)} | ${FAMILIES.map(fam).join(' | ')} | ${g.n ? (g.seconds / g.n).toFixed(1) : '-'} | ${f3(minBaseline)} |`);
  }
  const ok = scored
    .filter(({ g, minBaseline }) => g.n === archs.length && g.rho >= 0.8 && g.families.every((f) => f.n < 3 || f.rho >= 0.6) && minBaseline > 0.1)
    .sort((x, y) => x.g.seconds - y.g.seconds);
  console.log(ok.length > 0
    ? `\nthe demo should use: ${ok[0]!.name} (cheapest with Spearman >= 0.8 overall, >= 0.6 within each family, every baseline above AP50 0.1)`
    : '\nno proxy meets Spearman >= 0.8 overall, >= 0.6 within each family and every baseline above AP50 0.1 (or the reference is not complete)');
}

async function main(): Promise<void> {
  console.log(`fidelity calibration: ${archIndices.length} architectures; reference ${referenceName}; runs kept in ${cachePath}`);
  for (const name of toRun) {
    for (const i of archIndices) {
      const arch = toCanonical(parseCanonical(ARCHS[i]!));
      if (find(arch, name)) continue;
      console.log(`[${name}] ${arch}`);
      const run = await train(arch, name);
      console.log(`  AP ${f4(run.final.ap)} AP50 ${f4(run.final.ap50)} in ${run.trainSeconds.toFixed(0)} s (load ${run.loadBefore.toFixed(1)} -> ${run.loadAfter.toFixed(1)})`);
      runs.push(run);
      writeFileSync(cachePath, JSON.stringify(runs, null, 1));
    }
  }
  report();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
