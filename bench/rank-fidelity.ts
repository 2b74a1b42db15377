// Rank fidelity: does the demo's per-candidate training (services/trainer DEMO_FIDELITY) rank
// detectors like a 10x longer training? Trains each architecture below twice at the demo fidelity,
// once for the demo's step budget and once for RANK_FACTOR x that budget (two runs: the schedule
// anneals to 0 at its own budget, so the demo run's model is not a point on the long run's curve),
// scores both on the validation split, and prints the Spearman correlation between the AP at the
// demo budget and the AP at the long budget. Budgets are steps, so a shared lock is enough:
//
//   flock -s /tmp/sm-nas-cpu.lock pnpm exec tsx bench/rank-fidelity.ts
//
// Environment: RANK_FACTOR [10]; RANK_ARCHS (comma-separated indices into ARCHS, default all);
// RANK_OUT [$TMPDIR/sm-nas-rank-fidelity.json] results, kept between runs: runs already there with
// the same fidelity are not trained again (delete the file to start over); RANK_STEPS overrides the
// demo's steps (with RANK_FACTOR, to try other budgets), RANK_LR its learning rate, RANK_SCHEDULE
// its learning-rate schedule (cosine | constant).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCanonical, toCanonical } from '@sm-nas/arch';
import { DEMO_FIDELITY, runTrainJob } from '@sm-nas/trainer';

/** The demo space's families (sm-nas search): basic, bottleneck and inverted-residual backbones,
 * FPN levels and C4, one- and two-stage heads (RPN and guided anchoring, Faster and Cascade R-CNN),
 * widths; all at the demo's 512x512. */
const ARCHS = [
  'resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512',
  'resnet18:64:11-21-21-21/fpn:2-6:256/rpn/faster_rcnn:256/512x512',
  'mobilenet_v2:64:21-211-2111211-2112/fpn:3-6:256/none/retinanet:256/512x512',
  'resnet34:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256/512x512',
  'resnet18:64:11-21-21-21/c4/rpn/faster_rcnn:256/512x512',
  'mobilenet_v2:64:21-211-2111211-2112/fpn:2-6:128/rpn/faster_rcnn:128/512x512',
  'resnet18:48:11-21-21-21/fpn:3-6:128/none/retinanet:128/512x512',
  'resnet50:64:111-2111-211111-211/fpn:2-6:256/guided_anchoring/faster_rcnn:256/512x512',
];

const factor = Number(process.env.RANK_FACTOR ?? 10);
const demoSteps = Number(process.env.RANK_STEPS ?? DEMO_FIDELITY.maxSteps);
const longSteps = factor * demoSteps;
const picked = process.env.RANK_ARCHS ? process.env.RANK_ARCHS.split(',').map(Number) : ARCHS.map((_, i) => i);
const outPath = process.env.RANK_OUT ?? join(tmpdir(), 'sm-nas-rank-fidelity.json');
/** Points on the long run's curve (information only: that run anneals to its own budget). */
const curveSteps = [...new Set([demoSteps, 2 * demoSteps, 5 * demoSteps].map(Math.round))].filter((s) => s > 0 && s < longSteps);

interface Point { steps: number; trainSeconds: number; ap: number; ap50: number }
interface Run { budget: number; curve: Point[]; final: Point; secondsPerStep: number }
interface Row { arch: string; fidelityKey: string; demo: Run; long: Run }

const schedule = (process.env.RANK_SCHEDULE ?? DEMO_FIDELITY.lrSchedule) as 'cosine' | 'constant';
const fidelity = { ...DEMO_FIDELITY, learningRate: Number(process.env.RANK_LR ?? DEMO_FIDELITY.learningRate), maxSteps: demoSteps, lrSchedule: schedule };
const fidelityKey = JSON.stringify({ ...fidelity, longSteps });
const saved: Row[] = existsSync(outPath) ? (JSON.parse(readFileSync(outPath, 'utf8')) as Row[]) : [];
const rows = saved.filter((r) => r.fidelityKey === fidelityKey);

/** Spearman's rho with average ranks for ties (Pearson correlation of the ranks). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  const ranks = (v: readonly number[]): number[] => {
    const order = v.map((value, i) => ({ value, i })).sort((a, b) => a.value - b.value);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]!.value === order[i]!.value) j++;
      for (let k = i; k <= j; k++) r[order[k]!.i] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - mx) * (ry[i]! - my);
    sxx += (rx[i]! - mx) ** 2;
    syy += (ry[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

async function train(canonical: string, budget: number, evalAtSteps: readonly number[]): Promise<Run> {
  const f = fidelity;
  const curve: Point[] = [];
  for await (const e of runTrainJob({
    jobId: 'rank',
    arch: parseCanonical(canonical),
    dataset: f.dataset,
    init: 'scratch',
    batchSize: f.batchSize,
    learningRate: f.learningRate,
    weightDecay: f.weightDecay,
    lrSchedule: f.lrSchedule,
    seed: 0,
    evalEverySteps: 0,
    evalAtSteps,
    inputScale: f.inputScale,
    widthMultiplier: f.widthMultiplier,
    maxSteps: budget,
    maxSeconds: 0,
  })) {
    if (e.kind === 'progress' && e.validation) {
      curve.push({ steps: e.step, trainSeconds: e.trainSeconds, ap: e.validation.ap, ap50: e.validation.ap50 });
      console.log(`  ${budget}-step run, step ${e.step} (${e.trainSeconds.toFixed(0)}s): AP ${e.validation.ap.toFixed(4)} AP50 ${e.validation.ap50.toFixed(4)}  loss ${e.loss.toFixed(3)}`);
    } else if (e.kind === 'result') {
      if (e.status !== 'succeeded') throw new Error(`${canonical}: ${e.status}: ${e.failureReason}`);
      const final = { steps: e.steps, trainSeconds: e.trainSeconds, ap: e.metrics!.ap, ap50: e.metrics!.ap50 };
      console.log(`  ${budget}-step run, end (${e.trainSeconds.toFixed(0)}s): AP ${final.ap.toFixed(4)} AP50 ${final.ap50.toFixed(4)}`);
      return { budget, curve, final, secondsPerStep: e.trainSeconds / e.steps };
    }
  }
  throw new Error('no result');
}

async function main(): Promise<void> {
  console.log(`rank fidelity: demo ${demoSteps} steps vs ${longSteps} steps; fidelity ${JSON.stringify(fidelity)}`);
  for (const i of picked) {
    const canonical = toCanonical(parseCanonical(ARCHS[i]!));
    if (rows.some((r) => r.arch === canonical)) continue;
    console.log(`[${i}] ${canonical}`);
    const demo = await train(canonical, demoSteps, []);
    const long = await train(canonical, longSteps, curveSteps);
    rows.push({ arch: canonical, fidelityKey, demo, long });
    const others = saved.filter((r) => r.fidelityKey !== fidelityKey);
    writeFileSync(outPath, JSON.stringify([...others, ...rows], null, 1));
  }
  const f4 = (v: number | undefined) => v?.toFixed(4) ?? '-';
  console.log(`\n| architecture | s/step | AP@${demoSteps} | AP50@${demoSteps} | ${curveSteps.map((s) => `long run AP@${s}`).join(' | ')} | AP@${longSteps} | AP50@${longSteps} |`);
  console.log(`|---|---|---|---|${curveSteps.map(() => '---|').join('')}---|---|`);
  for (const r of rows) {
    console.log(`| ${r.arch} | ${r.demo.secondsPerStep.toFixed(3)} | ${f4(r.demo.final.ap)} | ${f4(r.demo.final.ap50)} | ` +
      `${curveSteps.map((s) => f4(r.long.curve.find((p) => p.steps === s)?.ap)).join(' | ')} | ${f4(r.long.final.ap)} | ${f4(r.long.final.ap50)} |`);
  }
  if (rows.length >= 2) {
    const rho = spearman(rows.map((r) => r.demo.final.ap), rows.map((r) => r.long.final.ap));
    const rho50 = spearman(rows.map((r) => r.demo.final.ap50), rows.map((r) => r.long.final.ap50));
    console.log(`\nSpearman over ${rows.length} architectures, demo (${demoSteps} steps) vs ${factor}x (${longSteps} steps): ` +
      `AP ${rho.toFixed(3)}, AP50 ${rho50.toFixed(3)} (goal >= 0.8)`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
